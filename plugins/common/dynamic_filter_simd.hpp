// The DynamicFilter inner loop, written once with GCC/Clang vector extensions and compiled
// once per ISA (each dynamic_filter_isa_*.cpp sets the three macros below, then includes this).
//
//   MGDN_VEC_BYTES      bytes per vector register (64 AVX-512, 32 AVX2, 16 baseline)
//   MGDN_CHANNEL_BLOCK  channels sharing one load of a kernel tap (register blocking)
//   MGDN_VECS           vectors per channel per iteration (independent FMA chains)
//
// For every tap the kernel vector is loaded once and used by MGDN_CHANNEL_BLOCK channels, so a
// tap costs 1 + 1/CB loads per FMA. Stores are plain (StoreMode::stream is never requested from
// a table without filter_two_rows, see dynamic_filter_cpu.cpp). Everything here has internal linkage (see
// dynamic_filter_isa.hpp for why). Include it only inside an ISA translation unit.
#pragma once

#include "dynamic_filter_isa.hpp"

#if !defined(MGDN_VEC_BYTES) || !defined(MGDN_CHANNEL_BLOCK) || !defined(MGDN_VECS)
#error "define MGDN_VEC_BYTES, MGDN_CHANNEL_BLOCK and MGDN_VECS before including dynamic_filter_simd.hpp"
#endif

namespace {

using vfloat = float __attribute__((vector_size(MGDN_VEC_BYTES)));
constexpr int kLanes = MGDN_VEC_BYTES / 4;
constexpr int kVecs = MGDN_VECS;
constexpr int kStep = kLanes * kVecs;

inline vfloat load(const float* p) {
    vfloat v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
}

inline void store(float* p, vfloat v) { __builtin_memcpy(p, &v, sizeof(v)); }

// CB channels starting at c0; KT > 0 fixes the kernel size at compile time (full unrolling).
// Columns x .. x+kLanes-1 of an output row, of which only those below out_width are written.
inline void store_out(float* p, vfloat v, int x, int out_width) {
    if (x + kLanes <= out_width) {
        store(p, v);
    } else {
        for (int l = 0; l < kLanes && x + l < out_width; ++l) p[l] = v[l];
    }
}

template <int CB, int KT>
void filter_channels(const mgdn::cpu::TileArgs& a, int c0, mgdn::cpu::Prefetcher& pf) {
    const int k = KT > 0 ? KT : a.ksize;
    for (int x = 0; x < a.width; x += kStep) {
        pf.step();
        vfloat acc[CB][kVecs] = {};
        for (int i = 0; i < k; ++i) {
            const float* row[CB];
#pragma GCC unroll 16
            for (int c = 0; c < CB; ++c) row[c] = a.rows[(c0 + c) * k + i] + x;
            const float* tap = a.taps + static_cast<int64_t>(i) * k * a.stride + x;
            for (int j = 0; j < k; ++j) {
                vfloat w[kVecs];
#pragma GCC unroll 16
                for (int v = 0; v < kVecs; ++v) w[v] = load(tap + j * a.stride + v * kLanes);
#pragma GCC unroll 16
                for (int c = 0; c < CB; ++c)
#pragma GCC unroll 16
                    for (int v = 0; v < kVecs; ++v) acc[c][v] += w[v] * load(row[c] + j + v * kLanes);
            }
        }
#pragma GCC unroll 16
        for (int c = 0; c < CB; ++c)
#pragma GCC unroll 16
            for (int v = 0; v < kVecs; ++v)
                store_out(a.out + (c0 + c) * a.out_stride + x + v * kLanes, acc[c][v], x + v * kLanes, a.out_width);
    }
}

template <int KT>
void filter_row_k(const mgdn::cpu::TileArgs& a) {
    const int rest = a.channels % MGDN_CHANNEL_BLOCK;
    mgdn::cpu::Prefetcher pf(a, static_cast<int64_t>(a.channels / MGDN_CHANNEL_BLOCK + rest / 2 + rest % 2) *
                                    (a.width / kStep));
    int c = 0;
    for (; c + MGDN_CHANNEL_BLOCK <= a.channels; c += MGDN_CHANNEL_BLOCK)
        filter_channels<MGDN_CHANNEL_BLOCK, KT>(a, c, pf);
    for (; c + 2 <= a.channels; c += 2) filter_channels<2, KT>(a, c, pf);
    for (; c < a.channels; ++c) filter_channels<1, KT>(a, c, pf);
}

void filter_row(const mgdn::cpu::TileArgs& a) {
    switch (a.ksize) {
    case 3: filter_row_k<3>(a); break;
    case 5: filter_row_k<5>(a); break;
    case 7: filter_row_k<7>(a); break;
    default: filter_row_k<0>(a); break;
    }
}

}  // namespace
