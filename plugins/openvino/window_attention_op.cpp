#include "window_attention_op.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include "kernel_bridge.hpp"
#include "window_attention_cpu.hpp"

namespace mgdn {
namespace {

// An index vector (i64, or the i32 the CPU plugin makes of i64 tensors) as i64.
std::vector<int64_t> indices(const ov::Tensor& t) {
    const ov::Tensor d = dense(t);
    const size_t n = d.get_size();
    if (d.get_element_type() == ov::element::i64) {
        const int64_t* p = static_cast<const int64_t*>(d.data());
        return std::vector<int64_t>(p, p + n);
    }
    OPENVINO_ASSERT(d.get_element_type() == ov::element::i32, "WindowAttention: the window orders must be i64 or i32, got ",
                    d.get_element_type());
    const int32_t* p = static_cast<const int32_t*>(d.data());
    return std::vector<int64_t>(p, p + n);
}

}  // namespace

WindowAttention::WindowAttention(const ov::OutputVector& inputs, float scale) : Op(inputs), m_scale(scale) {
    constructor_validate_and_infer_types();
}

void WindowAttention::validate_and_infer_types() {
    const size_t count = get_input_size();
    NODE_VALIDATION_CHECK(this, count >= 4 && count <= 7,
                          "WindowAttention: expected 4 to 7 inputs (q, k, v, bias[, mask][, to_windows, from_windows]),"
                          " got ",
                          count);
    ov::element::Type type = get_input_element_type(0);
    ov::PartialShape shape = get_input_partial_shape(0);
    for (size_t i = 1; i < 3; ++i) {
        NODE_VALIDATION_CHECK(this, ov::element::Type::merge(type, type, get_input_element_type(i)),
                              "WindowAttention: q, k and v must have one element type");
        NODE_VALIDATION_CHECK(this, ov::PartialShape::merge_into(shape, get_input_partial_shape(i)),
                              "WindowAttention: q, k and v must have one shape, got ", get_input_partial_shape(0),
                              ", ", get_input_partial_shape(1), ", ", get_input_partial_shape(2));
    }
    NODE_VALIDATION_CHECK(this, type.is_dynamic() || is_kernel_type(type),
                          "WindowAttention: q, k and v must be f32, f16 or bf16, got ", type);
    const ov::element::Type terms = get_input_element_type(3);
    NODE_VALIDATION_CHECK(this, terms.is_dynamic() || is_kernel_type(terms),
                          "WindowAttention: bias must be f32, f16 or bf16, got ", terms);
    if (count % 2 == 1)
        NODE_VALIDATION_CHECK(this, get_input_element_type(4) == terms,
                              "WindowAttention: mask and bias must have one element type");
    for (size_t i = count - (count >= 6 ? 2 : 0); i < count; ++i) {
        const ov::element::Type order = get_input_element_type(i);
        NODE_VALIDATION_CHECK(this, order.is_dynamic() || order == ov::element::i64 || order == ov::element::i32,
                              "WindowAttention: the window orders must be i64 or i32, got ", order);
    }
    set_output_type(0, type, shape);
}

std::shared_ptr<ov::Node> WindowAttention::clone_with_new_inputs(const ov::OutputVector& new_args) const {
    return std::make_shared<WindowAttention>(new_args, m_scale);
}

bool WindowAttention::visit_attributes(ov::AttributeVisitor& visitor) {
    visitor.on_attribute("scale", m_scale);
    return true;
}

bool WindowAttention::has_evaluate() const {
    return is_kernel_type(get_input_element_type(0)) && is_kernel_type(get_input_element_type(3));
}

bool WindowAttention::evaluate(ov::TensorVector& outputs, const ov::TensorVector& inputs) const {
    const ov::element::Type type = inputs.at(0).get_element_type();
    const ov::element::Type terms = inputs.at(3).get_element_type();
    if (!is_kernel_type(type) || !is_kernel_type(terms)) return false;
    const ov::Shape& shape = inputs.at(0).get_shape();
    const ov::Shape& bias_shape = inputs.at(3).get_shape();
    const size_t rank = bias_shape.size();
    OPENVINO_ASSERT(!shape.empty() && (rank == 3 || (rank == 4 && bias_shape[0] == 1)) &&
                        bias_shape[rank - 1] == bias_shape[rank - 2],
                    "WindowAttention: bias must be [heads, tokens, tokens], got ", bias_shape, " for q ", shape);
    for (size_t i = 1; i < 3; ++i)
        OPENVINO_ASSERT(inputs.at(i).get_shape() == shape && inputs.at(i).get_element_type() == type,
                        "WindowAttention: q, k and v differ at run time");
    cpu::AttentionShape s{0, static_cast<int>(bias_shape[rank - 1]), static_cast<int>(shape.back()),
                          static_cast<int>(bias_shape[rank - 3]), 0, 0};
    const size_t rows = ov::shape_size(shape) / shape.back();
    OPENVINO_ASSERT(rows % static_cast<size_t>(s.tokens) == 0, "WindowAttention: ", rows,
                    " tokens do not fill whole windows of ", s.tokens);
    s.windows = static_cast<int64_t>(rows / static_cast<size_t>(s.tokens));
    const bool has_mask = inputs.size() % 2 == 1, has_orders = inputs.size() >= 6;
    const void* mask = nullptr;
    ov::Tensor mask_dense;
    if (has_mask) {
        const ov::Shape& ms = inputs.at(4).get_shape();
        OPENVINO_ASSERT(ms.size() == 3 && ms[1] == static_cast<size_t>(s.tokens) && ms[2] == ms[1] &&
                            inputs.at(4).get_element_type() == terms,
                        "WindowAttention: mask must be [windows, ", s.tokens, ", ", s.tokens, "] of bias's type, got ",
                        ms);
        s.mask_windows = static_cast<int64_t>(ms[0]);
        mask_dense = dense(inputs.at(4));
        mask = mask_dense.data();
    }
    std::vector<int64_t> to_windows, from_windows;
    if (has_orders) {
        const ov::Tensor& to = inputs.at(inputs.size() - 2);
        const ov::Tensor& from = inputs.at(inputs.size() - 1);
        OPENVINO_ASSERT(to.get_shape().size() == 1 && to.get_shape() == from.get_shape(),
                        "WindowAttention: the window orders must be two vectors of one length, got ", to.get_shape(),
                        " and ", from.get_shape());
        to_windows = indices(to);
        from_windows = indices(from);
        s.image_tokens = static_cast<int64_t>(to_windows.size());
    }
    const std::string error = cpu::attention_shape_error(s);
    OPENVINO_ASSERT(error.empty(), "WindowAttention: ", error, " (q ", shape, ", bias ", bias_shape, ")");

    const ov::Tensor q = dense(inputs.at(0)), k = dense(inputs.at(1)), v = dense(inputs.at(2));
    const ov::Tensor bias = dense(inputs.at(3));
    OpenVinoThreads threads;
    try {
        write_dense(outputs.at(0), type, shape, [&](void* result) {
            cpu::window_attention(q.data(), k.data(), v.data(), bias.data(), mask,
                                  has_orders ? to_windows.data() : nullptr,
                                  has_orders ? from_windows.data() : nullptr, result, kernel_dtype(type),
                                  kernel_dtype(terms), m_scale, s, threads);
        });
    } catch (const std::invalid_argument& e) {
        OPENVINO_THROW(e.what());
    }
    return true;
}

}  // namespace mgdn
