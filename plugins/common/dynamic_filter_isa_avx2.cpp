// AVX2 + FMA + F16C build of the inner loop; only reached after select_isa() saw all three.
#define MGDN_VEC_BYTES 32
#define MGDN_CHANNEL_BLOCK 4
#define MGDN_VECS 2
#include <immintrin.h>

#include "dynamic_filter_simd.hpp"
#include "dynamic_filter_nhwc_simd.hpp"
#include "window_attention_simd.hpp"

namespace {

void f16_to_f32(const uint16_t* src, float* dst, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
    for (; i < count; ++i) dst[i] = _cvtsh_ss(src[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < count; ++i) dst[i] = _cvtss_sh(src[i], _MM_FROUND_TO_NEAREST_INT);
}

const mgdn::cpu::IsaKernels kTable{"avx2", kStep, filter_row, f16_to_f32, f32_to_f16, nullptr, 0, attend_windows, filter_channels_last};

}  // namespace

const mgdn::cpu::IsaKernels& mgdn::cpu::isa_avx2() { return kTable; }
