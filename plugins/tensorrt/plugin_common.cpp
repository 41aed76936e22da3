#include "plugin_common.h"

#include <NvInferVersion.h>

#include <cstring>
#include <limits>

#include "dynamic_filter_kernel.h"
#include "dynamic_filter_shapes.h"
#include "plugin_logging.h"

namespace mgdn::trt {

int32_t read_kernel_size(nvinfer1::PluginFieldCollection const* fc) noexcept {
    using nvinfer1::PluginFieldType;
    for (int32_t i = 0; fc != nullptr && i < fc->nbFields; ++i) {
        nvinfer1::PluginField const& f = fc->fields[i];
        if (f.name == nullptr || std::strcmp(f.name, "kernel_size") != 0 || f.data == nullptr || f.length < 1) continue;
        int64_t value = -1;
        if (f.type == PluginFieldType::kINT32) value = *static_cast<int32_t const*>(f.data);
#if NV_TENSORRT_MAJOR >= 10
        if (f.type == PluginFieldType::kINT64) value = *static_cast<int64_t const*>(f.data);
#endif
        if (value < 1 || value % 2 == 0 || value > std::numeric_limits<int32_t>::max()) {
            log(nvinfer1::ILogger::Severity::kERROR,
                "DynamicFilter: kernel_size must be an odd positive INT, got " + std::to_string(value));
            return 0;
        }
        return static_cast<int32_t>(value);
    }
    log(nvinfer1::ILogger::Severity::kERROR, "DynamicFilter: the INT attribute kernel_size is missing");
    return 0;
}

bool is_supported_type(nvinfer1::DataType type) noexcept {
    return type == nvinfer1::DataType::kFLOAT || type == nvinfer1::DataType::kHALF;
}

std::string check_shapes(nvinfer1::Dims const& feat, nvinfer1::Dims const& kernels, int32_t kernel_size) {
    return check_io_shapes(feat.d, feat.nbDims, kernels.d, kernels.nbDims, kernel_size);
}

int32_t enqueue_dynamic_filter(nvinfer1::PluginTensorDesc const& feat, nvinfer1::PluginTensorDesc const& kernels,
                               void const* feat_data, void const* kernels_data, void* out_data, int32_t kernel_size,
                               cudaStream_t stream, nvinfer1::IErrorRecorder* recorder) noexcept {
    const std::string problem = check_shapes(feat.dims, kernels.dims, kernel_size);
    if (!problem.empty() || !is_supported_type(feat.type) || kernels.type != feat.type) {
        report_error(recorder, nvinfer1::ErrorCode::kINVALID_ARGUMENT,
                     problem.empty() ? "DynamicFilter: unsupported tensor types at enqueue" : problem);
        return -1;
    }
    const auto dim = [&](int axis) { return static_cast<int>(feat.dims.d[axis]); };
    const DfType type = feat.type == nvinfer1::DataType::kHALF ? DfType::kFloat16 : DfType::kFloat32;
    const cudaError_t status = launch_dynamic_filter(type, feat_data, kernels_data, out_data, dim(0), dim(1), dim(2),
                                                     dim(3), kernel_size, stream);
    if (status != cudaSuccess) {
        report_error(recorder, nvinfer1::ErrorCode::kFAILED_EXECUTION,
                     std::string("DynamicFilter: kernel launch failed: ") + cudaGetErrorString(status));
        return -1;
    }
    return 0;
}

}  // namespace mgdn::trt
