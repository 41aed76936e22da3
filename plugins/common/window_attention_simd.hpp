// Window attention on dense f32 windows (IsaKernels::attend_windows), written once with GCC
// vector extensions and compiled once per ISA: each dynamic_filter_isa_*.cpp includes it. The
// 16-float vector is AVX-512's register; the AVX2 and baseline builds split it into 2 or 4.
//
// Layout: the 16 lanes are 16 queries of one window. With queries in lanes, the scores of one
// key j for all queries form one vector, so the softmax over keys is element-wise across vectors
// (no horizontal reductions), q.k is a chain of FMAs of a broadcast k element into the lanes,
// and so is p.v. A window's q block is transposed into that layout (and the output back) with
// 16x16 register transposes. Everything has internal linkage (see dynamic_filter_isa.hpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "dynamic_filter_isa.hpp"

// The 64-byte vectors never cross a call boundary of this file's (internal) functions in the
// narrower builds either, so GCC's note that passing them changes the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace {

// This ISA file's own f16 conversions: every dynamic_filter_isa_*.cpp defines them (for its
// IsaKernels table) after including this header.
void f16_to_f32(const uint16_t* src, float* dst, int64_t count);
void f32_to_f16(const float* src, uint16_t* dst, int64_t count);

namespace attention {

using v16 = float __attribute__((vector_size(64)));
using vi16 = int __attribute__((vector_size(64)));

inline v16 load16(const float* p) {
    v16 v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
}

inline void store16(float* p, v16 v) { __builtin_memcpy(p, &v, sizeof(v)); }

inline v16 splat(float x) { return v16{} + x; }

inline v16 vmax(v16 a, v16 b) { return a > b ? a : b; }

// exp(x) for x <= 0 (scores minus their maximum), Cephes' expf: x = n ln2 + r with |r| <= ln2/2,
// exp(r) by a degree-6 polynomial, 2^n by the exponent bits; about 1 ulp. Below -87.3 (where
// exp underflows to denormals) the result is exp(-87.3), ~1e-38: nothing a softmax can see.
inline v16 vexp(v16 x) {
    x = vmax(x, splat(-87.3f));
    const v16 n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
    const v16 r = x - n * 0.693359375f + n * 2.12194440e-4f;
    v16 p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const vi16 bits = (__builtin_convertvector(n, vi16) + 127) << 23;
    v16 scale;
    __builtin_memcpy(&scale, &bits, sizeof(scale));
    return p * scale;
}

// In-place transpose of 16 vectors (a 16x16 block): four stages, each swapping the off-diagonal
// S x S sub-blocks of every 2S x 2S block with one two-source shuffle per vector.
#if defined(__clang__)
inline void transpose16(v16* r) {
    float m[16][16];
    for (int i = 0; i < 16; ++i) store16(m[i], r[i]);
    for (int i = 0; i < 16; ++i)
        for (int j = 0; j < 16; ++j) r[i][j] = m[j][i];
}
#else
template <int S>
inline void transpose_stage(v16* r) {
#define MGDN_LO(l) (((l) & S) ? 16 + (l) - S : (l))
#define MGDN_HI(l) (((l) & S) ? 16 + (l) : (l) + S)
    const vi16 lo = {MGDN_LO(0), MGDN_LO(1), MGDN_LO(2),  MGDN_LO(3),  MGDN_LO(4),  MGDN_LO(5),  MGDN_LO(6),  MGDN_LO(7),
                     MGDN_LO(8), MGDN_LO(9), MGDN_LO(10), MGDN_LO(11), MGDN_LO(12), MGDN_LO(13), MGDN_LO(14), MGDN_LO(15)};
    const vi16 hi = {MGDN_HI(0), MGDN_HI(1), MGDN_HI(2),  MGDN_HI(3),  MGDN_HI(4),  MGDN_HI(5),  MGDN_HI(6),  MGDN_HI(7),
                     MGDN_HI(8), MGDN_HI(9), MGDN_HI(10), MGDN_HI(11), MGDN_HI(12), MGDN_HI(13), MGDN_HI(14), MGDN_HI(15)};
#undef MGDN_LO
#undef MGDN_HI
    for (int i = 0; i < 16; ++i) {
        if (i & S) continue;
        const v16 a = r[i], b = r[i + S];
        r[i] = __builtin_shuffle(a, b, lo);
        r[i + S] = __builtin_shuffle(a, b, hi);
    }
}

inline void transpose16(v16* r) {
    transpose_stage<8>(r);
    transpose_stage<4>(r);
    transpose_stage<2>(r);
    transpose_stage<1>(r);
}
#endif

// Rows [row0, row0 + 16) of a [rows][cols] matrix (rows past `rows` read as zero), columns
// [col0, col0 + 16) (past `cols` zero), transposed: block[c] holds column col0 + c.
inline void load_transposed(const float* m, int rows, int cols, int row0, int col0, v16* block) {
    for (int i = 0; i < 16; ++i) {
        block[i] = v16{};
        if (row0 + i >= rows) continue;
        const float* row = m + static_cast<int64_t>(row0 + i) * cols + col0;
        if (col0 + 16 <= cols)
            block[i] = load16(row);
        else
            for (int c = 0; col0 + c < cols; ++c) block[i][c] = row[c];
    }
    transpose16(block);
}

using mgdn::cpu::AttentionArgs;
using mgdn::cpu::AttentionElement;

// `count` values of `element` at `offset` (in values) as f32: f32 used where it lies, f16 and
// bf16 widened (exactly) into `buffer`.
inline const float* as_f32(const void* src, int64_t offset, int64_t count, AttentionElement element,
                           float* buffer) {
    if (element == AttentionElement::f32) return static_cast<const float*>(src) + offset;
    const uint16_t* in = static_cast<const uint16_t*>(src) + offset;
    if (element == AttentionElement::f16) {
        f16_to_f32(in, buffer, count);
        return buffer;
    }
    for (int64_t i = 0; i < count; ++i) {
        const uint32_t bits = static_cast<uint32_t>(in[i]) << 16;
        __builtin_memcpy(buffer + i, &bits, sizeof(bits));
    }
    return buffer;
}

// `count` f32 values into `dst` at `offset` as `element` (bf16: round to nearest even, NaNs kept).
inline void store_as(const float* src, void* dst, int64_t offset, int64_t count, AttentionElement element) {
    if (element == AttentionElement::f32) {
        __builtin_memcpy(static_cast<float*>(dst) + offset, src, count * sizeof(float));
        return;
    }
    uint16_t* out = static_cast<uint16_t*>(dst) + offset;
    if (element == AttentionElement::f16) {
        f32_to_f16(src, out, count);
        return;
    }
    for (int64_t i = 0; i < count; ++i) {
        uint32_t bits;
        __builtin_memcpy(&bits, src + i, sizeof(bits));
        const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
        out[i] = static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? (bits >> 16) | 0x40u : rounded);
    }
}

