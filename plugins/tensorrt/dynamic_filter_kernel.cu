// The one CUDA implementation of MGDN's DynamicFilter, used by both TensorRT plugin flavours.
// Index math and accumulation live in dynamic_filter_tile.h (shared with the host test library);
// this file adds only shared-memory staging, synchronisation and the launch.
#include "dynamic_filter_kernel.h"

#include <cuda_fp16.h>

#include "dynamic_filter_tile.h"

namespace mgdn {
namespace {

// A hint, no values: L2 prefetches of `staged` halo planes, issued one stage ahead so that the
// next stage's loads (two in flight per thread, see the kernel) wait on L2 instead of DRAM while
// this stage computes. One item per (plane, halo row, 32-column chunk); it touches the chunk's
// first and last element, i.e. every 128-byte line the chunk spans. Only transient registers.
template <int kHaloW, int kHaloH, typename T>
__device__ __forceinline__ void prefetch_planes(const T* planes, int staged, int64_t plane, int halo_w, int halo_h,
                                                int x0, int y0, int r, int h, int w) {
    const int hw = kHaloW > 0 ? kHaloW : halo_w;
    const int hh = kHaloH > 0 ? kHaloH : halo_h;
    const int chunks = (hw + kThreadsX - 1) / kThreadsX;
    // Fast paths: a whole stage is at most kThreads items, one per thread (no loop state).
    constexpr bool kOneItem = kHaloW > 0 && kMaxStage * kHaloH * ((kHaloW + kThreadsX - 1) / kThreadsX) <= kThreads;
    const int items = staged * hh * chunks;
    for (int item = threadIdx.y * kThreadsX + threadIdx.x; item < items; item += kThreads) {
        const int row = item / chunks;  // staged plane * hh + halo row
        const int s = row / hh;
        const int hy = row - s * hh;
        const int e0 = hy * hw + (item - row * chunks) * kThreadsX;
        const int e1 = min(e0 + kThreadsX, (hy + 1) * hw) - 1;
        const T* base = planes + s * plane;
        asm volatile("prefetch.global.L2 [%0];" ::"l"(base + halo_source_offset(e0, hw, x0, y0, r, h, w)));
        asm volatile("prefetch.global.L2 [%0];" ::"l"(base + halo_source_offset(e1, hw, x0, y0, r, h, w)));
        if (kOneItem) break;
    }
}

// One block: kThreadsX x kThreadsY threads, each computing M = kOutputsPerThread<K> adjacent x
// outputs of every channel in its block's channel group (layout and reuse: dynamic_filter_tile.h).
// __launch_bounds__ carries the resident blocks per SM that plan_for_device() assumes, so ptxas
// keeps the register count low enough for them (checked by tests/test_tensorrt_ptxas.py); the
// live state outside the taps is kept to a few registers for the same reason (k = 7: 98 taps).
template <typename T, int K>
__global__ void __launch_bounds__(kThreads, kBlocksPerSm<K>)
    dynamic_filter_kernel(const T* __restrict__ feat, const T* __restrict__ kernels, T* __restrict__ out, int c,
                          int h, int w, int ksize, int64_t plane, LaunchPlan p) {
    constexpr int M = kOutputsPerThread<K>;
    // Fast paths: the halo geometry is a compile-time constant (plan_launch computes the same).
    constexpr int kHaloW = K > 0 ? kThreadsX * M + K - 1 : 0;
    constexpr int kHaloH = K > 0 ? kThreadsY + K - 1 : 0;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* tile = reinterpret_cast<T*>(smem_raw);
    const int k = K > 0 ? K : ksize;
    const int r = (k - 1) / 2;
    const int halo_w = K > 0 ? kHaloW : p.halo_w;
    const int area = K > 0 ? kHaloW * kHaloH : p.halo_w * p.halo_h;
    const BlockWork b = block_work(p, blockIdx.x, blockIdx.y, blockIdx.z, c);
    const int x = b.x0 + static_cast<int>(threadIdx.x) * M;  // first of the thread's M outputs
    const int y = b.y0 + threadIdx.y;
    // Outputs of this thread inside the image: 0 .. M (W need not be a multiple of M).
    const int valid = y < h ? max(0, min(M, w - x)) : 0;
    const int64_t pixel = static_cast<int64_t>(y) * w + x;

    // The taps of the thread's M pixels are read once and reused for every channel of the group;
    // a pixel beyond W gets zero taps (its output is not stored).
    float wreg[M][K > 0 ? K * K : 1];
    const T* taps = kernels + static_cast<int64_t>(b.n) * k * k * plane + pixel;
    if constexpr (K > 0) {
        MGDN_UNROLL
        for (int m = 0; m < M; ++m) {
            MGDN_UNROLL
            for (int t = 0; t < K * K; ++t) wreg[m][t] = m < valid ? static_cast<float>(taps[t * plane + m]) : 0.0f;
        }
    }

    const int64_t first = (static_cast<int64_t>(b.n) * c + b.c_begin) * plane;
    const T* src = feat + first;     // first staged plane of this round
    T* dst = out + first + pixel;    // this thread's first output of this round
    const int tid = threadIdx.y * kThreadsX + threadIdx.x;
    prefetch_planes<kHaloW, kHaloH>(src, min(p.stage, b.c_end - b.c_begin), plane, p.halo_w, p.halo_h, b.x0, b.y0,
                                    r, h, w);
    for (int left = b.c_end - b.c_begin; left > 0; left -= p.stage) {
        const int staged = min(p.stage, left);
        // One halo offset per slot, the same for every staged plane: up to kMaxStage independent
        // loads in flight per thread (more would spill at k = 7, with 98 taps live in registers).
#pragma unroll 1
        for (int e = tid; e < area; e += kThreads) {
            const int offset = halo_source_offset(e, halo_w, b.x0, b.y0, r, h, w);
            T v[kMaxStage];
            MGDN_UNROLL
            for (int s = 0; s < kMaxStage; ++s)
                if (s < staged) v[s] = src[s * plane + offset];
            MGDN_UNROLL
            for (int s = 0; s < kMaxStage; ++s)
                if (s < staged) tile[s * area + e] = v[s];
        }
        __syncthreads();
        src += p.stage * plane;
        if (left > p.stage)
            prefetch_planes<kHaloW, kHaloH>(src, min(p.stage, left - p.stage), plane, p.halo_w, p.halo_h, b.x0, b.y0,
                                            r, h, w);
        if (valid > 0) {
            for (int s = 0; s < staged; ++s) {
                float acc[M];
                if constexpr (K > 0) {
                    thread_outputs<K>(tile + s * area, halo_w, threadIdx.y, threadIdx.x, k,
                                      [&](int m, int t) { return wreg[m][t]; }, acc);
                } else {
                    thread_outputs<0>(tile + s * area, halo_w, threadIdx.y, threadIdx.x, k,
                                      [&](int, int t) { return static_cast<float>(taps[t * plane]); }, acc);
                }
                MGDN_UNROLL
                for (int m = 0; m < M; ++m)
                    if (m < valid) dst[s * plane + m] = static_cast<T>(acc[m]);
            }
        }
        dst += p.stage * plane;
        __syncthreads();
    }
}

template <typename T>
cudaError_t launch_typed(const T* feat, const T* kernels, T* out, int n, int c, int h, int w, int ksize,
                         cudaStream_t stream) {
    int device = 0;
    int sms = 0;
    int smem_per_sm = 0;
    cudaError_t status = cudaGetDevice(&device);
    if (status == cudaSuccess) status = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    if (status == cudaSuccess)
        status = cudaDeviceGetAttribute(&smem_per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device);
    if (status != cudaSuccess) return status;
    const LaunchPlan p =
        plan_for_device(n, c, h, w, ksize, sizeof(T), DeviceLimits{sms, static_cast<size_t>(smem_per_sm)});
    if (p.smem_bytes > kSmemLimit) return cudaErrorInvalidValue;  // k too large for one staged plane
    if (p.tiles_y > 65535 || static_cast<int64_t>(n) * p.groups > 65535) return cudaErrorInvalidConfiguration;
    const int64_t plane = static_cast<int64_t>(h) * w;
    const dim3 grid(p.tiles_x, p.tiles_y, n * p.groups);
    const dim3 block(kThreadsX, kThreadsY);
    switch (kernel_path(ksize)) {
        case 3:
            dynamic_filter_kernel<T, 3><<<grid, block, p.smem_bytes, stream>>>(feat, kernels, out, c, h, w, ksize, plane, p);
            break;
        case 5:
            dynamic_filter_kernel<T, 5><<<grid, block, p.smem_bytes, stream>>>(feat, kernels, out, c, h, w, ksize, plane, p);
            break;
        case 7:
            dynamic_filter_kernel<T, 7><<<grid, block, p.smem_bytes, stream>>>(feat, kernels, out, c, h, w, ksize, plane, p);
            break;
        default:
            dynamic_filter_kernel<T, 0><<<grid, block, p.smem_bytes, stream>>>(feat, kernels, out, c, h, w, ksize, plane, p);
    }
    return cudaGetLastError();
}

}  // namespace

cudaError_t launch_dynamic_filter(DfType type, const void* feat, const void* kernels, void* out, int n, int c,
                                  int h, int w, int ksize, cudaStream_t stream) {
    if (check_dynamic_filter_args(n, c, h, w, ksize) != nullptr) return cudaErrorInvalidValue;
    if (n == 0 || c == 0 || h == 0 || w == 0) return cudaSuccess;
    switch (type) {
        case DfType::kFloat32:
            return launch_typed(static_cast<const float*>(feat), static_cast<const float*>(kernels),
                                static_cast<float*>(out), n, c, h, w, ksize, stream);
        case DfType::kFloat16:
            return launch_typed(static_cast<const __half*>(feat), static_cast<const __half*>(kernels),
                                static_cast<__half*>(out), n, c, h, w, ksize, stream);
    }
    return cudaErrorInvalidValue;
}

}  // namespace mgdn

