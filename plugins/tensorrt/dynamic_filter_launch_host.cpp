// launch_dynamic_filter() for the host-kernel build of the plugin (MGDN_TRT_HOST_KERNEL): the
// plugin's enqueue runs the CUDA kernel's tile code (dynamic_filter_tile.h, emulated block by
// block in dynamic_filter_host.cpp) on host pointers, synchronously. It exists so the contract
// harness can drive a real plugin library through enqueue on a machine without a GPU; it is never
// shipped (the target is libmgdn_trt_host.so, not libmgdn_trt.so).
#include <cstdint>

#include "dynamic_filter_kernel.h"

#include "dynamic_filter_tile.h"

extern "C" int mgdn_df_tiled_f32(const float* feat, const float* kernels, float* out, int n, int c, int h, int w,
                                 int ksize, int target_blocks);
extern "C" int mgdn_df_tiled_f16(const uint16_t* feat, const uint16_t* kernels, uint16_t* out, int n, int c, int h,
                                 int w, int ksize, int target_blocks);

namespace mgdn {

cudaError_t launch_dynamic_filter(DfType type, const void* feat, const void* kernels, void* out, int n, int c, int h,
                                  int w, int ksize, cudaStream_t /*stream*/) {
    // The launch plan of a 16-SM AGX Orin, so the host run splits channels exactly as the GPU there would.
    const int kHostTargetBlocks = kernel_config(ksize).blocks_per_sm * kOrinAgx.sms;
    int status = 1;
    switch (type) {
        case DfType::kFloat32:
            status = mgdn_df_tiled_f32(static_cast<const float*>(feat), static_cast<const float*>(kernels),
                                       static_cast<float*>(out), n, c, h, w, ksize, kHostTargetBlocks);
            break;
        case DfType::kFloat16:
            status = mgdn_df_tiled_f16(static_cast<const uint16_t*>(feat), static_cast<const uint16_t*>(kernels),
                                       static_cast<uint16_t*>(out), n, c, h, w, ksize, kHostTargetBlocks);
            break;
    }
    return status == 0 ? cudaSuccess : cudaErrorInvalidValue;
}

}  // namespace mgdn
