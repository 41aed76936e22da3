// The one CUDA implementation of MGDN's DynamicFilter, used by both TensorRT plugin flavours.
// Index math and accumulation live in dynamic_filter_tile.h (shared with the host test library);
// this file adds only shared-memory staging, synchronisation and the launch.
#include "dynamic_filter_kernel.h"

#include <cuda_fp16.h>

#include "dynamic_filter_tile.h"

namespace mgdn {
namespace {

template <typename T, int K>
__global__ void __launch_bounds__(kTileW* kTileH)
    dynamic_filter_kernel(const T* __restrict__ feat, const T* __restrict__ kernels, T* __restrict__ out, int c,
                          int h, int w, int ksize, LaunchPlan p) {
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* tile = reinterpret_cast<T*>(smem_raw);
    const int k = K > 0 ? K : ksize;
    const int r = (k - 1) / 2;
    const BlockWork b = block_work(p, blockIdx.x, blockIdx.y, blockIdx.z, c);
    const int x = b.x0 + threadIdx.x;
    const int y = b.y0 + threadIdx.y;
    const bool inside = x < w && y < h;
    const int64_t plane = static_cast<int64_t>(h) * w;
    const int64_t pixel = static_cast<int64_t>(y) * w + x;
    const T* taps = kernels + static_cast<int64_t>(b.n) * k * k * plane + pixel;

    // The pixel's taps are read once and reused for every channel of the group.
    float wreg[K > 0 ? K * K : 1];
    if constexpr (K > 0) {
        if (inside) {
            MGDN_UNROLL
            for (int t = 0; t < K * K; ++t) wreg[t] = static_cast<float>(taps[t * plane]);
        }
    }

    const int tid = threadIdx.y * kTileW + threadIdx.x;
    const int area = p.halo_w * p.halo_h;
    for (int c0 = b.c_begin; c0 < b.c_end; c0 += p.stage) {
        const int staged = min(p.stage, b.c_end - c0);
        const T* src = feat + (static_cast<int64_t>(b.n) * c + c0) * plane;
        for (int idx = tid; idx < staged * area; idx += kTileW * kTileH)
            tile[idx] = src[halo_source_offset(idx, p, b.x0, b.y0, r, h, w)];
        __syncthreads();
        if (inside) {
            T* dst = out + (static_cast<int64_t>(b.n) * c + c0) * plane + pixel;
            for (int s = 0; s < staged; ++s) {
                const T* plane_tile = tile + s * area;
                float acc;
                if constexpr (K > 0) {
                    acc = tile_dot<K>(plane_tile, p.halo_w, threadIdx.y, threadIdx.x, k,
                                      [&](int t) { return wreg[t]; });
                } else {
                    acc = tile_dot<0>(plane_tile, p.halo_w, threadIdx.y, threadIdx.x, k,
                                      [&](int t) { return static_cast<float>(taps[t * plane]); });
                }
                dst[s * plane] = static_cast<T>(acc);
            }
        }
        __syncthreads();
    }
}

template <typename T>
cudaError_t launch_typed(const T* feat, const T* kernels, T* out, int n, int c, int h, int w, int ksize,
                         cudaStream_t stream) {
    int device = 0;
    int sms = 0;
    cudaError_t status = cudaGetDevice(&device);
    if (status == cudaSuccess) status = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    if (status != cudaSuccess) return status;
    // Four resident blocks per SM keep the memory pipes busy while others wait on __syncthreads().
    const LaunchPlan p = plan_launch(n, c, h, w, ksize, sizeof(T), 4 * sms);
    if (p.smem_bytes > kSmemLimit) return cudaErrorInvalidValue;  // k too large for one staged plane
    if (p.tiles_y > 65535 || static_cast<int64_t>(n) * p.groups > 65535) return cudaErrorInvalidConfiguration;
    const dim3 grid(p.tiles_x, p.tiles_y, n * p.groups);
    const dim3 block(kTileW, kTileH);
    switch (ksize) {
        case 3:
            dynamic_filter_kernel<T, 3><<<grid, block, p.smem_bytes, stream>>>(feat, kernels, out, c, h, w, ksize, p);
            break;
        case 5:
            dynamic_filter_kernel<T, 5><<<grid, block, p.smem_bytes, stream>>>(feat, kernels, out, c, h, w, ksize, p);
            break;
        case 7:
            dynamic_filter_kernel<T, 7><<<grid, block, p.smem_bytes, stream>>>(feat, kernels, out, c, h, w, ksize, p);
            break;
        default:
            dynamic_filter_kernel<T, 0><<<grid, block, p.smem_bytes, stream>>>(feat, kernels, out, c, h, w, ksize, p);
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
