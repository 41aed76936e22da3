#include "dynamic_filter_op.hpp"

#include <string>

#include "dynamic_filter_cpu.hpp"
#include "kernel_bridge.hpp"

namespace mgdn {
namespace {

// Merge one dimension of feat and kernels into `merged`, failing with the axis name on mismatch.
void merge_dim(const ov::Node* node, ov::Dimension& merged, const ov::Dimension& feat, const ov::Dimension& kern,
               const char* axis) {
    NODE_VALIDATION_CHECK(node, ov::Dimension::merge(merged, feat, kern), "DynamicFilter: feat and kernels differ in ",
                          axis, " (feat ", feat, ", kernels ", kern, ")");
}

}  // namespace

DynamicFilter::DynamicFilter(const ov::Output<ov::Node>& feat, const ov::Output<ov::Node>& kernels,
                             int64_t kernel_size)
    : Op({feat, kernels}), m_kernel_size(kernel_size) {
    constructor_validate_and_infer_types();
}

void DynamicFilter::validate_and_infer_types() {
    NODE_VALIDATION_CHECK(this, get_input_size() == 2, "DynamicFilter: expected 2 inputs (feat, kernels), got ",
                          get_input_size());
    NODE_VALIDATION_CHECK(this, m_kernel_size > 0 && m_kernel_size % 2 == 1,
                          "DynamicFilter: kernel_size must be odd and positive, got ", m_kernel_size);

    ov::element::Type type;
    NODE_VALIDATION_CHECK(this, ov::element::Type::merge(type, get_input_element_type(0), get_input_element_type(1)),
                          "DynamicFilter: feat (", get_input_element_type(0), ") and kernels (",
                          get_input_element_type(1), ") must have the same element type");
    NODE_VALIDATION_CHECK(this, type.is_dynamic() || type.is_real(),
                          "DynamicFilter: inputs must be floating point, got ", type);

    const ov::PartialShape& feat = get_input_partial_shape(0);
    const ov::PartialShape& kern = get_input_partial_shape(1);
    NODE_VALIDATION_CHECK(this, feat.rank().compatible(4), "DynamicFilter: feat must be 4-D [N,C,H,W], got ", feat);
    NODE_VALIDATION_CHECK(this, kern.rank().compatible(4), "DynamicFilter: kernels must be 4-D [N,k*k,H,W], got ",
                          kern);
    ov::PartialShape out = ov::PartialShape::dynamic(4);
    if (feat.rank().is_static()) out = feat;
    if (kern.rank().is_static()) {
        const int64_t taps = m_kernel_size * m_kernel_size;
        NODE_VALIDATION_CHECK(this, kern[1].compatible(taps), "DynamicFilter: kernels have ", kern[1],
                              " channels, expected kernel_size^2 = ", taps, " (kernel_size ", m_kernel_size, ")");
        if (feat.rank().is_static()) {
            merge_dim(this, out[0], feat[0], kern[0], "N");
            merge_dim(this, out[2], feat[2], kern[2], "H");
            merge_dim(this, out[3], feat[3], kern[3], "W");
        } else {
            out[0] = kern[0];
            out[2] = kern[2];
            out[3] = kern[3];
        }
    }
    set_output_type(0, type, out);
}

std::shared_ptr<ov::Node> DynamicFilter::clone_with_new_inputs(const ov::OutputVector& new_args) const {
    OPENVINO_ASSERT(new_args.size() == 2, "DynamicFilter: expected 2 inputs, got ", new_args.size());
    return std::make_shared<DynamicFilter>(new_args.at(0), new_args.at(1), m_kernel_size);
}

bool DynamicFilter::visit_attributes(ov::AttributeVisitor& visitor) {
    visitor.on_attribute("kernel_size", m_kernel_size);
    return true;
}

bool DynamicFilter::has_evaluate() const { return is_kernel_type(get_input_element_type(0)); }

bool DynamicFilter::evaluate(ov::TensorVector& outputs, const ov::TensorVector& inputs) const {
    const ov::Tensor& feat = inputs.at(0);
    const ov::Tensor& kernels = inputs.at(1);
    const ov::element::Type type = feat.get_element_type();
    if (!is_kernel_type(type) || kernels.get_element_type() != type) return false;
    const ov::Shape& fs = feat.get_shape();
    const ov::Shape& ks = kernels.get_shape();
    const size_t taps = static_cast<size_t>(m_kernel_size * m_kernel_size);
    OPENVINO_ASSERT(fs.size() == 4 && ks.size() == 4 && ks[0] == fs[0] && ks[1] == taps && ks[2] == fs[2] &&
                        ks[3] == fs[3],
                    "DynamicFilter: runtime shapes feat ", fs, " and kernels ", ks, " do not fit kernel_size ",
                    m_kernel_size);

    const cpu::FilterShape shape{static_cast<int64_t>(fs[0]), static_cast<int64_t>(fs[1]),
                                 static_cast<int64_t>(fs[2]), static_cast<int64_t>(fs[3]),
                                 static_cast<int>(m_kernel_size)};
    // The kernel reads and writes dense row-major memory; the CPU plugin may hand over strided
    // views (in-place split / concat buffers of static-shape graphs).
    const ov::Tensor dense_feat = dense(feat), dense_kernels = dense(kernels);
    OpenVinoThreads threads;
    write_dense(outputs.at(0), type, fs, [&](void* result) {
        cpu::dynamic_filter(dense_feat.data(), dense_kernels.data(), result, kernel_dtype(type), shape, threads);
    });
    return true;
}

DynamicFilterNHWC::DynamicFilterNHWC(const ov::Output<ov::Node>& feat, const ov::Output<ov::Node>& kernels,
                                     int64_t kernel_size)
    : Op({feat, kernels}), m_kernel_size(kernel_size) {
    constructor_validate_and_infer_types();
}

void DynamicFilterNHWC::validate_and_infer_types() {
    NODE_VALIDATION_CHECK(this, get_input_size() == 2, "DynamicFilterNHWC: expected 2 inputs (feat, kernels), got ",
                          get_input_size());
    NODE_VALIDATION_CHECK(this, m_kernel_size > 0 && m_kernel_size % 2 == 1 && m_kernel_size <= cpu::kMaxChannelsLastKsize,
                          "DynamicFilterNHWC: kernel_size must be odd and in [1, ", cpu::kMaxChannelsLastKsize,
                          "], got ", m_kernel_size);
    ov::element::Type type;
    NODE_VALIDATION_CHECK(this, ov::element::Type::merge(type, get_input_element_type(0), get_input_element_type(1)),
                          "DynamicFilterNHWC: feat (", get_input_element_type(0), ") and kernels (",
                          get_input_element_type(1), ") must have the same element type");
    NODE_VALIDATION_CHECK(this, type.is_dynamic() || is_kernel_type(type),
                          "DynamicFilterNHWC: inputs must be f32, f16 or bf16, got ", type);
    const ov::PartialShape& feat = get_input_partial_shape(0);
    const ov::PartialShape& kern = get_input_partial_shape(1);
    NODE_VALIDATION_CHECK(this, feat.rank().compatible(4), "DynamicFilterNHWC: feat must be 4-D [N,H,W,C], got ", feat);
    NODE_VALIDATION_CHECK(this, kern.rank().compatible(4), "DynamicFilterNHWC: kernels must be 4-D [N,H,W,k*k], got ",
                          kern);
    ov::PartialShape out = feat.rank().is_static() ? feat : ov::PartialShape::dynamic(4);
    if (kern.rank().is_static()) {
        const int64_t taps = m_kernel_size * m_kernel_size;
        NODE_VALIDATION_CHECK(this, kern[3].compatible(taps), "DynamicFilterNHWC: kernels have ", kern[3],
                              " taps, expected kernel_size^2 = ", taps);
        if (feat.rank().is_static()) {
            merge_dim(this, out[0], feat[0], kern[0], "N");
            merge_dim(this, out[1], feat[1], kern[1], "H");
            merge_dim(this, out[2], feat[2], kern[2], "W");
        }
    }
    set_output_type(0, type, out);
}

std::shared_ptr<ov::Node> DynamicFilterNHWC::clone_with_new_inputs(const ov::OutputVector& new_args) const {
    OPENVINO_ASSERT(new_args.size() == 2, "DynamicFilterNHWC: expected 2 inputs, got ", new_args.size());
    return std::make_shared<DynamicFilterNHWC>(new_args.at(0), new_args.at(1), m_kernel_size);
}

bool DynamicFilterNHWC::visit_attributes(ov::AttributeVisitor& visitor) {
    visitor.on_attribute("kernel_size", m_kernel_size);
    return true;
}

bool DynamicFilterNHWC::has_evaluate() const { return is_kernel_type(get_input_element_type(0)); }

bool DynamicFilterNHWC::evaluate(ov::TensorVector& outputs, const ov::TensorVector& inputs) const {
    const ov::element::Type type = inputs.at(0).get_element_type();
    if (!is_kernel_type(type) || inputs.at(1).get_element_type() != type) return false;
    const ov::Shape& fs = inputs.at(0).get_shape();
    const ov::Shape& ks = inputs.at(1).get_shape();
    OPENVINO_ASSERT(fs.size() == 4 && ks.size() == 4 && ks[0] == fs[0] && ks[1] == fs[1] && ks[2] == fs[2] &&
                        ks[3] == static_cast<size_t>(m_kernel_size * m_kernel_size),
                    "DynamicFilterNHWC: runtime shapes feat ", fs, " and kernels ", ks, " do not fit kernel_size ",
                    m_kernel_size);
    const cpu::FilterShape shape{static_cast<int64_t>(fs[0]), static_cast<int64_t>(fs[3]),
                                 static_cast<int64_t>(fs[1]), static_cast<int64_t>(fs[2]),
                                 static_cast<int>(m_kernel_size)};
    const std::string error = cpu::channels_last_shape_error(shape);
    OPENVINO_ASSERT(error.empty(), "DynamicFilterNHWC: ", error, " (feat ", fs, ")");
    const ov::Tensor feat = dense(inputs.at(0)), kernels = dense(inputs.at(1));
    OpenVinoThreads threads;
    write_dense(outputs.at(0), type, fs, [&](void* result) {
        cpu::dynamic_filter_channels_last(feat.data(), kernels.data(), result, kernel_dtype(type), shape, threads);
    });
    return true;
}

}  // namespace mgdn
