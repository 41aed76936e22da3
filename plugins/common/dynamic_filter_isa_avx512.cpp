// AVX-512 build of the inner loop (compiled with -mavx512f -mavx512vl -mavx512bw -mfma -mf16c);
// only reached after select_isa() saw avx512f at run time.
//
// For k <= 7 it avoids unaligned loads altogether: two aligned 16-float loads per feature row
// give all k horizontal shifts through valignd, so the loop issues about one aligned load per
// 3 FMAs instead of one cache-line-splitting load per FMA (which is what limits the portable
// loop). The valignd shuffles then compete with the FMAs for ports, so the main path computes
// two output rows per pass: feature row v is kernel row v of output row y and kernel row v - 1
// of row y + 1, so one shifted vector feeds two FMAs (half the shuffles per FMA; measured 5-10 %
// faster on the whole op, Zen 4). Other sizes use the portable loop from dynamic_filter_simd.hpp.
#define MGDN_VEC_BYTES 64
#define MGDN_CHANNEL_BLOCK 6
#define MGDN_VECS 2
// GCC 12's avx512fintrin.h trips its own -Wuninitialized in the f16 conversions (GCC PR105593).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <type_traits>

#include "dynamic_filter_simd.hpp"
#include "dynamic_filter_nhwc_simd.hpp"
#include "window_attention_simd.hpp"

// The unrolled tap recursion must inline completely: a call boundary would put the accumulator
// and feature arrays in memory (40 % slower, measured with GCC when it did not inline the recursion).
#define MGDN_INLINE __attribute__((always_inline)) inline

namespace {

using mgdn::cpu::Prefetcher;
using mgdn::cpu::StoreMode;
using mgdn::cpu::TileArgs;

constexpr int kOneRowBlock = 6;  // channels per one-row pass: 2 feature + 1 accumulator registers each
constexpr int kTwoRowBlock = 4;  // channels per two-row pass: 2 feature + 2 accumulator registers each

// Columns x .. x+15 of one output row: all 16, or the first `count` (a row's last vector).
template <StoreMode M>
MGDN_INLINE void store(float* p, __m512 v) {
    if constexpr (M == StoreMode::stream)
        _mm512_stream_ps(p, v);
    else
        _mm512_storeu_ps(p, v);
}

MGDN_INLINE void store_part(float* p, __m512 v, int count) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << count) - 1u), v);
}

template <int J>
MGDN_INLINE __m512 shifted(const __m512i lo, const __m512i hi) {
    if constexpr (J == 0)
        return _mm512_castsi512_ps(lo);
    else
        return _mm512_castsi512_ps(_mm512_alignr_epi32(hi, lo, J));
}

// ---- one output row ------------------------------------------------------------------------

// Taps (i, J..K-1) of one kernel row for CB channels: acc[c] += w(i,j) * feat(c, row i, x + j).
template <int J, int K, int CB>
MGDN_INLINE void row_taps(const float* tap, int stride, const __m512i (&lo)[CB], const __m512i (&hi)[CB],
                          __m512 (&acc)[CB]) {
    if constexpr (J < K) {
        const __m512 w = _mm512_load_ps(tap + J * stride);
        for (int c = 0; c < CB; ++c) acc[c] = _mm512_fmadd_ps(w, shifted<J>(lo[c], hi[c]), acc[c]);
        row_taps<J + 1, K, CB>(tap, stride, lo, hi, acc);
    }
}

template <int CB, int K, StoreMode M>
void one_row_channels(const TileArgs& a, int c0, Prefetcher& pf) {
    for (int x = 0; x < a.width; x += 16) {
        pf.step();
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
        float* out = a.out + c0 * a.out_stride + x;
        if (x + 16 <= a.out_width) {
            for (int c = 0; c < CB; ++c) store<M>(out + c * a.out_stride, acc[c]);
        } else if (x < a.out_width) {
            for (int c = 0; c < CB; ++c) store_part(out + c * a.out_stride, acc[c], a.out_width - x);
        }
    }
}

// The channels in blocks of Big, then of Mid, then one by one: run(block, mode, c0, pf) with
// block and mode std::integral_constants of the block's channel count and the store mode, with
// one prefetch stream over all the passes.
template <int Big, int Mid, StoreMode M, typename Run>
MGDN_INLINE void channel_blocks(const TileArgs& a, Run run) {
    const std::integral_constant<StoreMode, M> mode;
    const int rest = a.channels % Big;
    Prefetcher pf(a, static_cast<int64_t>(a.channels / Big + rest / Mid + rest % Mid) * (a.width / 16));
    int c = 0;
    for (; c + Big <= a.channels; c += Big) run(std::integral_constant<int, Big>{}, mode, c, pf);
    for (; c + Mid <= a.channels; c += Mid) run(std::integral_constant<int, Mid>{}, mode, c, pf);
    for (; c < a.channels; ++c) run(std::integral_constant<int, 1>{}, mode, c, pf);
    if constexpr (M == StoreMode::stream) _mm_sfence();  // non-temporal stores visible before we return
}

