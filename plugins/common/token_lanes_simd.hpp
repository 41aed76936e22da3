// Rows of a row-major tensor (a token's or a pixel's channels) read and written as 16-float
// vectors: the I/O the lane kernels share (window attention, the channels-last filter), written
// once with GCC vector extensions and compiled once per ISA (each dynamic_filter_isa_*.cpp
// includes it). The 16-float vector is AVX-512's register; the AVX2 and baseline builds split it
// into 2 or 4. Rows of f32, f16 or bf16 are widened to f32 on the way in and rounded once on the
// way out; a row's partial last block never reads or writes past the row. load_transposed puts
// 16 rows in the lanes (vector c holds column c of all 16), for kernels that compute across rows.
// Everything has internal linkage (see dynamic_filter_isa.hpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "dynamic_filter_isa.hpp"

// The 64-byte vectors never cross a call boundary of this file's (internal) functions in the
// narrower builds either, so GCC's note that passing them changes the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace {

// This ISA file's own f16 conversions: every dynamic_filter_isa_*.cpp defines them (for its
// IsaKernels table) after including this header.
void f16_to_f32(const uint16_t* src, float* dst, int64_t count);
void f32_to_f16(const float* src, uint16_t* dst, int64_t count);

namespace lanes {

using v16 = float __attribute__((vector_size(64)));
using vi16 = int __attribute__((vector_size(64)));

inline v16 load16(const float* p) {
    v16 v;
    __builtin_memcpy(&v, p, sizeof(v));
    return v;
}

inline void store16(float* p, v16 v) { __builtin_memcpy(p, &v, sizeof(v)); }

inline v16 splat(float x) { return v16{} + x; }

inline v16 vmax(v16 a, v16 b) { return a > b ? a : b; }

// In-place transpose of 16 vectors (a 16x16 block): four stages, each swapping the off-diagonal
// S x S sub-blocks of every 2S x 2S block with one two-source shuffle per vector.
#if defined(__clang__)
inline void transpose16(v16* r) {
    float m[16][16];
    for (int i = 0; i < 16; ++i) store16(m[i], r[i]);
    for (int i = 0; i < 16; ++i)
        for (int j = 0; j < 16; ++j) r[i][j] = m[j][i];
}
#else
template <int S>
inline void transpose_stage(v16* r) {
#define MGDN_LO(l) (((l) & S) ? 16 + (l) - S : (l))
#define MGDN_HI(l) (((l) & S) ? 16 + (l) : (l) + S)
    const vi16 lo = {MGDN_LO(0), MGDN_LO(1), MGDN_LO(2),  MGDN_LO(3),  MGDN_LO(4),  MGDN_LO(5),  MGDN_LO(6),  MGDN_LO(7),
                     MGDN_LO(8), MGDN_LO(9), MGDN_LO(10), MGDN_LO(11), MGDN_LO(12), MGDN_LO(13), MGDN_LO(14), MGDN_LO(15)};
    const vi16 hi = {MGDN_HI(0), MGDN_HI(1), MGDN_HI(2),  MGDN_HI(3),  MGDN_HI(4),  MGDN_HI(5),  MGDN_HI(6),  MGDN_HI(7),
                     MGDN_HI(8), MGDN_HI(9), MGDN_HI(10), MGDN_HI(11), MGDN_HI(12), MGDN_HI(13), MGDN_HI(14), MGDN_HI(15)};
#undef MGDN_LO
#undef MGDN_HI
    for (int i = 0; i < 16; ++i) {
        if (i & S) continue;
        const v16 a = r[i], b = r[i + S];
        r[i] = __builtin_shuffle(a, b, lo);
        r[i + S] = __builtin_shuffle(a, b, hi);
    }
}

inline void transpose16(v16* r) {
    transpose_stage<8>(r);
    transpose_stage<4>(r);
    transpose_stage<2>(r);
    transpose_stage<1>(r);
}
#endif

using mgdn::cpu::RowElement;

using vu16 = uint16_t __attribute__((vector_size(32)));
using vu32 = uint32_t __attribute__((vector_size(64)));

inline int element_size(RowElement e) { return e == RowElement::f32 ? 4 : 2; }

// 16 consecutive values of type `e` at p as f32 (f16 and bf16 widen exactly).
inline v16 widen16(const char* p, RowElement e) {
    v16 out;
    if (e == RowElement::f32) {
        __builtin_memcpy(&out, p, sizeof(out));
    } else if (e == RowElement::bf16) {
        vu16 half;
        __builtin_memcpy(&half, p, sizeof(half));
        const vu32 bits = __builtin_convertvector(half, vu32) << 16;
        __builtin_memcpy(&out, &bits, sizeof(out));
    } else {
        uint16_t half[16];
        __builtin_memcpy(half, p, sizeof(half));
        float wide[16];
        f16_to_f32(half, wide, 16);
        out = load16(wide);
    }
    return out;
}

// 16 f32 values stored at p as type `e` (bf16: round to nearest even, NaNs stay NaN).
inline void narrow16(char* p, v16 x, RowElement e) {
    if (e == RowElement::f32) {
        __builtin_memcpy(p, &x, sizeof(x));
    } else if (e == RowElement::bf16) {
        vu32 bits;
        __builtin_memcpy(&bits, &x, sizeof(bits));
        const vu32 rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
        const vu32 kept = (bits & 0x7fffffffu) > 0x7f800000u ? (bits >> 16) | 0x40u : rounded;
        const vu16 half = __builtin_convertvector(kept, vu16);
        __builtin_memcpy(p, &half, sizeof(half));
    } else {
        float wide[16];
        store16(wide, x);
        uint16_t half[16];
        f32_to_f16(wide, half, 16);
        __builtin_memcpy(p, half, sizeof(half));
    }
}

// How 16-column blocks of rows of `cols` values are read and written without leaving the row:
// a partial last block (columns [tail, cols)) is accessed as the row's last 16 values, which
// overlap the block before it, and permuted into or out of place; rows under 16 values go
// through a padded copy.
struct RowBlocks {
    int cols;
    int size;  // bytes per value
    RowElement element;
    int tail;        // first column of the partial last block; cols when there is none
    vi16 from_last;  // lane l of the tail block = lane from_last[l] of the row's last 16 values
    vi16 into_last;  // lane l of the row's last 16 values = lane into_last[l] of (block before, tail block)
};

inline RowBlocks row_blocks(int cols, RowElement e) {
    RowBlocks b{cols, element_size(e), e, cols / 16 * 16, vi16{}, vi16{}};
    for (int l = 0; l < 16; ++l) {
        const int from = b.tail - (cols - 16) + l;
        b.from_last[l] = from < 15 ? from : 15;  // lanes past the row repeat its last value
        b.into_last[l] = cols - b.tail + l;
    }
    return b;
}

// Columns [col0, col0 + 16) of a row as f32; lanes past the row's end hold other values of it
// (zeros for rows under 16 values).
inline v16 read_block(const char* row, const RowBlocks& b, int col0) {
    if (col0 + 16 <= b.cols) return widen16(row + col0 * b.size, b.element);
    if (b.cols >= 16) return __builtin_shuffle(widen16(row + (b.cols - 16) * b.size, b.element), b.from_last);
    char padded[64] = {};
    __builtin_memcpy(padded, row, b.cols * b.size);
    return widen16(padded, b.element);
}

// One row from its blocks (block cb, columns cb*16.., at blocks[cb * stride]); writes exactly
// the row's bytes.
inline void write_row(char* row, const RowBlocks& b, const v16* blocks, int stride) {
    for (int cb = 0; cb * 16 + 16 <= b.cols; ++cb) narrow16(row + cb * 16 * b.size, blocks[cb * stride], b.element);
    if (b.tail == b.cols) return;
    const v16 tail = blocks[b.tail / 16 * stride];
    if (b.cols >= 16) {
        const v16 last = __builtin_shuffle(blocks[(b.tail / 16 - 1) * stride], tail, b.into_last);
        narrow16(row + (b.cols - 16) * b.size, last, b.element);
        return;
    }
    char packed[64];
    narrow16(packed, tail, b.element);
    __builtin_memcpy(row, packed, b.cols * b.size);
}

// Rows [row0, row0 + 16) of a window (row i at rows[i]; rows from `count` on read as zero),
// columns [col0, col0 + 16), transposed: block[c] holds column col0 + c of the 16 rows.
inline void load_transposed(const char* const* rows, int count, int row0, const RowBlocks& b, int col0, v16* block) {
    for (int i = 0; i < 16; ++i) block[i] = row0 + i < count ? read_block(rows[row0 + i], b, col0) : v16{};
    transpose16(block);
}

}  // namespace lanes

}  // namespace
