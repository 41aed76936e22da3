// Interface between the portable driver (dynamic_filter_cpu.cpp) and the per-ISA compute code.
//
// Each dynamic_filter_isa_<name>.cpp is compiled with its own -m flags and exposes one table of
// plain function pointers. Nothing else crosses the boundary: the ISA files instantiate no
// templates with external linkage, so the linker can never hand an AVX-512 copy of some inline
// function to code that runs on a CPU without AVX-512.
#pragma once

#include <cstdint>

namespace mgdn {
namespace cpu {

// One output row of one x-tile, for `channels` channels.
//   rows[c * ksize + i] + x + j  ->  feat(c, y + i - r, x0 + x + j - r), f32, borders already replicated
//   taps + t * stride + x        ->  kernels(t, y, x0 + x), f32
//   out  + c * stride + x        <-  result (f32)
// `width` is a multiple of IsaKernels::step; `stride` a multiple of 16; rows, taps and out are
// 64-byte aligned; rows are readable (finite) up to width + 16, taps and out up to width.
struct TileArgs {
    const float* const* rows;
    const float* taps;
    float* out;
    int channels;
    int ksize;
    int width;
    int stride;
};

struct IsaKernels {
    const char* name;
    int step;  // floats per inner-loop iteration: TileArgs::width must be a multiple of it
    void (*filter_row)(const TileArgs& args);
    void (*f16_to_f32)(const uint16_t* src, float* dst, int64_t count);
    void (*f32_to_f16)(const float* src, uint16_t* dst, int64_t count);
};

const IsaKernels& isa_generic();
#if defined(MGDN_HAVE_X86_ISA)
const IsaKernels& isa_avx2();
const IsaKernels& isa_avx512();
#endif

// The widest table this CPU (and OS) can run; $MGDN_OV_ISA=generic|avx2|avx512 caps it for tests.
const IsaKernels& select_isa();

}  // namespace cpu
}  // namespace mgdn
