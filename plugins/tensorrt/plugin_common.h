// What the V3 and the legacy plugin flavours share: reading kernel_size from plugin fields,
// type support, shape validation on TensorRT Dims, and the enqueue body.
#pragma once

#include <NvInferRuntime.h>

#include <cstdint>
#include <string>

namespace mgdn::trt {

// What TensorRT's ONNX parser looks the creator up by: the node's op_type, its plugin_version and
// plugin_namespace attributes (export/dynamic_filter_onnx.py: OP_TYPE, PLUGIN_VERSION, DOMAIN), and
// the INT attribute it passes as a field. Both flavours register exactly these.
inline constexpr char kPluginName[] = "DynamicFilter";
inline constexpr char kPluginVersion[] = "1";
inline constexpr char kPluginNamespace[] = "mgdn";
inline constexpr char kKernelSizeField[] = "kernel_size";

// Odd positive kernel_size from the creator's fields, or 0 after reporting why not.
int32_t read_kernel_size(nvinfer1::PluginFieldCollection const* fc) noexcept;

// FP32 and FP16 are the types the CUDA kernel has (LINEAR layout only).
bool is_supported_type(nvinfer1::DataType type) noexcept;

// Empty when feat/kernels fit kernel_size (dimensions of -1 skipped), else the reason. Allocates, so
// it may throw: call it inside guarded().
std::string check_shapes(nvinfer1::Dims const& feat, nvinfer1::Dims const& kernels, int32_t kernel_size);

// Validates the concrete shapes and launches the kernel; 0 on success, -1 after reporting.
int32_t enqueue_dynamic_filter(nvinfer1::PluginTensorDesc const& feat, nvinfer1::PluginTensorDesc const& kernels,
                               void const* feat_data, void const* kernels_data, void* out_data, int32_t kernel_size,
                               cudaStream_t stream, nvinfer1::IErrorRecorder* recorder) noexcept;

}  // namespace mgdn::trt
