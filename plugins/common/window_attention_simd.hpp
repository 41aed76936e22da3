// Window attention (IsaKernels::attend_windows), compiled once per ISA: each
// dynamic_filter_isa_*.cpp includes it. Rows are read and written in place (token_lanes_simd.hpp).
//
// Layout: the 16 lanes are 16 queries of one window (token_lanes_simd.hpp). With queries in
// lanes, the scores of one key j for all queries form one vector, so the softmax over keys is
// element-wise across vectors (no horizontal reductions), q.k is a chain of FMAs of a broadcast k
// element into the lanes, and so is p.v. Everything has internal linkage (see dynamic_filter_isa.hpp).
#pragma once

#include <cstdint>

#include "token_lanes_simd.hpp"

namespace {
namespace attention {

using namespace lanes;
using mgdn::cpu::AttentionArgs;

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
    const bool dense_f32 = a.to_windows == nullptr && a.element == RowElement::f32;  // k, v in place
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
