// Whole-tensor CPU DynamicFilter, shared by the OpenVINO extension and the ONNX Runtime op
// library. No runtime's types appear here: each library passes its own thread pool through
// ThreadTeam, so the arithmetic, tiling and ISA dispatch are compiled from one set of files.
#pragma once

#include <cstdint>
#include <functional>

namespace mgdn {
namespace cpu {

enum class DType { f32, f16, bf16 };

struct FilterShape {
    int64_t n, c, h, w;
    int ksize;
};

// The threads a call may use. run(nthr, fn) calls fn(ithr, nthr) once for every ithr in
// [0, nthr), concurrently where it can, and returns when every call has returned (an exception
// thrown by fn reaches the caller of run). nthr never exceeds max_threads(). The kernel splits its work into one contiguous range
// of tiles per ithr (see split_range), so each thread allocates its scratch once per call.
class ThreadTeam {
public:
    virtual ~ThreadTeam() = default;
    virtual int max_threads() const = 0;
    virtual void run(int nthr, const std::function<void(int ithr, int nthr)>& fn) = 0;
};

// Range [begin, end) of `count` items that part `index` of `parts` takes: contiguous ranges
// whose sizes differ by at most one, the larger ones first.
void split_range(int64_t count, int64_t parts, int64_t index, int64_t& begin, int64_t& end);

// feat [n,c,h,w], kernels [n,k*k,h,w], out [n,c,h,w]; dense row-major, all of `dtype`
// (f16/bf16 are passed as their 16-bit patterns). Arithmetic is f32 with FMAs.
void dynamic_filter(const void* feat, const void* kernels, void* out, DType dtype, const FilterShape& shape,
                    ThreadTeam& team);

// The same filter on channels-last tensors, the layout of OpenVINO's CPU convolutions:
// feat [n,h,w,c], kernels [n,h,w,k*k], out [n,h,w,c]; out[n,y,x,c] = sum_{i,j<k}
// kernels[n,y,x,i*k+j] * feat[n,clamp(y+i-r),clamp(x+j-r),c], taps summed in that order. Throws
// std::invalid_argument for shapes it does not take (channels_last_shape_error says which).
constexpr int kMaxChannelsLastKsize = 15;
const char* channels_last_shape_error(const FilterShape& shape);
void dynamic_filter_channels_last(const void* feat, const void* kernels, void* out, DType dtype,
                                  const FilterShape& shape, ThreadTeam& team);

// Name of the ISA table dynamic_filter() uses on this machine ("avx512", "avx2", "generic").
const char* active_isa_name();

}  // namespace cpu
}  // namespace mgdn