// channel_blocks with the tile's store mode as a compile-time constant.
template <int Big, int Mid, typename Run>
void by_channel_blocks(const TileArgs& a, Run run) {
    if (a.store == StoreMode::stream)
        channel_blocks<Big, Mid, StoreMode::stream>(a, run);
    else
        channel_blocks<Big, Mid, StoreMode::normal>(a, run);
}

template <int K>
void one_row(const TileArgs& a) {
    by_channel_blocks<kOneRowBlock, 3>(a, [&a](auto block, auto mode, int c0, Prefetcher& pf) {
        one_row_channels<decltype(block)::value, K, decltype(mode)::value>(a, c0, pf);
    });
}

// ---- two output rows -----------------------------------------------------------------------
// Each output row's FMAs still run in (i, j) order, so the results equal the one-row loop's.

template <int K, int CB, int V, int J>
MGDN_INLINE void two_row_shifts(const TileArgs& a, int x, const __m512i (&lo)[CB], const __m512i (&hi)[CB],
                                __m512 (&acc0)[CB], __m512 (&acc1)[CB]) {
    if constexpr (J < K) {
        __m512 w0 = _mm512_setzero_ps(), w1 = _mm512_setzero_ps();
        if constexpr (V < K) w0 = _mm512_load_ps(a.taps + static_cast<int64_t>(V * K + J) * a.stride + x);
        if constexpr (V >= 1)
            w1 = _mm512_load_ps(a.taps + static_cast<int64_t>(K * K + (V - 1) * K + J) * a.stride + x);
        for (int c = 0; c < CB; ++c) {
            const __m512 f = shifted<J>(lo[c], hi[c]);
            if constexpr (V < K) acc0[c] = _mm512_fmadd_ps(w0, f, acc0[c]);
            if constexpr (V >= 1) acc1[c] = _mm512_fmadd_ps(w1, f, acc1[c]);
        }
        two_row_shifts<K, CB, V, J + 1>(a, x, lo, hi, acc0, acc1);
    }
}

template <int K, int CB, int V>
MGDN_INLINE void two_row_feature_rows(const TileArgs& a, int c0, int x, __m512 (&acc0)[CB], __m512 (&acc1)[CB]) {
    if constexpr (V <= K) {
        __m512i lo[CB], hi[CB];
        for (int c = 0; c < CB; ++c) {
            const float* row = a.rows[(c0 + c) * (K + 1) + V] + x;
            lo[c] = _mm512_load_si512(row);
            hi[c] = _mm512_load_si512(row + 16);
        }
        two_row_shifts<K, CB, V, 0>(a, x, lo, hi, acc0, acc1);
        two_row_feature_rows<K, CB, V + 1>(a, c0, x, acc0, acc1);
    }
}

template <int CB, int K, StoreMode M>
void two_row_channels(const TileArgs& a, int c0, Prefetcher& pf) {
    for (int x = 0; x < a.width; x += 16) {
        pf.step();
        __m512 acc0[CB], acc1[CB];
        for (int c = 0; c < CB; ++c) acc0[c] = acc1[c] = _mm512_setzero_ps();
        two_row_feature_rows<K, CB, 0>(a, c0, x, acc0, acc1);
        float* out = a.out + c0 * a.out_stride + x;
        if (x + 16 <= a.out_width) {
            for (int c = 0; c < CB; ++c) {
                store<M>(out + c * a.out_stride, acc0[c]);
                store<M>(out + c * a.out_stride + a.out_row_stride, acc1[c]);
            }
        } else if (x < a.out_width) {
            for (int c = 0; c < CB; ++c) {
                store_part(out + c * a.out_stride, acc0[c], a.out_width - x);
                store_part(out + c * a.out_stride + a.out_row_stride, acc1[c], a.out_width - x);
            }
        }
    }
}

template <int K>
void two_rows(const TileArgs& a) {
    by_channel_blocks<kTwoRowBlock, 2>(a, [&a](auto block, auto mode, int c0, Prefetcher& pf) {
        two_row_channels<decltype(block)::value, K, decltype(mode)::value>(a, c0, pf);
    });
}

// ---- dispatch on kernel size ------------------------------------------------------------

void filter_row_avx512(const TileArgs& a) {
    switch (a.ksize) {
    case 3: one_row<3>(a); break;
    case 5: one_row<5>(a); break;
    case 7: one_row<7>(a); break;
    default: filter_row(a); break;
    }
}

void filter_two_rows_avx512(const TileArgs& a) {
    switch (a.ksize) {
    case 3: two_rows<3>(a); break;
    case 5: two_rows<5>(a); break;
    case 7: two_rows<7>(a); break;
    default: break;  // not reached: kTwoRowKsizes has no other bits
    }
}

constexpr unsigned kTwoRowKsizes = (1u << 3) | (1u << 5) | (1u << 7);

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

const mgdn::cpu::IsaKernels kTable{"avx512", kStep, filter_row_avx512, f16_to_f32, f32_to_f16,
                                   filter_two_rows_avx512, kTwoRowKsizes, attend_windows, filter_channels_last};

}  // namespace

const mgdn::cpu::IsaKernels& mgdn::cpu::isa_avx512() { return kTable; }
