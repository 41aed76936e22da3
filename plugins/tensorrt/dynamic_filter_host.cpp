// Host test library: the DynamicFilter arithmetic of the GPU path, compiled with plain g++ so CI
// can check it against the PyTorch oracle without a GPU. Two entry points per dtype:
//   *_reference: the shared per-pixel definition (dynamic_filter_reference),
//   *_tiled:     a block-by-block emulation of dynamic_filter_kernel.cu that uses the same
//                plan_launch / block_work / halo_source_offset / thread_outputs helpers as the GPU.
// f16 uses a small IEEE binary16 type with round-to-nearest-even, like __half's conversions.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "dynamic_filter_shapes.h"
#include "dynamic_filter_tile.h"
#include "half_bits.h"

#define MGDN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

uint16_t float_to_half_bits(float f) {
    uint32_t x;
    std::memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t mant = x & 0x7fffffu;
    const int exp = static_cast<int>((x >> 23) & 0xffu);
    if (exp == 255) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
    const int e = exp - 127 + 15;
    if (e >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
    if (e <= 0) {  // subnormal half (or zero)
        if (e < -10) return static_cast<uint16_t>(sign);
        mant |= 0x800000u;
        const int shift = 14 - e;
        uint32_t half_mant = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1u);
        const uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (half_mant & 1u))) ++half_mant;
        return static_cast<uint16_t>(sign | half_mant);
    }
    uint32_t bits = sign | (static_cast<uint32_t>(e) << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (bits & 1u))) ++bits;  // a carry may round up to inf: correct
    return static_cast<uint16_t>(bits);
}

using mgdn::half_bits_to_float;

// Binary16 storage with the two conversions the arithmetic needs (explicit, like __half).
struct HostHalf {
    uint16_t bits;
    HostHalf() = default;
    explicit HostHalf(float f) : bits(float_to_half_bits(f)) {}
    explicit operator float() const { return half_bits_to_float(bits); }
};
static_assert(sizeof(HostHalf) == 2 && std::is_trivially_copyable_v<HostHalf>, "HostHalf must alias uint16");

// dynamic_filter_kernel.cu, one block after the other and one thread after the other: the same
// plan, block_work, halo_source_offset and thread_outputs, and the same taps (zero beyond W).
template <typename T, int K>
void tiled_blocks(const T* feat, const T* kernels, T* out, int n, int c, int h, int w, int ksize,
                  const mgdn::LaunchPlan& p) {
    constexpr int M = mgdn::kOutputsPerThread<K>;
    static_assert(M >= 1, "outputs per thread");  // p.outputs_per_thread == M: both from kernel_config(ksize)
    const int r = (ksize - 1) / 2;
    const int area = p.halo_w * p.halo_h;
    const int64_t plane = static_cast<int64_t>(h) * w;
    std::vector<T> tile(static_cast<size_t>(p.stage) * area);
    for (int bz = 0; bz < n * p.groups; ++bz)
        for (int by = 0; by < p.tiles_y; ++by)
            for (int bx = 0; bx < p.tiles_x; ++bx) {
                const mgdn::BlockWork b = mgdn::block_work(p, bx, by, bz, c);
                for (int c0 = b.c_begin; c0 < b.c_end; c0 += p.stage) {
                    const int staged = std::min(p.stage, b.c_end - c0);
                    const T* src = feat + (static_cast<int64_t>(b.n) * c + c0) * plane;
                    for (int s = 0; s < staged; ++s)
                        for (int e = 0; e < area; ++e)
                            tile[s * area + e] =
                                src[s * plane + mgdn::halo_source_offset(e, p.halo_w, b.x0, b.y0, r, h, w)];
                    for (int ty = 0; ty < mgdn::kThreadsY; ++ty)
                        for (int tx = 0; tx < mgdn::kThreadsX; ++tx) {
                            const int x = b.x0 + tx * M;
                            const int y = b.y0 + ty;
                            const int valid = y < h ? std::max(0, std::min(M, w - x)) : 0;
                            if (valid == 0) continue;
                            const int64_t pixel = static_cast<int64_t>(y) * w + x;
                            const T* taps = kernels + static_cast<int64_t>(b.n) * ksize * ksize * plane + pixel;
                            T* dst = out + (static_cast<int64_t>(b.n) * c + c0) * plane + pixel;
                            const auto weight = [&](int m, int t) {
                                return m < valid ? static_cast<float>(taps[t * plane + m]) : 0.0f;
                            };
                            for (int s = 0; s < staged; ++s) {
                                float acc[M];
                                mgdn::thread_outputs<K>(tile.data() + s * area, p.halo_w, ty, tx, ksize, weight, acc);
                                for (int m = 0; m < valid; ++m) dst[s * plane + m] = static_cast<T>(acc[m]);
                            }
                        }
                }
            }
}

// The launch plan the tiled entry points emulate: target_blocks as given (tests split channels
// with it), shared memory within AGX Orin's share per block.
mgdn::LaunchPlan host_plan(int n, int c, int h, int w, int ksize, int elem_bytes, int target_blocks) {
    const mgdn::KernelConfig cfg = mgdn::kernel_config(ksize);
    return mgdn::plan_launch(n, c, h, w, ksize, elem_bytes, target_blocks,
                             mgdn::smem_budget_per_block(mgdn::kOrinAgx.smem_per_sm, cfg.blocks_per_sm));
}

