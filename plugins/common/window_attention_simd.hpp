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

using mgdn::cpu::AttentionArgs;
using mgdn::cpu::AttentionElement;

using vu16 = uint16_t __attribute__((vector_size(32)));
using vu32 = uint32_t __attribute__((vector_size(64)));

inline int element_size(AttentionElement e) { return e == AttentionElement::f32 ? 4 : 2; }

// 16 consecutive values of type `e` at p as f32 (f16 and bf16 widen exactly).
inline v16 widen16(const char* p, AttentionElement e) {
    v16 out;
    if (e == AttentionElement::f32) {
        __builtin_memcpy(&out, p, sizeof(out));
    } else if (e == AttentionElement::bf16) {
        vu16 half;
        __builtin_memcpy(&half, p, sizeof(half));
        const vu32 bits = __builtin_convertvector(half, vu32) << 16;
        __builtin_memcpy(&out, &bits, sizeof(out));
    } else {
        uint16_t half[16];
        __builtin_memcpy(half, p, sizeof(half));
        float wide[16];
        f16_to_f32(half, wide, 16);
        out = load16(wide);
    }
    return out;
}

// 16 f32 values stored at p as type `e` (bf16: round to nearest even, NaNs stay NaN).
inline void narrow16(char* p, v16 x, AttentionElement e) {
    if (e == AttentionElement::f32) {
        __builtin_memcpy(p, &x, sizeof(x));
    } else if (e == AttentionElement::bf16) {
        vu32 bits;
        __builtin_memcpy(&bits, &x, sizeof(bits));
        const vu32 rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
        const vu32 kept = (bits & 0x7fffffffu) > 0x7f800000u ? (bits >> 16) | 0x40u : rounded;
        const vu16 half = __builtin_convertvector(kept, vu16);
        __builtin_memcpy(p, &half, sizeof(half));
    } else {
        float wide[16];
        store16(wide, x);
        uint16_t half[16];
        f32_to_f16(wide, half, 16);
        __builtin_memcpy(p, half, sizeof(half));
    }
}

// How 16-column blocks of rows of `cols` values are read and written without leaving the row:
// a partial last block (columns [tail, cols)) is accessed as the row's last 16 values, which
// overlap the block before it, and permuted into or out of place; rows under 16 values go
// through a padded copy.
struct RowBlocks {
    int cols;
    int size;  // bytes per value
    AttentionElement element;
    int tail;        // first column of the partial last block; cols when there is none
    vi16 from_last;  // lane l of the tail block = lane from_last[l] of the row's last 16 values
    vi16 into_last;  // lane l of the row's last 16 values = lane into_last[l] of (block before, tail block)
};

inline RowBlocks row_blocks(int cols, AttentionElement e) {
    RowBlocks b{cols, element_size(e), e, cols / 16 * 16, vi16{}, vi16{}};
    for (int l = 0; l < 16; ++l) {
        const int from = b.tail - (cols - 16) + l;
        b.from_last[l] = from < 15 ? from : 15;  // lanes past the row repeat its last value
        b.into_last[l] = cols - b.tail + l;
    }
    return b;
}

// Columns [col0, col0 + 16) of a row as f32; lanes past the row's end hold other values of it
// (zeros for rows under 16 values).
inline v16 read_block(const char* row, const RowBlocks& b, int col0) {
    if (col0 + 16 <= b.cols) return widen16(row + col0 * b.size, b.element);
    if (b.cols >= 16) return __builtin_shuffle(widen16(row + (b.cols - 16) * b.size, b.element), b.from_last);
    char padded[64] = {};
    __builtin_memcpy(padded, row, b.cols * b.size);
    return widen16(padded, b.element);
}

// One row from its blocks (block cb, columns cb*16.., at blocks[cb * stride]); writes exactly
// the row's bytes.
inline void write_row(char* row, const RowBlocks& b, const v16* blocks, int stride) {
    for (int cb = 0; cb * 16 + 16 <= b.cols; ++cb) narrow16(row + cb * 16 * b.size, blocks[cb * stride], b.element);
    if (b.tail == b.cols) return;
    const v16 tail = blocks[b.tail / 16 * stride];
    if (b.cols >= 16) {
        const v16 last = __builtin_shuffle(blocks[(b.tail / 16 - 1) * stride], tail, b.into_last);
        narrow16(row + (b.cols - 16) * b.size, last, b.element);
        return;
    }
    char packed[64];
    narrow16(packed, tail, b.element);
    __builtin_memcpy(row, packed, b.cols * b.size);
}

