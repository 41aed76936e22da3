// The DynamicFilter on channels-last tensors (IsaKernels::filter_channels_last), compiled once per
// ISA: each dynamic_filter_isa_*.cpp includes it. This is the layout OpenVINO's CPU plugin keeps
// convolution outputs in, so the op reads its neighbours' tensors as they are.
//
// A pixel's channels lie in the lanes of 16-float vectors, so each tap is one broadcast kernel
// value times one feature vector per channel block: out[y][x][:] = sum over taps t = (i, j) of
// kernels[y][x][t] * feat[clamp(y + i - r)][clamp(x + j - r)][:], accumulated in tap order.
// kChannelsLastPixels neighbouring pixels run at once (independent FMA chains). The k source rows
// an output row needs sit in a ring of f32 rows, each widened once and padded with r replicated
// pixels on either side, so the inner loop has no clamps. Internal linkage (see dynamic_filter_isa.hpp).
#pragma once

#include <cstdint>

#include "token_lanes_simd.hpp"

namespace {
namespace channels_last {

using namespace lanes;

// Source row `pixels` (w pixels of io.cols channels) into `slot`: pixel x at x + r, padded to
// `lanes` floats, with the first and last pixel repeated r times on either side.
inline void widen_row(const char* pixels, const RowBlocks& io, int w, int r, int lanes, float* slot) {
    const int64_t pixel_bytes = static_cast<int64_t>(io.cols) * io.size;
    for (int x = 0; x < w; ++x) {
        float* dst = slot + static_cast<int64_t>(x + r) * lanes;
        for (int c0 = 0; c0 < io.cols; c0 += 16) store16(dst + c0, read_block(pixels + x * pixel_bytes, io, c0));
    }
    for (int e = 0; e < r; ++e) {
        __builtin_memcpy(slot + static_cast<int64_t>(e) * lanes, slot + static_cast<int64_t>(r) * lanes,
                         lanes * sizeof(float));
        __builtin_memcpy(slot + static_cast<int64_t>(w + r + e) * lanes, slot + static_cast<int64_t>(w + r - 1) * lanes,
                         lanes * sizeof(float));
    }
}

// P pixels' channel block at `lanes_offset`: sum over taps of tap value times feature vector.
// rows[i]: source row i of the window, already offset to the first pixel's leftmost tap;
// taps: the P pixels' taps as f32, pixel p's at taps + p * k * k.
template <int P>
inline void filter_block(const float* const* rows, int k, int lanes, int lanes_offset, const float* taps, v16* acc) {
    const int ntaps = k * k;
    for (int p = 0; p < P; ++p) acc[p] = v16{};
    for (int i = 0; i < k; ++i) {
        const float* src = rows[i] + lanes_offset;
        for (int j = 0; j < k; ++j) {
            const float* tap = taps + i * k + j;
            for (int p = 0; p < P; ++p)
                acc[p] += tap[p * ntaps] * load16(src + static_cast<int64_t>(p + j) * lanes);
        }
    }
}

// P pixels from x0 of output row `out_row`: their taps widened, each channel block filtered, the
// pixels written.
template <int P>
inline void filter_pixels(const float* const* ring_rows, const char* tap_row, char* out_row, int x0, int k,
                          int lanes, const RowBlocks& io, const RowBlocks& taps_io, float* taps) {
    const int ntaps = k * k;
    const char* first_tap = tap_row + static_cast<int64_t>(x0) * ntaps * taps_io.size;
    for (int c0 = 0; c0 < P * ntaps; c0 += 16) store16(taps + c0, read_block(first_tap, taps_io, c0));
    const float* rows[64];
    for (int i = 0; i < k; ++i) rows[i] = ring_rows[i] + static_cast<int64_t>(x0) * lanes;
    v16 out[P][mgdn::cpu::kMaxChannelsLastChannels / 16];
    for (int c0 = 0; c0 < io.cols; c0 += 16) {
        v16 acc[P];
        filter_block<P>(rows, k, lanes, c0, taps, acc);
        for (int p = 0; p < P; ++p) out[p][c0 / 16] = acc[p];
    }
    const int64_t pixel_bytes = static_cast<int64_t>(io.cols) * io.size;
    for (int p = 0; p < P; ++p) write_row(out_row + (x0 + p) * pixel_bytes, io, out[p], 1);
}

}  // namespace channels_last

void filter_channels_last(const mgdn::cpu::ChannelsLastArgs& a) {
    using namespace channels_last;
    constexpr int P = mgdn::cpu::kChannelsLastPixels;
    const int k = a.ksize, r = k / 2, w = a.w, h = a.h, ntaps = k * k;
    const int lanes = (a.channels + 15) / 16 * 16;
    const int64_t slot_floats = mgdn::cpu::channels_last_slot_floats(w, a.channels, k);
    const RowBlocks io = row_blocks(a.channels, a.element);
    const RowBlocks taps_io = row_blocks(P * ntaps, a.element), tail_taps_io = row_blocks(ntaps, a.element);
    const int64_t pixel_bytes = static_cast<int64_t>(a.channels) * io.size;
    const int64_t row_bytes = w * pixel_bytes, tap_row_bytes = static_cast<int64_t>(w) * ntaps * io.size;
    float* const ring = a.scratch;
    float* const taps = ring + k * slot_floats;
    int64_t held[64];  // ring slot s holds source row held[s] (n * h + y), or -1
    for (int s = 0; s < k; ++s) held[s] = -1;
    const float* ring_rows[64];
    for (int64_t row = a.first_row; row < a.first_row + a.count; ++row) {
        const int64_t image = row / h;
        const int y = static_cast<int>(row % h);
        for (int i = 0; i < k; ++i) {
            int sy = y + i - r;
            sy = sy < 0 ? 0 : sy >= h ? h - 1 : sy;
            const int64_t source = image * h + sy;
            const int s = sy % k;  // the window's distinct source rows are consecutive: distinct slots
            float* slot = ring + s * slot_floats;
            if (held[s] != source) {
                widen_row(static_cast<const char*>(a.feat) + source * row_bytes, io, w, r, lanes, slot);
                held[s] = source;
            }
            ring_rows[i] = slot;
        }
        const char* tap_row = static_cast<const char*>(a.kernels) + row * tap_row_bytes;
        char* out_row = static_cast<char*>(a.out) + row * row_bytes;
        int x = 0;
        for (; x + P <= w; x += P) filter_pixels<P>(ring_rows, tap_row, out_row, x, k, lanes, io, taps_io, taps);
        for (; x < w; ++x) filter_pixels<1>(ring_rows, tap_row, out_row, x, k, lanes, io, tail_taps_io, taps);
    }
}

}  // namespace
