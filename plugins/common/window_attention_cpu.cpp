// Type handling and work splitting around the per-ISA attention loop (IsaKernels::attend_windows).
// Each thread takes one contiguous run of windows; the ISA loop reads and writes the tensors in
// place, a window at a time (k and v through per-thread f32 buffers unless they are dense f32).
#include "window_attention_cpu.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "dynamic_filter_isa.hpp"
#include "element_codec.hpp"

namespace mgdn {
namespace cpu {
namespace {

// [heads][tokens][tokens] (query i, key j) -> [heads][j][i], i padded to a multiple of 16 with zeros.
std::vector<float> transposed_bias(const void* bias, const Codec& codec, const AttentionShape& s) {
    const int64_t n = s.tokens, pad = (n + 15) / 16 * 16;
    std::vector<float> plain(static_cast<size_t>(s.heads * n * n));
    codec.to_f32(bias, 0, plain.data(), static_cast<int64_t>(plain.size()));
    std::vector<float> out(static_cast<size_t>(s.heads * n * pad), 0.0f);
    for (int64_t h = 0; h < s.heads; ++h)
        for (int64_t i = 0; i < n; ++i)
            for (int64_t j = 0; j < n; ++j) out[(h * n + j) * pad + i] = plain[(h * n + i) * n + j];
    return out;
}

}  // namespace

const char* attention_shape_error(const AttentionShape& s) {
    if (s.windows < 0) return "negative window count";
    if (s.tokens < 1 || s.tokens > kMaxAttentionTokens) return "tokens per window must be in [1, 64]";
    if (s.heads < 1) return "heads must be positive";
    if (s.channels < 1 || s.channels > kMaxAttentionChannels) return "channels must be in [1, 256]";
    if (s.channels % s.heads != 0) return "channels must be a multiple of heads";
    if (s.mask_windows < 0) return "negative mask window count";
    if (s.mask_windows > 0 && s.windows % s.mask_windows != 0)
        return "the window count must be a multiple of the mask's window count";
    if (s.image_tokens < 0 || s.image_tokens % s.tokens != 0) return "an image's tokens must fill whole windows";
    if (s.image_tokens > 0 && s.windows % (s.image_tokens / s.tokens) != 0)
        return "the rows must hold whole images";
    return "";
}

namespace {

// Whether `to` is a permutation of [0, count) and `from` its inverse.
bool inverse_orders(const int64_t* to, const int64_t* from, int64_t count) {
    for (int64_t i = 0; i < count; ++i)
        if (to[i] < 0 || to[i] >= count || from[to[i]] != i) return false;
    return true;
}

}  // namespace

void window_attention(const void* q, const void* k, const void* v, const void* bias, const void* mask,
                      const int64_t* to_windows, const int64_t* from_windows, void* out, DType dtype,
                      DType mask_dtype, float scale, const AttentionShape& s, ThreadTeam& team) {
    const std::string error = attention_shape_error(s);
    if (!error.empty()) throw std::invalid_argument("WindowAttention: " + error);
    if (s.image_tokens > 0 && !inverse_orders(to_windows, from_windows, s.image_tokens))
        throw std::invalid_argument("WindowAttention: the window orders are not a permutation and its inverse");
    if (s.windows == 0) return;
    const IsaKernels& isa = select_isa();
    const std::vector<float> bias_t = transposed_bias(bias, Codec{mask_dtype, &isa}, s);
    const int64_t window_floats = static_cast<int64_t>(s.tokens) * s.channels;
    const int64_t threads = std::min<int64_t>(s.windows, std::max(1, team.max_threads()));

    team.run(static_cast<int>(threads), [&](int ithr, int nthr) {
        int64_t first = 0, end = 0;
        split_range(s.windows, nthr, ithr, first, end);
        if (first >= end) return;
        std::vector<float> scratch(static_cast<size_t>(2 * (window_floats + 16)));
        const AttentionArgs args{q,
                                 k,
                                 v,
                                 out,
                                 row_element(dtype),
                                 bias_t.data(),
                                 s.mask_windows > 0 ? mask : nullptr,
                                 row_element(mask_dtype),
                                 s.mask_windows,
                                 s.image_tokens > 0 ? to_windows : nullptr,
                                 s.image_tokens,
                                 first,
                                 end - first,
                                 scratch.data(),
                                 s.tokens,
                                 s.channels,
                                 s.heads,
                                 scale};
        isa.attend_windows(args);
    });
}

}  // namespace cpu
}  // namespace mgdn
