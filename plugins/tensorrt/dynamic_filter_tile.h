// Tile geometry, launch plan and per-thread arithmetic of the CUDA DynamicFilter kernel, written
// as MGDN_HD helpers so that the host test library (plain g++) runs exactly the index math and the
// accumulation order that the GPU runs. Only shared-memory staging loops, __syncthreads() and the
// launch stay in the .cu file; everything that decides *which* value goes where lives here.
//
// Layout of one block: kThreadsX x kThreadsY = 32 x 8 threads. A thread of a fast path (k = 3, 5,
// 7) computes M = 2 horizontally adjacent outputs, so the block's tile is 64 x 8 pixels; the
// generic runtime-k path keeps one output per thread (32 x 8 tile). The block stages `stage`
// channels of its feature tile plus a halo of r = (k-1)/2 pixels on each side into shared memory
// (one coalesced global read per element), keeps its pixels' taps in registers (read once from
// global memory) and loops over its group of channels.
//
// Why M = 2 adjacent x outputs, and not several channels per thread: the taps are per pixel and
// shared by all channels, so they are already read once and kept in registers across the whole
// channel loop; processing several channels per thread saves nothing, because every channel needs
// its own k*k feature values. Feature values, however, are shared between neighbouring pixels:
// the M outputs of a row reuse one run of k + M - 1 staged values per filter row, so a thread
// loads k*(k+M-1) values for M outputs instead of k*k per output (k = 7: 49 -> 28 per output),
// and the run is read as aligned pairs (float2 / __half2), which for f16 also halves the load
// instructions. M is capped at 2 by registers: each extra pixel keeps another k*k taps in
// registers (M = 2, k = 7: 98 of them), and M = 4 (196 taps) would not fit two blocks per SM.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../common/dynamic_filter_ref.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#endif

// Device pass only: the host compiler (nvcc's host pass included) does not know the pragma.
#if defined(__CUDA_ARCH__)
#define MGDN_UNROLL _Pragma("unroll")
#else
#define MGDN_UNROLL
#endif

namespace mgdn {

constexpr int kThreadsX = 32;  // one warp per tile row: coalesced loads and stores
constexpr int kThreadsY = 8;
constexpr int kThreads = kThreadsX * kThreadsY;  // 256 threads per block
constexpr int kMaxStage = 4;                     // channels staged per __syncthreads() round
constexpr size_t kSmemLimit = 48 * 1024;         // dynamic shared memory usable without an opt-in
constexpr size_t kSmemReservedPerBlock = 1024;   // shared memory the driver reserves per block (sm_80+)

// Compile-time facts of one kernel instantiation; K = 0 is the runtime-k fallback.
// kOutputsPerThread: adjacent x outputs per thread (see the header comment).
// kBlocksPerSm: resident blocks per SM the launch plan counts on. The kernel passes it to
// __launch_bounds__, so ptxas keeps registers at or below 65536 / (256 * blocks) (k = 7: 128,
// k = 5: 80, k = 3 and generic: 64) and tests/test_tensorrt_ptxas.py checks the real counts.
template <int K>
constexpr int kOutputsPerThread = K > 0 ? 2 : 1;
template <int K>
constexpr int kBlocksPerSm = K == 7 ? 2 : K == 5 ? 3 : 4;

// The compiled path that serves kernel size `ksize`: 3, 5, 7 (unrolled, taps in registers) or 0.
inline int kernel_path(int ksize) { return ksize == 3 || ksize == 5 || ksize == 7 ? ksize : 0; }

struct KernelConfig {
    int path = 0;                // 3, 5, 7 or 0 (generic)
    int outputs_per_thread = 1;  // adjacent x outputs per thread
    int threads = kThreads;      // threads per block
    int blocks_per_sm = 1;       // resident blocks per SM the plan assumes (__launch_bounds__ min blocks)
};

inline KernelConfig kernel_config(int ksize) {
    KernelConfig cfg;
    cfg.path = kernel_path(ksize);
    switch (cfg.path) {
        case 3: cfg.outputs_per_thread = kOutputsPerThread<3>; cfg.blocks_per_sm = kBlocksPerSm<3>; break;
        case 5: cfg.outputs_per_thread = kOutputsPerThread<5>; cfg.blocks_per_sm = kBlocksPerSm<5>; break;
        case 7: cfg.outputs_per_thread = kOutputsPerThread<7>; cfg.blocks_per_sm = kBlocksPerSm<7>; break;
        default: cfg.outputs_per_thread = kOutputsPerThread<0>; cfg.blocks_per_sm = kBlocksPerSm<0>;
    }
    return cfg;
}

// What the plan needs to know about the GPU (queried at enqueue; the host build uses kOrinAgx).
struct DeviceLimits {
    int sms;             // streaming multiprocessors
    size_t smem_per_sm;  // shared memory per SM usable by blocks
};
constexpr DeviceLimits kOrinAgx{16, 164 * 1024};  // AGX Orin 64 GB: 2048 CUDA cores = 16 SMs (sm_87)

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
    int outputs_per_thread = 1;  // adjacent x outputs per thread (kernel_config)
    int tile_w = 0;              // output columns per block = kThreadsX * outputs_per_thread
    int tile_h = 0;              // output rows per block = kThreadsY
    int blocks_per_sm = 0;       // resident blocks per SM assumed when splitting channels
};

