// CUDA launcher of MGDN's DynamicFilter (semantics in ../common/dynamic_filter_ref.h).
// Host-only declarations, so the TensorRT plugins compile as plain C++ against it.
#pragma once

#include <cuda_runtime_api.h>

namespace mgdn {

enum class DfType : int { kFloat32 = 0, kFloat16 = 1 };

// out = DynamicFilter(feat, kernels), all NCHW contiguous device buffers of `type`
// (f16 accumulates in f32). Fast paths for k = 3, 5, 7; any other odd k takes the generic
// kernel. Returns cudaErrorInvalidValue for bad arguments, else the launch status; never syncs.
cudaError_t launch_dynamic_filter(DfType type, const void* feat, const void* kernels, void* out, int n, int c,
                                  int h, int w, int ksize, cudaStream_t stream);

}  // namespace mgdn

// C ABI for ctypes (GPU tests and the benchmark): returns the cudaError_t as int.
extern "C" __attribute__((visibility("default"))) int mgdn_dynamic_filter_cuda(int type, const void* feat,
                                                                                const void* kernels, void* out,
                                                                                int n, int c, int h, int w,
                                                                                int ksize, void* stream);

// The GPU facts the launch plan and the benchmark's model use, for the current device:
// info[0..4] = SMs, SM clock (kHz), memory clock (kHz), memory bus width (bits), shared memory per
// SM (bytes). Returns the cudaError_t as int.
extern "C" __attribute__((visibility("default"))) int mgdn_dynamic_filter_cuda_device_info(int* info);