template <typename T>
int tiled(const T* feat, const T* kernels, T* out, int n, int c, int h, int w, int ksize, int target_blocks) {
    if (mgdn::check_dynamic_filter_args(n, c, h, w, ksize) != nullptr) return 1;
    if (n == 0 || c == 0 || h == 0 || w == 0) return 0;
    const mgdn::LaunchPlan p = host_plan(n, c, h, w, ksize, sizeof(T), target_blocks);
    if (p.smem_bytes > mgdn::kSmemLimit) return 2;
    switch (mgdn::kernel_path(ksize)) {  // the same fast-path dispatch as launch_typed() in the .cu
        case 3: tiled_blocks<T, 3>(feat, kernels, out, n, c, h, w, ksize, p); break;
        case 5: tiled_blocks<T, 5>(feat, kernels, out, n, c, h, w, ksize, p); break;
        case 7: tiled_blocks<T, 7>(feat, kernels, out, n, c, h, w, ksize, p); break;
        default: tiled_blocks<T, 0>(feat, kernels, out, n, c, h, w, ksize, p);
    }
    return 0;
}

template <typename T>
int reference(const T* feat, const T* kernels, T* out, int n, int c, int h, int w, int ksize) {
    if (mgdn::check_dynamic_filter_args(n, c, h, w, ksize) != nullptr) return 1;
    mgdn::dynamic_filter_reference<T, float>(feat, kernels, out, n, c, h, w, ksize);
    return 0;
}

}  // namespace

MGDN_EXPORT int mgdn_df_reference_f32(const float* feat, const float* kernels, float* out, int n, int c, int h,
                                      int w, int ksize) {
    return reference(feat, kernels, out, n, c, h, w, ksize);
}

MGDN_EXPORT int mgdn_df_tiled_f32(const float* feat, const float* kernels, float* out, int n, int c, int h, int w,
                                  int ksize, int target_blocks) {
    return tiled(feat, kernels, out, n, c, h, w, ksize, target_blocks);
}

MGDN_EXPORT int mgdn_df_reference_f16(const uint16_t* feat, const uint16_t* kernels, uint16_t* out, int n, int c,
                                      int h, int w, int ksize) {
    return reference(reinterpret_cast<const HostHalf*>(feat), reinterpret_cast<const HostHalf*>(kernels),
                     reinterpret_cast<HostHalf*>(out), n, c, h, w, ksize);
}

MGDN_EXPORT int mgdn_df_tiled_f16(const uint16_t* feat, const uint16_t* kernels, uint16_t* out, int n, int c,
                                  int h, int w, int ksize, int target_blocks) {
    return tiled(reinterpret_cast<const HostHalf*>(feat), reinterpret_cast<const HostHalf*>(kernels),
                 reinterpret_cast<HostHalf*>(out), n, c, h, w, ksize, target_blocks);
}

namespace {
void write_plan(const mgdn::LaunchPlan& p, int64_t* plan12) {
    const int64_t values[12] = {p.tiles_x, p.tiles_y, p.groups,  p.channels_per_group, p.stage, p.halo_w,
                                p.halo_h,  static_cast<int64_t>(p.smem_bytes), p.outputs_per_thread,
                                p.tile_w,  p.tile_h,  p.blocks_per_sm};
    std::memcpy(plan12, values, sizeof values);
}
}  // namespace

// The launch plan as 12 ints: tiles_x, tiles_y, groups, channels_per_group, stage, halo_w, halo_h,
// smem_bytes, outputs_per_thread, tile_w, tile_h, blocks_per_sm; lets tests check the launch
// geometry without a GPU. mgdn_df_plan: what the tiled entry points run for `target_blocks`;
// mgdn_df_plan_device: what launch_dynamic_filter() plans on a GPU with `sms` SMs and
// `smem_per_sm` bytes of shared memory per SM.
MGDN_EXPORT void mgdn_df_plan(int n, int c, int h, int w, int ksize, int elem_bytes, int target_blocks,
                              int64_t* plan12) {
    write_plan(host_plan(n, c, h, w, ksize, elem_bytes, target_blocks), plan12);
}

MGDN_EXPORT void mgdn_df_plan_device(int n, int c, int h, int w, int ksize, int elem_bytes, int sms,
                                     int smem_per_sm, int64_t* plan12) {
    const mgdn::DeviceLimits dev{sms, static_cast<size_t>(smem_per_sm)};
    write_plan(mgdn::plan_for_device(n, c, h, w, ksize, elem_bytes, dev), plan12);
}

// The kernel configuration of kernel size `ksize` as 4 ints: compiled path (3, 5, 7; 0 = generic),
// outputs per thread, threads per block, resident blocks per SM assumed (its __launch_bounds__).
MGDN_EXPORT void mgdn_df_kernel_config(int ksize, int64_t* config4) {
    const mgdn::KernelConfig cfg = mgdn::kernel_config(ksize);
    const int64_t values[4] = {cfg.path, cfg.outputs_per_thread, cfg.threads, cfg.blocks_per_sm};
    std::memcpy(config4, values, sizeof values);
}

// The shape check the TensorRT plugins run in configurePlugin/onShapeChange; -1 = unknown at
// build time. Returns 0 when fine, else 1 with the message copied into msg (NUL-terminated).
MGDN_EXPORT int mgdn_df_check_shapes(const int64_t* feat, int feat_rank, const int64_t* kernels, int kernels_rank,
                                     int ksize, char* msg, int msg_capacity) {
    const std::string error = mgdn::check_io_shapes(feat, feat_rank, kernels, kernels_rank, ksize);
    if (msg_capacity > 0) {
        const size_t len = std::min(error.size(), static_cast<size_t>(msg_capacity - 1));
        std::memcpy(msg, error.data(), len);
        msg[len] = '\0';
    }
    return error.empty() ? 0 : 1;
}
