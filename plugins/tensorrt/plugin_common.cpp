#include "plugin_common.h"

#include <NvInferVersion.h>

#include <cstring>
#include <limits>

#include "dynamic_filter_kernel.h"
#include "dynamic_filter_shapes.h"
#include "plugin_logging.h"

namespace mgdn::trt {

int32_t read_kernel_size(nvinfer1::PluginFieldCollection const* fc) noexcept {
    return guarded(nullptr, "reading kernel_size", int32_t{0}, [&]() -> int32_t {
        using nvinfer1::PluginFieldType;
        for (int32_t i = 0; fc != nullptr && i < fc->nbFields; ++i) {
            nvinfer1::PluginField const& f = fc->fields[i];
            if (f.name == nullptr || std::strcmp(f.name, kKernelSizeField) != 0) continue;
            if (f.data == nullptr || f.length != 1) {
                log(nvinfer1::ILogger::Severity::kERROR, std::string("DynamicFilter: ") + kKernelSizeField +
                                                             " must hold one value, got " + std::to_string(f.length));
                return 0;
            }
            int64_t value = 0;
            if (f.type == PluginFieldType::kINT32) {
                value = *static_cast<int32_t const*>(f.data);
#if NV_TENSORRT_MAJOR >= 10
            } else if (f.type == PluginFieldType::kINT64) {  // what the ONNX parser of TensorRT 10+ may pass
                value = *static_cast<int64_t const*>(f.data);
#endif
            } else {
                log(nvinfer1::ILogger::Severity::kERROR,
                    std::string("DynamicFilter: ") + kKernelSizeField + " must be an INT32 or INT64 field, got type " +
                        std::to_string(static_cast<int32_t>(f.type)));
                return 0;
            }
            if (value < 1 || value % 2 == 0 || value > std::numeric_limits<int32_t>::max()) {
                log(nvinfer1::ILogger::Severity::kERROR, std::string("DynamicFilter: ") + kKernelSizeField +
                                                             " must be an odd positive INT, got " +
                                                             std::to_string(value));
                return 0;
            }
            return static_cast<int32_t>(value);
        }
        log(nvinfer1::ILogger::Severity::kERROR,
            std::string("DynamicFilter: the INT attribute ") + kKernelSizeField + " is missing");
        return 0;
    });
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
    return guarded(recorder, "enqueue", int32_t{-1}, [&]() -> int32_t {
        const std::string problem = check_shapes(feat.dims, kernels.dims, kernel_size);
        if (!problem.empty() || !is_supported_type(feat.type) || kernels.type != feat.type) {
            report_error(recorder, nvinfer1::ErrorCode::kINVALID_ARGUMENT,
                         problem.empty() ? "DynamicFilter: unsupported tensor types at enqueue" : problem);
            return -1;
        }
        const auto dim = [&](int axis) { return static_cast<int>(feat.dims.d[axis]); };
        const DfType type = feat.type == nvinfer1::DataType::kHALF ? DfType::kFloat16 : DfType::kFloat32;
        const cudaError_t status = launch_dynamic_filter(type, feat_data, kernels_data, out_data, dim(0), dim(1),
                                                         dim(2), dim(3), kernel_size, stream);
        if (status != cudaSuccess) {
#if defined(MGDN_TRT_HOST_KERNEL)
            const std::string why = "cudaError " + std::to_string(static_cast<int>(status));  // no cudart here
#else
            const std::string why = cudaGetErrorString(status);
#endif
            report_error(recorder, nvinfer1::ErrorCode::kFAILED_EXECUTION, "DynamicFilter: kernel launch failed: " + why);
            return -1;
        }
        return 0;
    });
}

}  // namespace mgdn::trt