// Window w's q, k or v as dense f32 rows: in place when the rows are contiguous f32, else
// gathered and widened into `buffer`.
inline const float* window_rows(const void* src, int64_t w, const int64_t* rows, const AttentionArgs& a,
                                float* buffer) {
    const int64_t n = a.tokens, c = a.channels;
    if (rows == nullptr) return as_f32(src, w * n * c, n * c, a.element, buffer);
    for (int64_t i = 0; i < n; ++i) {
        const float* row = as_f32(src, rows[i] * c, c, a.element, buffer + i * c);
        if (row != buffer + i * c) __builtin_memcpy(buffer + i * c, row, c * sizeof(float));
    }
    return buffer;
}

}  // namespace attention

void attend_windows(const mgdn::cpu::AttentionArgs& a) {
    using namespace attention;
    const int n = a.tokens, channels = a.channels, head_dim = a.channels / a.heads;
    const int query_blocks = (n + 15) / 16, channel_blocks = (channels + 15) / 16;
    const int tokens_pad = query_blocks * 16;
    v16 q_t[mgdn::cpu::kMaxAttentionChannels];     // [channel]: 16 queries' values, pre-scaled
    v16 out_t[mgdn::cpu::kMaxAttentionChannels];   // [channel]: 16 queries' outputs
    v16 mask_t[mgdn::cpu::kMaxAttentionTokens];    // [key j]: 16 queries' mask terms
    v16 scores[mgdn::cpu::kMaxAttentionTokens];    // [key j]: 16 queries' scores, then weights
    const int64_t window = static_cast<int64_t>(n) * channels;
    float* const q_buffer = a.scratch;
    float* const k_buffer = q_buffer + window;
    float* const v_buffer = k_buffer + window;
    float* const out_buffer = v_buffer + window;
    float* const mask_buffer = out_buffer + window;
    const int64_t per_image = a.to_windows != nullptr ? a.image_tokens / n : 0;
    int64_t rows[mgdn::cpu::kMaxAttentionTokens];  // window w's rows in q, k, v and out (with to_windows)
    for (int64_t w = a.first_window; w < a.first_window + a.count; ++w) {
        const int64_t* row_index = nullptr;
        if (a.to_windows != nullptr) {
            const int64_t image_row = (w / per_image) * a.image_tokens;
            const int64_t* order = a.to_windows + (w % per_image) * n;
            for (int i = 0; i < n; ++i) rows[i] = image_row + order[i];
            row_index = rows;
        }
        const float* q = window_rows(a.q, w, row_index, a, q_buffer);
        const float* k = window_rows(a.k, w, row_index, a, k_buffer);
        const float* v = window_rows(a.v, w, row_index, a, v_buffer);
        const bool direct = row_index == nullptr && a.element == AttentionElement::f32;
        float* out = direct ? static_cast<float*>(a.out) + w * window : out_buffer;
        const float* mask = nullptr;
        if (a.mask != nullptr)
            mask = as_f32(a.mask, (w % a.mask_windows) * n * n, static_cast<int64_t>(n) * n, a.mask_element,
                          mask_buffer);
        for (int qb = 0; qb < query_blocks; ++qb) {
            const int row0 = qb * 16;
            for (int cb = 0; cb < channel_blocks; ++cb) {
                load_transposed(q, n, channels, row0, cb * 16, q_t + cb * 16);
                for (int c = 0; c < 16; ++c) q_t[cb * 16 + c] *= a.scale;
            }
            if (mask != nullptr) {
                for (int kb = 0; kb * 16 < n; ++kb) {
                    v16 block[16];
                    load_transposed(mask, n, n, row0, kb * 16, block);
                    for (int j = 0; j < 16 && kb * 16 + j < n; ++j) mask_t[kb * 16 + j] = block[j];
                }
            }
            for (int h = 0; h < a.heads; ++h) {
                const int c0 = h * head_dim;
                const float* bias = a.bias_t + static_cast<int64_t>(h) * n * tokens_pad + row0;
                v16 top = splat(-3.4e38f);
                for (int j = 0; j < n; ++j) {
                    v16 s = load16(bias + static_cast<int64_t>(j) * tokens_pad);
                    if (mask != nullptr) s += mask_t[j];
                    const float* key = k + static_cast<int64_t>(j) * channels + c0;
                    for (int d = 0; d < head_dim; ++d) s += key[d] * q_t[c0 + d];
                    scores[j] = s;
                    top = vmax(top, s);
                }
                v16 sum{};
                for (int j = 0; j < n; ++j) {
                    scores[j] = vexp(scores[j] - top);
                    sum += scores[j];
                }
                const v16 inv = 1.0f / sum;
                for (int d = 0; d < head_dim; ++d) {
                    v16 acc{};
                    const float* value = v + c0 + d;
                    for (int j = 0; j < n; ++j) acc += value[static_cast<int64_t>(j) * channels] * scores[j];
                    out_t[c0 + d] = acc * inv;
                }
            }
            // Back to rows: block cb holds columns cb*16.. of the 16 queries. Rows are written in
            // order, so a 16-float store past a row's end only touches later rows, which their own
            // stores then overwrite; stores that would leave the window are written by parts.
            for (int c = channels; c < channel_blocks * 16; ++c) out_t[c] = v16{};
            for (int cb = 0; cb < channel_blocks; ++cb) transpose16(out_t + cb * 16);
            const int64_t window_end = static_cast<int64_t>(n) * channels;
            for (int i = 0; i < 16 && row0 + i < n; ++i) {
                const int64_t row_start = static_cast<int64_t>(row0 + i) * channels;
                float* row = out + row_start;
                for (int cb = 0; cb < channel_blocks; ++cb) {
                    const v16 values = out_t[cb * 16 + i];
                    if (row_start + cb * 16 + 16 <= window_end)
                        store16(row + cb * 16, values);
                    else
                        for (int c = 0; cb * 16 + c < channels; ++c) row[cb * 16 + c] = values[c];
                }
            }
        }
        if (direct) continue;
        if (row_index == nullptr)
            store_as(out_buffer, a.out, w * window, window, a.element);
        else
            for (int i = 0; i < n; ++i) store_as(out_buffer + i * channels, a.out, rows[i] * channels, channels, a.element);
    }
}

}  // namespace
