// Tile geometry and per-thread arithmetic of the CUDA DynamicFilter kernel, written as MGDN_HD
// helpers so that the host test library (plain g++) runs exactly the index math and the
// accumulation order that the GPU runs. Only shared-memory staging and __syncthreads() stay in
// the .cu file; everything that decides *which* value goes where lives here.
//
// Layout of one block: TILE_W x TILE_H threads, one output pixel per thread. The block stages
// `stage` channels of its feature tile plus a halo of r = (k-1)/2 pixels on each side into
// shared memory (one coalesced read per element), keeps the pixel's k*k taps in registers
// (read once from global memory) and loops over its group of channels.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../common/dynamic_filter_ref.h"

// Device pass only: the host compiler (nvcc's host pass included) does not know the pragma.
#if defined(__CUDA_ARCH__)
#define MGDN_UNROLL _Pragma("unroll")
#else
#define MGDN_UNROLL
#endif

namespace mgdn {

constexpr int kTileW = 32;            // one warp per tile row: coalesced loads and stores
constexpr int kTileH = 8;             // 256 threads per block
constexpr int kMaxStage = 4;          // channels staged per __syncthreads() round
constexpr size_t kSmemLimit = 48 * 1024;  // dynamic shared memory usable without an opt-in

// Everything a launch needs, decided on the host from the tensor shape.
struct LaunchPlan {
    int tiles_x = 0;             // blocks along W
    int tiles_y = 0;             // blocks along H
    int groups = 0;              // channel groups per batch item (grid.z = n * groups)
    int channels_per_group = 0;  // channels one block loops over
    int stage = 0;               // channels staged in shared memory at once
    int halo_w = 0;              // shared tile width including the halo
    int halo_h = 0;              // shared tile height including the halo
    size_t smem_bytes = 0;       // dynamic shared memory per block
};

// nullptr when (n, c, h, w, k) can be filtered, else why not (no message formatting on device).
inline const char* check_dynamic_filter_args(int n, int c, int h, int w, int ksize) {
    if (ksize < 1 || ksize % 2 == 0) return "kernel_size must be odd and positive";
    if (n < 0 || c < 0 || h < 0 || w < 0) return "negative tensor dimension";
    return nullptr;
}

inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Splits channels into groups only when whole-channel blocks would leave SMs idle: every group
// re-reads the k*k taps of its pixels, and the taps tensor is as large as the features (49 vs
// 30-60 channels), so one group per tile is the bandwidth optimum whenever the GPU is full.
inline LaunchPlan plan_launch(int n, int c, int h, int w, int ksize, int elem_bytes, int target_blocks) {
    LaunchPlan p;
    const int r = (ksize - 1) / 2;
    p.tiles_x = ceil_div(w, kTileW);
    p.tiles_y = ceil_div(h, kTileH);
    p.halo_w = kTileW + 2 * r;
    p.halo_h = kTileH + 2 * r;
    const int spatial_blocks = p.tiles_x * p.tiles_y * n;
    int groups = 1;
    if (spatial_blocks > 0 && spatial_blocks < target_blocks) groups = ceil_div(target_blocks, spatial_blocks);
    if (groups > c) groups = c > 0 ? c : 1;
    p.channels_per_group = ceil_div(c, groups);
    p.groups = c > 0 ? ceil_div(c, p.channels_per_group) : 1;
    const size_t plane_bytes = static_cast<size_t>(p.halo_w) * p.halo_h * elem_bytes;
    p.stage = p.channels_per_group < kMaxStage ? p.channels_per_group : kMaxStage;
    while (p.stage > 1 && p.stage * plane_bytes > kSmemLimit) --p.stage;
    p.smem_bytes = p.stage * plane_bytes;
    return p;
}

// What block (bx, by, bz) of a launch planned by plan_launch() works on.
struct BlockWork {
    int n;        // batch item
    int c_begin;  // first channel of its group
    int c_end;    // one past its last channel
    int x0;       // tile origin (no halo)
    int y0;
};

MGDN_HD BlockWork block_work(const LaunchPlan& p, int bx, int by, int bz, int c) {
    BlockWork b;
    b.n = bz / p.groups;
    b.c_begin = (bz - b.n * p.groups) * p.channels_per_group;
    b.c_end = b.c_begin + p.channels_per_group < c ? b.c_begin + p.channels_per_group : c;
    b.x0 = bx * kTileW;
    b.y0 = by * kTileH;
    return b;
}

// Offset (relative to the first staged channel's plane) of the feature element that shared
// slot `idx` holds: slots run channel-major, then halo row, then halo column, so consecutive
// threads read consecutive columns (coalesced), and border rows/columns are replicated.
MGDN_HD int64_t halo_source_offset(int idx, const LaunchPlan& p, int tile_x0, int tile_y0, int r, int h,
                                   int w) {
    const int area = p.halo_w * p.halo_h;
    const int ch = idx / area;
    const int rem = idx - ch * area;
    const int hy = rem / p.halo_w;
    const int hx = rem - hy * p.halo_w;
    const int gy = clamp_index(tile_y0 + hy - r, h - 1);
    const int gx = clamp_index(tile_x0 + hx - r, w - 1);
    return static_cast<int64_t>(ch) * h * w + static_cast<int64_t>(gy) * w + gx;
}

// One output from the staged plane `tile` for the thread at (ly, lx) of the block; the taps come
// from `weight(t)`, t = i*k + j. Same i-major, j-minor order as dynamic_filter_pixel, so host and
// device sum the same products in the same order. K > 0 fixes k at compile time (unrolled,
// taps in registers); K == 0 is the runtime-k fallback.
template <int K, typename T, typename WeightFn>
MGDN_HD float tile_dot(const T* tile, int halo_w, int ly, int lx, int ksize, WeightFn weight) {
    const int k = K > 0 ? K : ksize;
    float acc = 0.0f;
    MGDN_UNROLL
    for (int i = 0; i < (K > 0 ? K : k); ++i) {
        const T* row = tile + (ly + i) * halo_w + lx;
        MGDN_UNROLL
        for (int j = 0; j < (K > 0 ? K : k); ++j) acc += weight(i * k + j) * static_cast<float>(row[j]);
    }
    return acc;
}

}  // namespace mgdn
