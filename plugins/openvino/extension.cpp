// Entry point of libmgdn_openvino.so: core.add_extension(path) registers the ops for IR models
// (DynamicFilter, DynamicFilterNHWC, WindowAttention) and maps the ONNX nodes of those names in
// the mgdn domain onto them. The DynamicFilter mapping reads only kernel_size, so the
// TensorRT-only attributes (plugin_namespace, plugin_version) are ignored.
#include <openvino/core/extension.hpp>
#include <openvino/core/op_extension.hpp>
#include <openvino/frontend/onnx/extension/op.hpp>

#include "dynamic_filter_op.hpp"
#include "window_attention_op.hpp"

OPENVINO_CREATE_EXTENSIONS(std::vector<ov::Extension::Ptr>({
    std::make_shared<ov::OpExtension<mgdn::DynamicFilter>>(),
    std::make_shared<ov::OpExtension<mgdn::DynamicFilterNHWC>>(),
    std::make_shared<ov::OpExtension<mgdn::WindowAttention>>(),
    std::make_shared<ov::frontend::onnx::OpExtension<mgdn::DynamicFilter>>("DynamicFilter", "mgdn"),
    std::make_shared<ov::frontend::onnx::OpExtension<mgdn::DynamicFilterNHWC>>("DynamicFilterNHWC", "mgdn"),
    std::make_shared<ov::frontend::onnx::OpExtension<mgdn::WindowAttention>>("WindowAttention", "mgdn"),
}));