// nullptr when (n, c, h, w, k) can be filtered, else why not (no message formatting on device).
inline const char* check_dynamic_filter_args(int n, int c, int h, int w, int ksize) {
    if (ksize < 1 || ksize % 2 == 0) return "kernel_size must be odd and positive";
    if (n < 0 || c < 0 || h < 0 || w < 0) return "negative tensor dimension";
    if (static_cast<int64_t>(h) * w > INT32_MAX) return "H*W must be below 2^31";
    return nullptr;
}

inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

// Shared memory one block may use so that `blocks_per_sm` of them are resident on one SM.
inline size_t smem_budget_per_block(size_t smem_per_sm, int blocks_per_sm) {
    const size_t share = smem_per_sm / static_cast<size_t>(blocks_per_sm);
    const size_t budget = share > kSmemReservedPerBlock ? share - kSmemReservedPerBlock : 0;
    return budget < kSmemLimit ? budget : kSmemLimit;
}

// Splits channels into groups only when whole-channel blocks would leave SMs idle: every group
// re-reads the k*k taps of its pixels, and the taps tensor is as large as the features (49 vs
// 30-60 channels), so one group per tile is the bandwidth optimum whenever the GPU is full.
// The stage shrinks until `stage` planes fit `smem_budget`; smem_bytes > kSmemLimit means even
// one plane does not fit (a huge k), which the launchers refuse.
inline LaunchPlan plan_launch(int n, int c, int h, int w, int ksize, int elem_bytes, int target_blocks,
                              size_t smem_budget = kSmemLimit) {
    LaunchPlan p;
    const KernelConfig cfg = kernel_config(ksize);
    const int r = (ksize - 1) / 2;
    p.outputs_per_thread = cfg.outputs_per_thread;
    p.blocks_per_sm = cfg.blocks_per_sm;
    p.tile_w = kThreadsX * cfg.outputs_per_thread;
    p.tile_h = kThreadsY;
    p.tiles_x = ceil_div(w, p.tile_w);
    p.tiles_y = ceil_div(h, p.tile_h);
    p.halo_w = p.tile_w + 2 * r;
    p.halo_h = p.tile_h + 2 * r;
    const int spatial_blocks = p.tiles_x * p.tiles_y * n;
    int groups = 1;
    if (spatial_blocks > 0 && spatial_blocks < target_blocks) groups = ceil_div(target_blocks, spatial_blocks);
    if (groups > c) groups = c > 0 ? c : 1;
    p.channels_per_group = ceil_div(c, groups);
    p.groups = c > 0 ? ceil_div(c, p.channels_per_group) : 1;
    const size_t plane_bytes = static_cast<size_t>(p.halo_w) * p.halo_h * elem_bytes;
    p.stage = p.channels_per_group < kMaxStage ? p.channels_per_group : kMaxStage;
    while (p.stage > 1 && p.stage * plane_bytes > smem_budget) --p.stage;
    p.smem_bytes = p.stage * plane_bytes;
    return p;
}