// Rows [row0, row0 + 16) of a window (row i at rows[i]; rows from `count` on read as zero),
// columns [col0, col0 + 16), transposed: block[c] holds column col0 + c of the 16 rows.
inline void load_transposed(const char* const* rows, int count, int row0, const RowBlocks& b, int col0, v16* block) {
    for (int i = 0; i < 16; ++i) block[i] = row0 + i < count ? read_block(rows[row0 + i], b, col0) : v16{};
    transpose16(block);
}

// A window's k or v rows as dense f32 [count][cols] in `buffer` (cols + 16 floats longer: each
// row's last block spills into the next row, which is written after it).
inline const float* dense_rows(const char* const* rows, int count, const RowBlocks& b, float* buffer) {
    for (int i = 0; i < count; ++i)
        for (int col0 = 0; col0 < b.cols; col0 += 16)
            store16(buffer + static_cast<int64_t>(i) * b.cols + col0, read_block(rows[i], b, col0));
    return buffer;
}

// The scores of keys [j0, j0 + J) for 16 queries: bias (and mask) plus q.k, as J independent
// FMA chains over the head's channels (one chain would wait on the FMA latency at every step).
template <int J>
inline void score_keys(const float* k, int channels, int c0, int head_dim, const v16* q_t, const float* bias,
                       int64_t bias_stride, const v16* mask_t, int j0, v16* scores) {
    v16 s[J];
    for (int t = 0; t < J; ++t) {
        s[t] = load16(bias + static_cast<int64_t>(j0 + t) * bias_stride);
        if (mask_t != nullptr) s[t] += mask_t[j0 + t];
    }
    const float* key = k + static_cast<int64_t>(j0) * channels + c0;
    for (int d = 0; d < head_dim; ++d) {
        const v16 q = q_t[c0 + d];
        for (int t = 0; t < J; ++t) s[t] += key[static_cast<int64_t>(t) * channels + d] * q;
    }
    for (int t = 0; t < J; ++t) scores[j0 + t] = s[t];
}

// Output channels [c, c + D) for 16 queries: the weights times v over all n keys, as D
// independent FMA chains, then normalised by the softmax's sum (`inv` = 1 / sum).
template <int D>
inline void weigh_values(const float* v, int channels, int c, int n, const v16* weights, v16 inv, v16* out_t) {
    v16 acc[D] = {};
    for (int j = 0; j < n; ++j) {
        const float* value = v + static_cast<int64_t>(j) * channels + c;
        for (int t = 0; t < D; ++t) acc[t] += value[t] * weights[j];
    }
    for (int t = 0; t < D; ++t) out_t[c + t] = acc[t] * inv;
}

}  // namespace attention

