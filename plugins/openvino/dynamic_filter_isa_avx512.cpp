// AVX-512 build of the inner loop (compiled with -mavx512f -mavx512vl -mavx512bw -mfma -mf16c);
// only reached after select_isa() saw avx512f at run time.
//
// For k <= 7 it avoids unaligned loads altogether: two aligned 16-float loads per feature row
// give all k horizontal shifts through valignd, so the loop issues about one aligned load per
// 3 FMAs instead of one cache-line-splitting load per FMA (which is what limits the portable
// loop). Other sizes use the portable loop from dynamic_filter_simd.hpp.
#define MGDN_VEC_BYTES 64
#define MGDN_CHANNEL_BLOCK 6
#define MGDN_VECS 2
// GCC 12's avx512fintrin.h trips its own -Wuninitialized in the f16 conversions (GCC PR105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "dynamic_filter_simd.hpp"

namespace {

constexpr int kAlignedBlock = 6;  // channels per pass: 2 feature + 1 accumulator registers each

// Taps (i, J..K-1) of one kernel row for CB channels: acc[c] += w(i,j) * feat(c, row i, x + j).
template <int J, int K, int CB>
inline void row_taps(const float* tap, int stride, const __m512i (&lo)[CB], const __m512i (&hi)[CB],
                     __m512 (&acc)[CB]) {
    if constexpr (J < K) {
        const __m512 w = _mm512_load_ps(tap + J * stride);
        for (int c = 0; c < CB; ++c) {
            const __m512i shifted = J == 0 ? lo[c] : _mm512_alignr_epi32(hi[c], lo[c], J);
            acc[c] = _mm512_fmadd_ps(w, _mm512_castsi512_ps(shifted), acc[c]);
        }
        row_taps<J + 1, K, CB>(tap, stride, lo, hi, acc);
    }
}

// Needs 64-byte aligned rows/taps/out, stride a multiple of 16 and rows readable to width + 16.
template <int CB, int K>
void filter_channels_aligned(const mgdn::cpu::TileArgs& a, int c0) {
    for (int x = 0; x < a.width; x += 16) {
        __m512 acc[CB];
        for (int c = 0; c < CB; ++c) acc[c] = _mm512_setzero_ps();
        for (int i = 0; i < K; ++i) {
            __m512i lo[CB], hi[CB];
            for (int c = 0; c < CB; ++c) {
                const float* row = a.rows[(c0 + c) * K + i] + x;
                lo[c] = _mm512_load_si512(row);
                hi[c] = _mm512_load_si512(row + 16);
            }
            row_taps<0, K, CB>(a.taps + static_cast<int64_t>(i) * K * a.stride + x, a.stride, lo, hi, acc);
        }
        for (int c = 0; c < CB; ++c) _mm512_store_ps(a.out + (c0 + c) * a.stride + x, acc[c]);
    }
}

template <int K>
void filter_row_aligned(const mgdn::cpu::TileArgs& a) {
    int c = 0;
    for (; c + kAlignedBlock <= a.channels; c += kAlignedBlock) filter_channels_aligned<kAlignedBlock, K>(a, c);
    for (; c + 3 <= a.channels; c += 3) filter_channels_aligned<3, K>(a, c);
    for (; c < a.channels; ++c) filter_channels_aligned<1, K>(a, c);
}

void filter_row_avx512(const mgdn::cpu::TileArgs& a) {
    switch (a.ksize) {
    case 3: filter_row_aligned<3>(a); break;
    case 5: filter_row_aligned<5>(a); break;
    case 7: filter_row_aligned<7>(a); break;
    default: filter_row(a); break;
    }
}

void f16_to_f32(const uint16_t* src, float* dst, int64_t count) {
    int64_t i = 0;
    for (; i + 16 <= count; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
    const __mmask16 tail = static_cast<__mmask16>((1u << (count - i)) - 1u);
    _mm512_mask_storeu_ps(dst + i, tail, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(tail, src + i)));
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t count) {
    int64_t i = 0;
    for (; i + 16 <= count; i += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                            _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    const __mmask16 tail = static_cast<__mmask16>((1u << (count - i)) - 1u);
    _mm256_mask_storeu_epi16(dst + i, tail,
                             _mm512_cvtps_ph(_mm512_maskz_loadu_ps(tail, src + i), _MM_FROUND_TO_NEAREST_INT));
}

const mgdn::cpu::IsaKernels kTable{"avx512", kStep, filter_row_avx512, f16_to_f32, f32_to_f16};

}  // namespace

const mgdn::cpu::IsaKernels& mgdn::cpu::isa_avx512() { return kTable; }
