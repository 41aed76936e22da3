// Baseline build of the inner loop (no -m flags: SSE2 on x86-64, NEON on aarch64); the fallback
// for CPUs without AVX2/FMA/F16C and the only table on non-x86 targets.
#define MGDN_VEC_BYTES 16
#define MGDN_CHANNEL_BLOCK 4
#define MGDN_VECS 2
#include <cmath>
#include <cstring>

#include "dynamic_filter_simd.hpp"

namespace {

// IEEE binary16 <-> binary32 in plain C++ (no runtime's half type, no F16C), round to nearest
// even, subnormals, infinities and NaNs (quieted) included: the same results as F16C.
float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exponent = (h >> 10) & 0x1fu;
    const uint32_t mantissa = h & 0x3ffu;
    uint32_t bits;
    if (exponent == 0) {
        const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;  // * 2^-24, exact
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31)
        bits = sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0u);
    else
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    float f;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
}

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
    for (int64_t i = 0; i < count; ++i) dst[i] = half_to_float(src[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = float_to_half(src[i]);
}

const mgdn::cpu::IsaKernels kTable{"generic", kStep, filter_row, f16_to_f32, f32_to_f16, nullptr, 0};

}  // namespace

const mgdn::cpu::IsaKernels& mgdn::cpu::isa_generic() { return kTable; }
