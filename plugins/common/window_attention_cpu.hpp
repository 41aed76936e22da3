// Window attention (the Swin-style blocks of MGDN's transformer) on the CPU, shared by the
// OpenVINO extension's WindowAttention op. No runtime's types appear here (see ThreadTeam).
//
//   q, k, v, out [windows * tokens, channels] (or any shape with that element count), dense
//   row-major; channels = heads * head_dim; window w is rows [w * tokens, (w + 1) * tokens).
//   For each window w and head h (columns [h * head_dim, (h + 1) * head_dim)):
//     scores = (scale * q_h) k_h^T + bias[h] (+ mask[w % mask_windows])      [tokens, tokens]
//     out_h  = softmax(scores, over keys) v_h
//   bias [heads, tokens, tokens]; mask [mask_windows, tokens, tokens] (windows % mask_windows == 0),
//   the shifted windows' -100 / 0 terms, repeated for each image of the batch.
// With image_tokens > 0 the rows are in image order instead: [images * image_tokens, channels],
// and to_windows [image_tokens] lists each image's rows in window order (window w of an image is
// its rows to_windows[w * tokens ...]); from_windows, its inverse, is checked to be one. Each
// output row lands where its input row was, so the caller needs no gather before or after.
// Arithmetic is f32 (f16/bf16 tensors are converted on the way in and rounded once on the way out).
#pragma once

#include <cstdint>

#include "dynamic_filter_cpu.hpp"

namespace mgdn {
namespace cpu {

struct AttentionShape {
    int64_t windows;
    int tokens;
    int channels;
    int heads;
    int64_t mask_windows;  // 0: no mask
    int64_t image_tokens;  // 0: rows in window order
};

// Why `shape` cannot run (empty string if it can): sizes the kernel does not take.
const char* attention_shape_error(const AttentionShape& shape);

// q, k, v and out of `dtype`; bias and mask (if mask_windows > 0) of `mask_dtype`; to_windows and
// from_windows only with image_tokens > 0. Throws std::invalid_argument naming a bad shape or order.
void window_attention(const void* q, const void* k, const void* v, const void* bias, const void* mask,
                      const int64_t* to_windows, const int64_t* from_windows, void* out, DType dtype,
                      DType mask_dtype, float scale, const AttentionShape& shape, ThreadTeam& team);

}  // namespace cpu
}  // namespace mgdn
