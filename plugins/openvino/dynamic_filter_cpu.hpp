// Whole-tensor CPU DynamicFilter (what mgdn::DynamicFilter::evaluate calls); no OpenVINO types
// here so the kernel can also be driven from a plain C++ test harness.
#pragma once

#include <cstdint>

namespace mgdn {
namespace cpu {

enum class DType { f32, f16, bf16 };

struct FilterShape {
    int64_t n, c, h, w;
    int ksize;
};

// feat [n,c,h,w], kernels [n,k*k,h,w], out [n,c,h,w]; dense row-major, all of `dtype`
// (f16/bf16 are passed as their 16-bit patterns). Arithmetic is f32 with FMAs; runs on
// OpenVINO's thread pool.
void dynamic_filter(const void* feat, const void* kernels, void* out, DType dtype, const FilterShape& shape);

// Name of the ISA table dynamic_filter() uses on this machine ("avx512", "avx2", "generic").
const char* active_isa_name();

}  // namespace cpu
}  // namespace mgdn
