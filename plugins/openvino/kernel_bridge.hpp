// What the extension's ops share to hand tensors to the shared CPU kernels (../common): the
// element types those take, dense copies of strided tensors, and OpenVINO's thread pool.
#pragma once

#include <functional>

#include <openvino/core/parallel.hpp>
#include <openvino/runtime/tensor.hpp>

#include "dynamic_filter_cpu.hpp"

namespace mgdn {

// The kernels' threads: OpenVINO's own pool (TBB or OpenMP, whatever this OpenVINO was built
// with), so an op shares the cores the CPU plugin schedules instead of competing with it.
class OpenVinoThreads final : public cpu::ThreadTeam {
public:
    int max_threads() const override { return parallel_get_max_threads(); }
    void run(int nthr, const std::function<void(int, int)>& fn) override { ov::parallel_nt(nthr, fn); }
};

// The float element types the kernels compute from (in f32 arithmetic).
inline bool is_kernel_type(const ov::element::Type& type) {
    return type == ov::element::f32 || type == ov::element::f16 || type == ov::element::bf16;
}

// The kernels' name of a type that is_kernel_type accepts.
inline cpu::DType kernel_dtype(const ov::element::Type& type) {
    return type == ov::element::f32 ? cpu::DType::f32 : type == ov::element::f16 ? cpu::DType::f16 : cpu::DType::bf16;
}

// `t`, or a dense copy of it when the CPU plugin hands over a strided view (in-place split /
// concat buffers of static-shape graphs): the kernels read dense row-major memory.
inline ov::Tensor dense(const ov::Tensor& t) {
    if (t.is_continuous()) return t;
    ov::Tensor copy(t.get_element_type(), t.get_shape());
    t.copy_to(copy);
    return copy;
}

// Sizes `out` to `shape` and has `fill(data)` write it through dense row-major memory: `out`'s
// own when it is dense, else a dense tensor copied into `out` afterwards.
template <class Fill>
void write_dense(ov::Tensor& out, const ov::element::Type& type, const ov::Shape& shape, Fill fill) {
    out.set_shape(shape);
    if (out.is_continuous()) {
        fill(out.data());
        return;
    }
    ov::Tensor result(type, shape);
    fill(result.data());
    result.copy_to(out);
}

}  // namespace mgdn
