// Baseline build of the inner loop (no -m flags: SSE2 on x86-64, NEON on aarch64); the fallback
// for CPUs without AVX2/FMA/F16C and the only table on non-x86 targets.
#define MGDN_VEC_BYTES 16
#define MGDN_CHANNEL_BLOCK 4
#define MGDN_VECS 2
#include "dynamic_filter_simd.hpp"

#include <openvino/core/type/float16.hpp>

namespace {

void f16_to_f32(const uint16_t* src, float* dst, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<float>(ov::float16::from_bits(src[i]));
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = ov::float16(src[i]).to_bits();
}

const mgdn::cpu::IsaKernels kTable{"generic", kStep, filter_row, f16_to_f32, f32_to_f16, nullptr, 0};

}  // namespace

const mgdn::cpu::IsaKernels& mgdn::cpu::isa_generic() { return kTable; }
