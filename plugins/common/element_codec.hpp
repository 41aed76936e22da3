// Element-type conversion between a tensor (f32, f16 or bf16) and the f32 working buffers of
// the shared CPU kernels. Included by the portable driver files only (never by an ISA file): it
// has internal linkage, so every driver gets its own copy.
#pragma once

#include <cstdint>
#include <cstring>

#include "dynamic_filter_cpu.hpp"
#include "dynamic_filter_isa.hpp"

namespace mgdn {
namespace cpu {
namespace {

// The lane kernels' name of a tensor element type.
inline RowElement row_element(DType t) {
    return t == DType::f32 ? RowElement::f32 : t == DType::f16 ? RowElement::f16 : RowElement::bf16;
}

// Converts between the tensor's element type and the f32 working buffers.
struct Codec {
    DType dtype;
    const IsaKernels* isa;

    size_t bytes() const { return dtype == DType::f32 ? 4 : 2; }

    void to_f32(const void* src, int64_t offset, float* dst, int64_t count) const {
        switch (dtype) {
        case DType::f32:
            std::memcpy(dst, static_cast<const float*>(src) + offset, count * sizeof(float));
            break;
        case DType::f16:
            isa->f16_to_f32(static_cast<const uint16_t*>(src) + offset, dst, count);
            break;
        case DType::bf16: {
            const uint16_t* s = static_cast<const uint16_t*>(src) + offset;
            for (int64_t i = 0; i < count; ++i) {
                const uint32_t bits = static_cast<uint32_t>(s[i]) << 16;
                std::memcpy(dst + i, &bits, sizeof(bits));
            }
            break;
        }
        }
    }

    void from_f32(const float* src, void* dst, int64_t offset, int64_t count) const {
        switch (dtype) {
        case DType::f32:
            std::memcpy(static_cast<float*>(dst) + offset, src, count * sizeof(float));
            break;
        case DType::f16:
            isa->f32_to_f16(src, static_cast<uint16_t*>(dst) + offset, count);
            break;
        case DType::bf16: {
            uint16_t* d = static_cast<uint16_t*>(dst) + offset;
            for (int64_t i = 0; i < count; ++i) {
                uint32_t bits;
                std::memcpy(&bits, src + i, sizeof(bits));
                const bool nan = (bits & 0x7fffffffu) > 0x7f800000u;
                // round to nearest even, keep NaNs NaN
                d[i] = nan ? static_cast<uint16_t>((bits >> 16) | 0x40u)
                           : static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
            }
            break;
        }
        }
    }
};

}  // namespace
}  // namespace cpu
}  // namespace mgdn
