// Shape validation shared by both TensorRT plugin flavours (and exported by the host test
// library so CI checks the exact messages). Kept free of TensorRT types: TRT 8 stores Dims as
// int32, TRT 10 as int64, so the element type is a template parameter.
#pragma once

#include <string>

#include "dynamic_filter_tile.h"

namespace mgdn {

// Empty when feat [N,C,H,W] and kernels [N,k*k,H,W] fit a DynamicFilter of size `ksize`, else a
// one-line reason naming the offending dimension. A dimension of -1 (not known while building
// with dynamic shapes) is skipped, so the check can run at build time and again at run time.
template <typename D>
std::string check_io_shapes(const D* feat, int feat_rank, const D* kernels, int kernels_rank, int ksize) {
    if (const char* why = check_dynamic_filter_args(0, 0, 0, 0, ksize)) {
        return std::string("DynamicFilter: ") + why + ", got " + std::to_string(ksize);
    }
    if (feat_rank != 4 || kernels_rank != 4) {
        return "DynamicFilter: feat and kernels must be 4-D [N,C,H,W], got ranks " + std::to_string(feat_rank) +
               " and " + std::to_string(kernels_rank);
    }
    const auto known = [](D v) { return v >= 0; };
    const int64_t taps = static_cast<int64_t>(ksize) * ksize;
    if (known(kernels[1]) && kernels[1] != taps) {
        return "DynamicFilter: kernels have " + std::to_string(kernels[1]) + " channels, expected kernel_size^2 = " +
               std::to_string(taps);
    }
    static const char* const names[4] = {"N", "C", "H", "W"};
    for (int axis : {0, 2, 3}) {
        if (known(feat[axis]) && known(kernels[axis]) && feat[axis] != kernels[axis]) {
            return std::string("DynamicFilter: feat and kernels disagree in ") + names[axis] + " (" +
                   std::to_string(feat[axis]) + " vs " + std::to_string(kernels[axis]) + ")";
        }
    }
    return {};
}

}  // namespace mgdn
