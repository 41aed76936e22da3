// Baseline build of the inner loop (no -m flags: SSE2 on x86-64, NEON on aarch64); the fallback
// for CPUs without AVX2/FMA/F16C and the only table on non-x86 targets.
#define MGDN_VEC_BYTES 16
#define MGDN_CHANNEL_BLOCK 4
#define MGDN_VECS 2
#include <cmath>
#include <cstring>

#include "dynamic_filter_simd.hpp"
#include "dynamic_filter_nhwc_simd.hpp"
#include "window_attention_simd.hpp"
#include "half_bits.h"

namespace {

using mgdn::half_bits_to_float;

// binary32 -> binary16 in plain C++ (no runtime's half type, no F16C), round to nearest even,
// subnormals, infinities and NaNs (quieted) included: the same results as F16C.
uint16_t float_to_half(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof(bits));
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
    if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520: infinity
    if (magnitude < 0x38800000u) {  // below 2^-14: a subnormal half (or zero); the scaling is exact
        float scaled;
        std::memcpy(&scaled, &magnitude, sizeof(scaled));
        return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(scaled * 16777216.0f)));
    }
    const uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u) - (112u << 23);
    return static_cast<uint16_t>(sign | (rounded >> 13));
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = half_bits_to_float(src[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = float_to_half(src[i]);
}

const mgdn::cpu::IsaKernels kTable{"generic", kStep, filter_row, f16_to_f32, f32_to_f16, nullptr, 0, attend_windows, filter_channels_last};

}  // namespace

const mgdn::cpu::IsaKernels& mgdn::cpu::isa_generic() { return kTable; }
