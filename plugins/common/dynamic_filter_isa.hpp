// Interface between the portable drivers (dynamic_filter_cpu.cpp, window_attention_cpu.cpp) and
// the per-ISA compute code.
//
// Each dynamic_filter_isa_<name>.cpp is compiled with its own -m flags and exposes one table of
// plain function pointers. Nothing else crosses the boundary: the ISA files instantiate no
// templates with external linkage, so the linker can never hand an AVX-512 copy of some inline
// function to code that runs on a CPU without AVX-512.
#pragma once

#include <cstdint>

namespace mgdn {
namespace cpu {

// How the kernel writes `out`: plain (possibly unaligned) stores, or non-temporal stores for a
// big 64-byte aligned output that is not read again soon (it then bypasses the caches instead
// of evicting the inputs, and skips the read-for-ownership of every output line).
enum class StoreMode : int { normal, stream };

// One output row (or two, see IsaKernels::filter_two_rows) of one x-tile, for `channels` channels.
//   rows[c * ksize + i] + x + j    ->  feat(c, y + i - r, x0 + x + j - r), f32, borders already replicated
//   taps + t * stride + x          ->  kernels(t, y, x0 + x), f32
//   out  + c * out_stride + x      <-  result (f32), columns x < out_width only
// Two-row calls: rows[c * (ksize + 1) + v] for v = 0..ksize (feature rows y - r .. y + 1 + r), the
// taps of row y + 1 at taps + (ksize * ksize + t) * stride, its output at out + out_row_stride.
// `width` (columns computed) is a multiple of IsaKernels::step and >= out_width; `stride` is a
// multiple of 16; rows and taps are 64-byte aligned and readable (finite) up to width + 16 and
// width; `out` is 64-byte aligned with out_stride and out_row_stride multiples of 16 when store
// is stream, else anything.
struct TileArgs {
    const float* const* rows;
    const float* taps;
    float* out;
    int channels;
    int ksize;
    int width;
    int stride;
    int out_width;
    int64_t out_stride;
    int64_t out_row_stride;
    StoreMode store;
    // Source rows the *next* call will read (feature rows, kernel-tap rows): the kernel spreads
    // L2 prefetches of them over its loop, so DRAM streams while the FMAs run instead of between.
    const char* const* prefetch_rows;
    int prefetch_count;
    int prefetch_lines;  // 64-byte lines per row, counted from the (64-byte aligned) row pointer
};

// Element type of the tensors the lane kernels read and write (token_lanes_simd.hpp): window
// attention and the channels-last filter.
enum class RowElement : int { f32, f16, bf16 };

// Windows [first_window, first_window + count) of window attention (window_attention_cpu.hpp has
// the semantics; the driver splits the work). Dense row-major:
//   q, k, v, out  rows of `channels` values (channels = heads * head_dim) of `element`: window w's
//                 row i is row w * tokens + i, or, with to_windows, row
//                 (w / P) * image_tokens + to_windows[(w % P) * tokens + i], P = image_tokens / tokens
//   bias_t        [heads][tokens (key j)][round_up(tokens, 16) (query i)] f32: bias[h][i][j], transposed
//   mask          [mask_windows][tokens (query i)][tokens (key j)] of `mask_element`, or nullptr;
//                 window w uses mask w % mask_windows
//   scratch       2 * (tokens * channels + 16) floats, the calling thread's own
// tokens <= kMaxAttentionTokens, channels <= kMaxAttentionChannels (the kernel's stack arrays).
constexpr int kMaxAttentionTokens = 64;
constexpr int kMaxAttentionChannels = 256;

struct AttentionArgs {
    const void* q;
    const void* k;
    const void* v;
    void* out;
    RowElement element;
    const float* bias_t;
    const void* mask;
    RowElement mask_element;
    int64_t mask_windows;
    const int64_t* to_windows;
    int64_t image_tokens;
    int64_t first_window;
    int64_t count;
    float* scratch;
    int tokens;
    int channels;
    int heads;
    float scale;
};

// Output rows [first_row, first_row + count) (row n * h + y: all images' rows in order) of the
// DynamicFilter on channels-last tensors (dynamic_filter_cpu.hpp has the semantics). Dense:
//   feat, out  [n][h][w][channels] of `element`;  kernels [n][h][w][ksize * ksize] of `element`
//   scratch    filter_channels_last_scratch(w, channels, ksize) floats, the calling thread's own
struct ChannelsLastArgs {
    const void* feat;
    const void* kernels;
    void* out;
    RowElement element;
    int64_t first_row;
    int64_t count;
    int h;
    int w;
    int channels;
    int ksize;
    float* scratch;
};

// Pixels the channels-last loop filters at once (independent FMA chains per channel block), and
// the most channels it takes (its stack arrays).
constexpr int kChannelsLastPixels = 4;
constexpr int kMaxChannelsLastChannels = 256;

// The scratch of the channels-last loop: a ring of ksize slots, each one source row of w pixels
// plus ksize - 1 replicated border pixels, every pixel's channels padded to whole 16-float
// vectors; then the taps of kChannelsLastPixels pixels as f32. Internal linkage, like everything
// in this header that code of an ISA file calls.
static inline int64_t channels_last_slot_floats(int w, int channels, int ksize) {
    return static_cast<int64_t>(w + ksize - 1) * ((channels + 15) / 16 * 16);
}

static inline int64_t filter_channels_last_scratch(int w, int channels, int ksize) {
    const int64_t taps = (static_cast<int64_t>(kChannelsLastPixels) * ksize * ksize + 15) / 16 * 16 + 16;
    return ksize * channels_last_slot_floats(w, channels, ksize) + taps;
}

struct IsaKernels {
    const char* name;
    int step;  // floats per inner-loop iteration: TileArgs::width must be a multiple of it
    void (*filter_row)(const TileArgs& args);
    void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t count);
    void (*f32_to_f16)(const float* src, uint16_t* dst, int64_t count);
    // Optional: two adjacent output rows in one pass, for the kernel sizes whose bit is set in
    // two_row_ksizes (nullptr / 0 when the table has none).
    void (*filter_two_rows)(const TileArgs& args);
    unsigned two_row_ksizes;
    void (*attend_windows)(const AttentionArgs& args);
    void (*filter_channels_last)(const ChannelsLastArgs& args);
};

namespace {

// Issues the TileArgs prefetches evenly over `steps` calls of step(). Internal linkage: every
// ISA translation unit gets its own copy (see the top of this file).
class Prefetcher {
public:
    Prefetcher(const TileArgs& a, int64_t steps)
        : rows_(a.prefetch_rows), lines_(a.prefetch_lines),
          left_(static_cast<int64_t>(a.prefetch_count) * a.prefetch_lines),
          per_step_(steps > 0 ? (left_ + steps - 1) / steps : left_) {}

    inline void step() {
        for (int64_t n = per_step_ < left_ ? per_step_ : left_; n > 0; --n, --left_) {
            __builtin_prefetch(*rows_ + static_cast<int64_t>(line_) * 64, 0, 2);  // into L2
            if (++line_ == lines_) {
                line_ = 0;
                ++rows_;
            }
        }
    }

private:
    const char* const* rows_;
    int lines_;
    int line_ = 0;
    int64_t left_;
    int64_t per_step_;
};

}  // namespace

const IsaKernels& isa_generic();
#if defined(MGDN_HAVE_X86_ISA)
const IsaKernels& isa_avx2();
const IsaKernels& isa_avx512();
#endif

// The widest table this CPU (and OS) can run; $MGDN_OV_ISA=generic|avx2|avx512 caps it for tests.
const IsaKernels& select_isa();

}  // namespace cpu
}  // namespace mgdn
