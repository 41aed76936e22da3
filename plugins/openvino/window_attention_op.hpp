// mgdn::WindowAttention as an OpenVINO operation (type "WindowAttention", opset "mgdn"): the
// attention of MGDN's transformer blocks in one node (window_attention_cpu.hpp has the
// arithmetic). OpenVINO reads it from IRs; runtimes/openvino/window_attention.py puts it into
// the graph in place of the standard-op attention that model.onnx carries.
//
//   q, k, v [windows * tokens, channels] (any rank, last axis channels; one shape, one float type)
//   bias [heads, tokens, tokens] (a leading axis of 1 allowed), float
//   mask [mask_windows, tokens, tokens], optional, of bias's type
//   to_windows, from_windows [image_tokens] i64 or i32, optional (inputs 4-5, or 5-6 after a mask): q, k
//     and v rows are then in image order, [images * image_tokens, channels], and to_windows lists
//     an image's rows in window order (from_windows is its inverse); the output keeps that order
//   -> out, q's shape and type.         attribute: scale (float, multiplies q)
#pragma once

#include <openvino/op/op.hpp>

namespace mgdn {

class WindowAttention : public ov::op::Op {
public:
    OPENVINO_OP("WindowAttention", "mgdn");

    WindowAttention() = default;
    WindowAttention(const ov::OutputVector& inputs, float scale);

    void validate_and_infer_types() override;
    std::shared_ptr<ov::Node> clone_with_new_inputs(const ov::OutputVector& new_args) const override;
    bool visit_attributes(ov::AttributeVisitor& visitor) override;
    bool evaluate(ov::TensorVector& outputs, const ov::TensorVector& inputs) const override;
    bool has_evaluate() const override;

private:
    float m_scale = 1.0f;
};

}  // namespace mgdn
