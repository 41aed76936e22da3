// mgdn::DynamicFilter as an OpenVINO operation (type "DynamicFilter", opset "mgdn").
//
//   feat [N,C,H,W], kernels [N,k*k,H,W] -> out [N,C,H,W]
//   out[n,c,y,x] = sum_{i,j<k} kernels[n,i*k+j,y,x] * feat[n,c,clamp(y+i-r),clamp(x+j-r)]
//
// The CPU plugin runs it through evaluate() (f32, f16, bf16); the arithmetic is f32 either way.
#pragma once

#include <openvino/op/op.hpp>

namespace mgdn {

class DynamicFilter : public ov::op::Op {
public:
    OPENVINO_OP("DynamicFilter", "mgdn");

    DynamicFilter() = default;
    DynamicFilter(const ov::Output<ov::Node>& feat, const ov::Output<ov::Node>& kernels, int64_t kernel_size);

    void validate_and_infer_types() override;
    std::shared_ptr<ov::Node> clone_with_new_inputs(const ov::OutputVector& new_args) const override;
    bool visit_attributes(ov::AttributeVisitor& visitor) override;
    bool evaluate(ov::TensorVector& outputs, const ov::TensorVector& inputs) const override;
    bool has_evaluate() const override;

    int64_t get_kernel_size() const { return m_kernel_size; }

private:
    int64_t m_kernel_size = 7;
};

// mgdn::DynamicFilterNHWC: the same filter on channels-last tensors (type "DynamicFilterNHWC").
//
//   feat [N,H,W,C], kernels [N,H,W,k*k] -> out [N,H,W,C]
//
// OpenVINO's CPU plugin keeps convolution outputs channels-last (NHWC in memory) and hands an
// extension op planar tensors, so DynamicFilter costs a layout reorder per input and output.
// Between Transposes to and from NHWC this op reads and writes its neighbours' memory as it is:
// the plugin merges each Transpose with the layout change it cancels (runtimes/openvino/
// channels_last_filter.py puts it into the graph when OpenVINO reads model.onnx).
class DynamicFilterNHWC : public ov::op::Op {
public:
    OPENVINO_OP("DynamicFilterNHWC", "mgdn");

    DynamicFilterNHWC() = default;
    DynamicFilterNHWC(const ov::Output<ov::Node>& feat, const ov::Output<ov::Node>& kernels, int64_t kernel_size);

    void validate_and_infer_types() override;
    std::shared_ptr<ov::Node> clone_with_new_inputs(const ov::OutputVector& new_args) const override;
    bool visit_attributes(ov::AttributeVisitor& visitor) override;
    bool evaluate(ov::TensorVector& outputs, const ov::TensorVector& inputs) const override;
    bool has_evaluate() const override;

private:
    int64_t m_kernel_size = 7;
};

}  // namespace mgdn
