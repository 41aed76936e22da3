// IEEE binary16 -> binary32 in plain C++ (no runtime's half type, no F16C): exact for every
// input, subnormals and infinities included, NaNs quieted (the results of F16C's vcvtph2ps).
// Shared by the CPU kernel's baseline loop and the TensorRT plugin's host test library.
#pragma once

#include <cstdint>
#include <cstring>

namespace mgdn {

inline float half_bits_to_float(uint16_t h) {
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

}  // namespace mgdn