// The plan on a given GPU: blocks_per_sm resident blocks per SM, each within its shared-memory share.
inline LaunchPlan plan_for_device(int n, int c, int h, int w, int ksize, int elem_bytes, DeviceLimits dev) {
    const KernelConfig cfg = kernel_config(ksize);
    return plan_launch(n, c, h, w, ksize, elem_bytes, cfg.blocks_per_sm * dev.sms,
                       smem_budget_per_block(dev.smem_per_sm, cfg.blocks_per_sm));
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
    b.x0 = bx * p.tile_w;
    b.y0 = by * p.tile_h;
    return b;
}

// Offset (relative to the staged channel's plane) of the feature element that slot `e` of a
// halo_w x halo_h shared plane holds: row-major, so consecutive threads read consecutive columns
// (coalesced), and border rows/columns are replicated. The fast paths pass compile-time halo
// sizes, so the division is a multiply; 32-bit offsets keep the staging loop's registers low.
MGDN_HD int halo_source_offset(int e, int halo_w, int tile_x0, int tile_y0, int r, int h, int w) {
    const int hy = e / halo_w;
    const int hx = e - hy * halo_w;
    const int gy = clamp_index(tile_y0 + hy - r, h - 1);
    const int gx = clamp_index(tile_x0 + hx - r, w - 1);
    return gy * w + gx;  // < H*W < 2^31 (check_dynamic_filter_args)
}

// Two adjacent staged values as floats. On the GPU one 8-byte (float2) or 4-byte (__half2) shared
// load; callers pass even element offsets from a 16-byte aligned tile with an even halo_w, so the
// pair is aligned and a warp's pair loads are bank-conflict free.
template <typename T>
MGDN_HD void load_pair(const T* p, float& a, float& b) {
    a = static_cast<float>(p[0]);
    b = static_cast<float>(p[1]);
}
#if defined(__CUDA_ARCH__)
__device__ __forceinline__ void load_pair(const float* p, float& a, float& b) {
    const float2 v = *reinterpret_cast<const float2*>(p);
    a = v.x;
    b = v.y;
}
__device__ __forceinline__ void load_pair(const __half* p, float& a, float& b) {
    const float2 v = __half22float2(*reinterpret_cast<const __half2*>(p));
    a = v.x;
    b = v.y;
}
#endif

// The M = kOutputsPerThread<K> outputs of the thread at (ly, lx) of the block from the staged
// plane `tile` (halo_w columns). Its outputs are tile columns lx*M .. lx*M+M-1; the taps of
// output m come from `weight(m, t)`, t = i*k + j. Every output sums its k*k products in the same
// i-major, j-minor order as dynamic_filter_pixel, so host and device add the same products in the
// same order. K > 0: k fixed at compile time, unrolled, one run of k+M-1 values per filter row
// loaded as pairs and shared by the M outputs. K == 0: runtime k, M = 1, scalar loads.
template <int K, typename T, typename WeightFn>
MGDN_HD void thread_outputs(const T* tile, int halo_w, int ly, int lx, int ksize, WeightFn weight,
                            float (&acc)[kOutputsPerThread<K>]) {
    constexpr int M = kOutputsPerThread<K>;
    if constexpr (K > 0) {
        constexpr int kRun = K + M - 1;
        static_assert(M % 2 == 0 && kRun % 2 == 0, "pair loads need an even M and an even run");
        MGDN_UNROLL
        for (int m = 0; m < M; ++m) acc[m] = 0.0f;
        MGDN_UNROLL
        for (int i = 0; i < K; ++i) {
            const T* row = tile + (ly + i) * halo_w + lx * M;
            // Streamed: pair q brings v[q], v[q+1]; column j of output m needs v[j + m], so each
            // output's products still come in ascending j. At most a few values are live.
            float v[kRun];
            MGDN_UNROLL
            for (int q = 0; q < kRun; q += 2) {
                load_pair(row + q, v[q], v[q + 1]);
                MGDN_UNROLL
                for (int m = 0; m < M; ++m) {
                    MGDN_UNROLL
                    for (int j = q - m; j < q + 2 - m; ++j)
                        if (j >= 0 && j < K) acc[m] += weight(m, i * K + j) * v[j + m];
                }
            }
        }
    } else {
        const int k = ksize;
        float sum = 0.0f;
        for (int i = 0; i < k; ++i) {
            const T* row = tile + (ly + i) * halo_w + lx;
            for (int j = 0; j < k; ++j) sum += weight(0, i * k + j) * static_cast<float>(row[j]);
        }
        acc[0] = sum;
    }
}

}  // namespace mgdn
