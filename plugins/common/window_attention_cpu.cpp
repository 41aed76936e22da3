// Type conversion and work splitting around the per-ISA attention loop (IsaKernels::attend_windows).
//
// Work unit: a run of consecutive windows (about 32 KiB of f32 per tensor). The ISA loop reads
// f32 and bf16 tensors in place, a window at a time; f16 units are widened into per-thread f32
// buffers here and the output rounded back once.
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

constexpr int64_t kUnitFloats = 8192;  // per tensor and unit

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
    return "";
}

void window_attention(const void* q, const void* k, const void* v, const void* bias, const void* mask, void* out,
                      DType dtype, DType mask_dtype, float scale, const AttentionShape& s, ThreadTeam& team) {
    const std::string error = attention_shape_error(s);
    if (!error.empty()) throw std::invalid_argument("WindowAttention: " + error);
    if (s.windows == 0) return;
    const IsaKernels& isa = select_isa();
    const Codec io{dtype, &isa};
    const Codec terms{mask_dtype, &isa};
    const std::vector<float> bias_t = transposed_bias(bias, terms, s);
    const int64_t window_floats = static_cast<int64_t>(s.tokens) * s.channels;
    const int64_t mask_floats = static_cast<int64_t>(s.tokens) * s.tokens;
    const int64_t per_unit = std::max<int64_t>(1, kUnitFloats / window_floats);
    const int64_t units = (s.windows + per_unit - 1) / per_unit;
    const int64_t threads = std::min<int64_t>(units, std::max(1, team.max_threads()));
    // The ISA loop reads f32 and bf16 itself; f16 (no CPU plugin runs it) is widened here.
    const bool widen = dtype == DType::f16;
    const bool widen_mask = mask_dtype == DType::f16 && s.mask_windows > 0;
    std::vector<float> mask_f32(static_cast<size_t>(widen_mask ? s.mask_windows * mask_floats : 0));
    if (widen_mask) terms.to_f32(mask, 0, mask_f32.data(), static_cast<int64_t>(mask_f32.size()));

    team.run(static_cast<int>(threads), [&](int ithr, int nthr) {
        int64_t begin = 0, end = 0;
        split_range(units, nthr, ithr, begin, end);
        if (begin >= end) return;
        std::vector<float> scratch(static_cast<size_t>(4 * window_floats + mask_floats + 16));
        const size_t tensor = static_cast<size_t>(widen ? per_unit * window_floats : 0);
        std::vector<float> qf(tensor), kf(tensor), vf(tensor), of(tensor);
        for (int64_t u = begin; u < end; ++u) {
            const int64_t w0 = u * per_unit;
            const int64_t count = std::min(per_unit, s.windows - w0);
            const int64_t offset = w0 * window_floats, floats = count * window_floats;
            const size_t bytes = dtype == DType::f32 ? 4 : 2;
            AttentionArgs args{static_cast<const char*>(q) + offset * bytes,
                               static_cast<const char*>(k) + offset * bytes,
                               static_cast<const char*>(v) + offset * bytes,
                               static_cast<char*>(out) + offset * bytes,
                               dtype == DType::bf16,
                               bias_t.data(),
                               widen_mask ? mask_f32.data() : (s.mask_windows > 0 ? mask : nullptr),
                               mask_dtype == DType::bf16,
                               s.mask_windows,
                               w0,
                               scratch.data(),
                               count,
                               s.tokens,
                               s.channels,
                               s.heads,
                               scale};
            if (widen) {
                io.to_f32(q, offset, qf.data(), floats);
                io.to_f32(k, offset, kf.data(), floats);
                io.to_f32(v, offset, vf.data(), floats);
                args.q = qf.data();
                args.k = kf.data();
                args.v = vf.data();
                args.out = of.data();
            }
            isa.attend_windows(args);
            if (widen) io.from_f32(of.data(), out, offset, floats);
        }
    });
}

}  // namespace cpu
}  // namespace mgdn
