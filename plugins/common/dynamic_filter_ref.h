// The per-pixel semantics of MGDN's DynamicFilter, shared by every native backend.
//
//   feat    [N, C, H, W]     kernels [N, k*k, H, W]     out [N, C, H, W]
//   out[n,c,y,x] = sum_{i,j<k} kernels[n, i*k+j, y, x] * feat[n, c, clamp(y+i-r), clamp(x+j-r)]
//
// r = (k-1)/2, clamp = replicate borders, one kernel per pixel shared by all channels.
// The CUDA kernel (TensorRT) and the CPU kernel (OpenVINO, ONNX Runtime) use these helpers for border pixels
// and the host test library compiles them as plain C++, so the arithmetic tested on CPU in CI
// is the arithmetic that runs on the GPU.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define MGDN_HD __host__ __device__ __forceinline__
#else
#define MGDN_HD inline
#endif

namespace mgdn {

MGDN_HD int clamp_index(int v, int hi) { return v < 0 ? 0 : (v > hi ? hi : v); }

// One output value for channel plane `feat_plane` ([H, W]) with the taps of batch item
// `kernels_n` ([k*k, H, W]); accumulates in Acc (float for f32 and f16 inputs).
template <typename T, typename Acc = float>
MGDN_HD Acc dynamic_filter_pixel(const T* feat_plane, const T* kernels_n, int height, int width,
                                 int ksize, int y, int x) {
    const int r = (ksize - 1) / 2;
    const int64_t plane = static_cast<int64_t>(height) * width;
    const int64_t pixel = static_cast<int64_t>(y) * width + x;
    Acc acc = Acc(0);
    for (int i = 0; i < ksize; ++i) {
        const int yy = clamp_index(y + i - r, height - 1);
        for (int j = 0; j < ksize; ++j) {
            const int xx = clamp_index(x + j - r, width - 1);
            const Acc w = static_cast<Acc>(kernels_n[(i * ksize + j) * plane + pixel]);
            acc += w * static_cast<Acc>(feat_plane[static_cast<int64_t>(yy) * width + xx]);
        }
    }
    return acc;
}

// Whole-tensor reference (slow, obvious): the host-side oracle for native tests.
template <typename T, typename Acc = float>
inline void dynamic_filter_reference(const T* feat, const T* kernels, T* out, int n, int c, int height,
                                     int width, int ksize) {
    const int64_t plane = static_cast<int64_t>(height) * width;
    for (int b = 0; b < n; ++b) {
        const T* kern = kernels + static_cast<int64_t>(b) * ksize * ksize * plane;
        for (int ch = 0; ch < c; ++ch) {
            const int64_t offset = (static_cast<int64_t>(b) * c + ch) * plane;
            for (int y = 0; y < height; ++y)
                for (int x = 0; x < width; ++x)
                    out[offset + static_cast<int64_t>(y) * width + x] = static_cast<T>(
                        dynamic_filter_pixel<T, Acc>(feat + offset, kern, height, width, ksize, y, x));
        }
    }
}

}  // namespace mgdn