int mgdn_dynamic_filter_cuda(int type, const void* feat, const void* kernels, void* out, int n, int c, int h, int w,
                             int ksize, void* stream) {
    if (type != static_cast<int>(mgdn::DfType::kFloat32) && type != static_cast<int>(mgdn::DfType::kFloat16))
        return static_cast<int>(cudaErrorInvalidValue);
    return static_cast<int>(mgdn::launch_dynamic_filter(static_cast<mgdn::DfType>(type), feat, kernels, out, n, c,
                                                        h, w, ksize, static_cast<cudaStream_t>(stream)));
}

int mgdn_dynamic_filter_cuda_device_info(int* info) {
    // sms, SM clock (kHz), memory clock (kHz), memory bus width (bits), shared memory per SM (bytes)
    static const cudaDeviceAttr attrs[5] = {cudaDevAttrMultiProcessorCount, cudaDevAttrClockRate,
                                            cudaDevAttrMemoryClockRate, cudaDevAttrGlobalMemoryBusWidth,
                                            cudaDevAttrMaxSharedMemoryPerMultiprocessor};
    int device = 0;
    cudaError_t status = cudaGetDevice(&device);
    for (int i = 0; i < 5 && status == cudaSuccess; ++i) status = cudaDeviceGetAttribute(&info[i], attrs[i], device);
    return static_cast<int>(status);
}
