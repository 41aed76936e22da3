// The mgdn.DynamicFilter op as ONNX Runtime sees it: schema, shape inference and the kernel.
#pragma once

#include <onnxruntime_c_api.h>

namespace mgdn {
namespace ort {

// The op for one element type (float or float16; float16 is computed in f32 and rounded once).
// `api` is the table of the onnxruntime that registers it (API 21 or later); it must outlive
// the returned op, which is why ops are created once per process and never freed.
const OrtCustomOp* make_dynamic_filter_op(const OrtApi* api, ONNXTensorElementDataType type);

}  // namespace ort
}  // namespace mgdn