void attend_windows(const mgdn::cpu::AttentionArgs& a) {
    using namespace attention;
    const int n = a.tokens, channels = a.channels, head_dim = a.channels / a.heads;
    const int query_blocks = (n + 15) / 16, channel_blocks = (channels + 15) / 16;
    const int tokens_pad = query_blocks * 16;
    const RowBlocks io = row_blocks(channels, a.element), mask_io = row_blocks(n, a.mask_element);
    v16 q_t[mgdn::cpu::kMaxAttentionChannels];     // [channel]: 16 queries' values, pre-scaled
    v16 out_t[mgdn::cpu::kMaxAttentionChannels];   // [channel]: 16 queries' outputs
    v16 mask_t[mgdn::cpu::kMaxAttentionTokens];    // [key j]: 16 queries' mask terms
    v16 scores[mgdn::cpu::kMaxAttentionTokens];    // [key j]: 16 queries' scores, then weights
    const int64_t window = static_cast<int64_t>(n) * channels, row_bytes = channels * io.size;
    float* const k_buffer = a.scratch;
    float* const v_buffer = k_buffer + window + 16;
    const bool dense_f32 = a.to_windows == nullptr && a.element == AttentionElement::f32;  // k, v in place
    const int64_t per_image = a.to_windows != nullptr ? a.image_tokens / n : 0;
    // Window w's rows: token t of q, k, v and out is row t of each tensor.
    const char* q_rows[mgdn::cpu::kMaxAttentionTokens];
    const char* k_rows[mgdn::cpu::kMaxAttentionTokens];
    const char* v_rows[mgdn::cpu::kMaxAttentionTokens];
    char* out_rows[mgdn::cpu::kMaxAttentionTokens];
    const char* mask_rows[mgdn::cpu::kMaxAttentionTokens];
    for (int64_t w = a.first_window; w < a.first_window + a.count; ++w) {
        for (int i = 0; i < n; ++i) {
            int64_t token = w * n + i;
            if (a.to_windows != nullptr)
                token = (w / per_image) * a.image_tokens + a.to_windows[(w % per_image) * n + i];
            q_rows[i] = static_cast<const char*>(a.q) + token * row_bytes;
            k_rows[i] = static_cast<const char*>(a.k) + token * row_bytes;
            v_rows[i] = static_cast<const char*>(a.v) + token * row_bytes;
            out_rows[i] = static_cast<char*>(a.out) + token * row_bytes;
        }
        const float* k = dense_f32 ? static_cast<const float*>(a.k) + w * window : dense_rows(k_rows, n, io, k_buffer);
        const float* v = dense_f32 ? static_cast<const float*>(a.v) + w * window : dense_rows(v_rows, n, io, v_buffer);
        if (a.mask != nullptr) {
            const char* mask = static_cast<const char*>(a.mask) + (w % a.mask_windows) * n * n * mask_io.size;
            for (int i = 0; i < n; ++i) mask_rows[i] = mask + static_cast<int64_t>(i) * n * mask_io.size;
        }
        for (int qb = 0; qb < query_blocks; ++qb) {
            const int row0 = qb * 16;
            for (int cb = 0; cb < channel_blocks; ++cb) {
                load_transposed(q_rows, n, row0, io, cb * 16, q_t + cb * 16);
                for (int c = 0; c < 16; ++c) q_t[cb * 16 + c] *= a.scale;
            }
            if (a.mask != nullptr) {
                for (int kb = 0; kb * 16 < n; ++kb) {
                    v16 block[16];
                    load_transposed(mask_rows, n, row0, mask_io, kb * 16, block);
                    for (int j = 0; j < 16 && kb * 16 + j < n; ++j) mask_t[kb * 16 + j] = block[j];
                }
            }
            for (int h = 0; h < a.heads; ++h) {
                const int c0 = h * head_dim;
                const float* bias = a.bias_t + static_cast<int64_t>(h) * n * tokens_pad + row0;
                const v16* mask_terms = a.mask != nullptr ? mask_t : nullptr;
                int j = 0;
                for (; j + 8 <= n; j += 8) score_keys<8>(k, channels, c0, head_dim, q_t, bias, tokens_pad, mask_terms, j, scores);
                for (; j < n; ++j) score_keys<1>(k, channels, c0, head_dim, q_t, bias, tokens_pad, mask_terms, j, scores);
                v16 top = splat(-3.4e38f);
                for (j = 0; j < n; ++j) top = vmax(top, scores[j]);
                v16 sum{};
                for (j = 0; j < n; ++j) {
                    scores[j] = vexp(scores[j] - top);
                    sum += scores[j];
                }
                const v16 inv = 1.0f / sum;
                int c = c0;
                for (; c + 8 <= c0 + head_dim; c += 8) weigh_values<8>(v, channels, c, n, scores, inv, out_t);
                for (; c < c0 + head_dim; ++c) weigh_values<1>(v, channels, c, n, scores, inv, out_t);
            }
            // Back to rows: after the transposes, out_t[cb * 16 + i] holds columns cb*16.. of query row0 + i.
            for (int c = channels; c < channel_blocks * 16; ++c) out_t[c] = v16{};
            for (int cb = 0; cb < channel_blocks; ++cb) transpose16(out_t + cb * 16);
            for (int i = 0; i < 16 && row0 + i < n; ++i) write_row(out_rows[row0 + i], io, out_t + i, 16);
        }
    }
}

}  // namespace
