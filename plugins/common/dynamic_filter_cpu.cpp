// Tiling, border handling, type conversion and work splitting around the per-ISA inner loop;
// the threads come from the caller's ThreadTeam (OpenVINO's pool, or the ORT op library's).
//
// Work unit: (batch item, block of output rows, tile of columns). A thread keeps a ring of the
// k feature rows each output row needs, for every channel, as f32 with the replicate border
// already written in. Each feature row is therefore read from memory (and converted from
// f16/bf16) once per unit, border pixels need no clamps in the inner loop, and the ring
// (C * (k+1) * tile floats, sized to about 1 MiB) stays in L2. The k*k kernel taps of the current
// row are copied into a contiguous, aligned f32 block that all channels reuse.
//
// Cost (C=60, 512x512, k=7, 2 Zen 4 cores; the op alone, OpenVINO's per-node profiling): ~17 ms,
// against a floor of ~7 ms of DRAM traffic plus ~10 ms of FMAs at the cores' peak rate. Three
// choices keep it there:
//  * Prefetch: the kernel issues L2 prefetches of the rows the *next* call copies into the ring
//    and tap block, spread over its loop, so those copies do not wait on DRAM with the FMA units
//    idle: the memory traffic overlaps the arithmetic.
//  * f32 output is written in place by the kernel (masked tail), not via a result block and a
//    second pass; big aligned outputs use streaming stores (no read-for-ownership).
//  * Two output rows per kernel call where the ISA offers it (see dynamic_filter_isa_avx512.cpp),
//    so the ring holds k + 1 rows.
#include "dynamic_filter_cpu.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "dynamic_filter_isa.hpp"
#include "dynamic_filter_ref.h"
#include "element_codec.hpp"

namespace mgdn {
namespace cpu {
namespace {

constexpr int64_t kRingBudgetBytes = 1 << 20;  // feature-row ring per thread: about one L2
constexpr int64_t kMinRowsPerUnit = 8;
constexpr int kUnitsPerThread = 4;  // slack for load balance
constexpr int64_t kStreamBytes = 16 << 20;  // outputs at least this big are written around the caches
constexpr int64_t kAlign = 64;      // bytes; every ISA table may use aligned loads on the buffers

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

const char* align_down(const char* p) {
    return reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(p) & ~static_cast<uintptr_t>(kAlign - 1));
}

// False when $MGDN_OV_ISA caps dispatch at `isa` (tests of the narrower paths on big CPUs; it applies
// to every library built from this kernel).
bool allowed_above(const char* isa) {
    const char* cap = std::getenv("MGDN_OV_ISA");
    return cap == nullptr || std::string(cap) != isa;
}

// Tile columns: as wide as the ring budget allows (long contiguous row reads are what DRAM
// likes), split evenly, a multiple of 64 floats.
int64_t tile_width(const FilterShape& s) {
    const int64_t per_column = s.c * s.ksize * static_cast<int64_t>(sizeof(float));
    const int64_t widest = std::max<int64_t>(64, (kRingBudgetBytes / per_column) / 64 * 64);
    return round_up(ceil_div(s.w, ceil_div(s.w, widest)), 64);
}

// Zero-initialised, 64-byte aligned float scratch.
class AlignedFloats {
public:
    explicit AlignedFloats(int64_t count)
        : data_(static_cast<float*>(::operator new[](static_cast<size_t>(count) * sizeof(float),
                                                     std::align_val_t(kAlign)))),
          count_(count) {
        fill(0.0f);
    }
    ~AlignedFloats() { ::operator delete[](data_, std::align_val_t(kAlign)); }
    AlignedFloats(const AlignedFloats&) = delete;
    AlignedFloats& operator=(const AlignedFloats&) = delete;

    float* data() const { return data_; }
    void fill(float v) { std::fill(data_, data_ + count_, v); }

private:
    float* data_;
    int64_t count_;
};

// Per-thread scratch for one (batch item, row block, column tile) unit at a time.
class TileWorker {
public:
    TileWorker(const void* feat, const void* kernels, void* out, const Codec& codec, const FilterShape& s,
               int64_t tile)
        : feat_(feat), kernels_(kernels), out_(out), codec_(codec), s_(s), r_((s.ksize - 1) / 2),
          taps_count_(static_cast<int64_t>(s.ksize) * s.ksize), tile_(tile),
          pair_(codec.isa->filter_two_rows != nullptr && (codec.isa->two_row_ksizes >> s.ksize) & 1u),
          slots_(s.ksize + 1), row_stride_(round_up(tile + 2 * r_, 16) + 16), ring_(s.c * slots_ * row_stride_),
          rows_(static_cast<size_t>(s.c * slots_)), taps_(2 * taps_count_ * tile), result_(2 * s.c * tile),
          prefetch_(static_cast<size_t>(2 * (s.c + taps_count_))) {}

    void run(int64_t b, int64_t y0, int64_t y1, int64_t x0) {
        const int64_t valid = std::min(tile_, s_.w - x0);
        if (valid != valid_) {  // columns past `valid` only feed discarded lanes: keep them finite
            taps_.fill(0.0f);
            ring_.fill(0.0f);
            valid_ = valid;
        }
        const int64_t plane = s_.h * s_.w;
        const int64_t feat_base = b * s_.c * plane;
        const int64_t taps_base = b * taps_count_ * plane;
        for (int64_t v = y0 - r_; v < y0 + r_; ++v) load_row(feat_base, v, x0, valid);

        TileArgs args{rows_.data(), taps_.data(), result_.data(), static_cast<int>(s_.c), s_.ksize,
                      static_cast<int>(round_up(valid, codec_.isa->step)), static_cast<int>(tile_),
                      static_cast<int>(valid), tile_, s_.c * tile_, StoreMode::normal, prefetch_.data(), 0, 0};
        // f32 results go straight into the output tensor (no result buffer, no extra pass over
        // the output); big 64-byte aligned outputs bypass the caches (see StoreMode).
        const bool direct = codec_.dtype == DType::f32;
        float* const direct_out = static_cast<float*>(out_) + feat_base + x0;
        if (direct) {
            args.out_stride = plane;
            args.out_row_stride = s_.w;
            const bool aligned = s_.w % 16 == 0 && x0 % 16 == 0 && reinterpret_cast<uintptr_t>(out_) % kAlign == 0;
            const bool big = s_.n * s_.c * plane * static_cast<int64_t>(sizeof(float)) >= kStreamBytes;
            args.store = aligned && big ? StoreMode::stream : StoreMode::normal;
        }
        for (int64_t y = y0; y < y1;) {
            const int64_t count = pair_ && y + 1 < y1 ? 2 : 1;
            prefetch_next(args, feat_base, taps_base, y + count, std::min<int64_t>(y1, y + count + (pair_ ? 2 : 1)),
                          x0, valid);
            const int span = s_.ksize + static_cast<int>(count) - 1;  // feature rows this call reads
            for (int64_t q = 0; q < count; ++q) {
                load_row(feat_base, y + q + r_, x0, valid);
                for (int64_t t = 0; t < taps_count_; ++t)
                    codec_.to_f32(kernels_, taps_base + t * plane + (y + q) * s_.w + x0,
                                  taps_.data() + (q * taps_count_ + t) * tile_, valid);
            }
            for (int64_t c = 0; c < s_.c; ++c)
                for (int i = 0; i < span; ++i)
                    rows_[c * span + i] = ring_.data() + (c * slots_ + slot(y + i - r_)) * row_stride_;
            if (direct) args.out = direct_out + y * s_.w;
            (count == 2 ? codec_.isa->filter_two_rows : codec_.isa->filter_row)(args);
            if (!direct)
                for (int64_t q = 0; q < count; ++q)
                    for (int64_t c = 0; c < s_.c; ++c)
                        codec_.from_f32(result_.data() + (q * s_.c + c) * tile_, out_,
                                        feat_base + c * plane + (y + q) * s_.w + x0, valid);
            y += count;
        }
    }

private:
    int64_t slot(int64_t v) const { return ((v % slots_) + slots_) % slots_; }

    // The source rows the next call (output rows ya .. yb-1) will copy in: its new feature row of
    // every channel and its kernel-tap rows; the kernel prefetches them into L2 while it computes.
    void prefetch_next(TileArgs& args, int64_t feat_base, int64_t taps_base, int64_t ya, int64_t yb, int64_t x0,
                       int64_t valid) {
        const char* feat = static_cast<const char*>(feat_);
        const char* kernels = static_cast<const char*>(kernels_);
        const int64_t esize = static_cast<int64_t>(codec_.bytes());
        const int64_t plane = s_.h * s_.w;
        const int64_t lo = std::max<int64_t>(0, x0 - r_);
        const int64_t hi = std::min<int64_t>(s_.w, x0 + valid + r_);
        int n = 0;
        for (int64_t y = ya; y < yb; ++y) {
            const int64_t src = clamp_index(static_cast<int>(y + r_), static_cast<int>(s_.h - 1));
            for (int64_t c = 0; c < s_.c; ++c)
                prefetch_[n++] = align_down(feat + (feat_base + c * plane + src * s_.w + lo) * esize);
            for (int64_t t = 0; t < taps_count_; ++t)
                prefetch_[n++] = align_down(kernels + (taps_base + t * plane + y * s_.w + x0) * esize);
        }
        args.prefetch_count = n;
        args.prefetch_lines = static_cast<int>(ceil_div((hi - lo) * esize, 64) + 1);
    }

    // Virtual row v (may lie outside [0, h)) of every channel, columns x0-r .. x0+valid+r-1,
    // replicate-clamped, into its ring slot.
    void load_row(int64_t feat_base, int64_t v, int64_t x0, int64_t valid) {
        const int64_t src_row = clamp_index(static_cast<int>(v), static_cast<int>(s_.h - 1));
        const int64_t lo = std::max<int64_t>(0, x0 - r_);
        const int64_t hi = std::min<int64_t>(s_.w, x0 + valid + r_);
        const int64_t left = lo - (x0 - r_);  // replicated columns before the copied span
        const int64_t right = (valid + 2 * r_) - left - (hi - lo);
        for (int64_t c = 0; c < s_.c; ++c) {
            float* dst = ring_.data() + (c * slots_ + slot(v)) * row_stride_;
            codec_.to_f32(feat_, feat_base + c * s_.h * s_.w + src_row * s_.w + lo, dst + left, hi - lo);
            std::fill(dst, dst + left, dst[left]);
            std::fill(dst + left + (hi - lo), dst + left + (hi - lo) + right, dst[left + (hi - lo) - 1]);
        }
    }

    const void* feat_;
    const void* kernels_;
    void* out_;
    Codec codec_;
    FilterShape s_;
    int64_t r_, taps_count_, tile_;
    bool pair_;
    int64_t slots_, row_stride_;
    int64_t valid_ = -1;
    AlignedFloats ring_;
    std::vector<float*> rows_;
    AlignedFloats taps_;
    AlignedFloats result_;
    std::vector<const char*> prefetch_;
};

}  // namespace

const IsaKernels& select_isa() {
#if defined(MGDN_HAVE_X86_ISA)
    static const IsaKernels& chosen = []() -> const IsaKernels& {
        __builtin_cpu_init();
        const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c") && allowed_above("generic");
        if (avx2 && __builtin_cpu_supports("avx512f") && allowed_above("avx2")) return isa_avx512();
        return avx2 ? isa_avx2() : isa_generic();
    }();
    return chosen;
#else
    return isa_generic();
#endif
}

const char* active_isa_name() { return select_isa().name; }

void split_range(int64_t count, int64_t parts, int64_t index, int64_t& begin, int64_t& end) {
    if (parts <= 1) {
        begin = 0;
        end = count;
        return;
    }
    const int64_t base = count / parts;
    const int64_t larger = count % parts;  // the first `larger` parts take one item more
    begin = index * base + std::min(index, larger);
    end = begin + base + (index < larger ? 1 : 0);
}

void dynamic_filter(const void* feat, const void* kernels, void* out, DType dtype, const FilterShape& s,
                    ThreadTeam& team) {
    if (s.n * s.c * s.h * s.w == 0) return;
    const Codec codec{dtype, &select_isa()};
    const int64_t tile = tile_width(s);
    const int64_t tiles = ceil_div(s.w, tile);
    const int64_t max_threads = std::max(1, team.max_threads());
    const int64_t wanted = max_threads * kUnitsPerThread;
    const int64_t blocks_per_image = std::clamp<int64_t>((wanted + s.n * tiles - 1) / (s.n * tiles), 1,
                                                         std::max<int64_t>(1, s.h / kMinRowsPerUnit));
    const int64_t rows_per_block = (s.h + blocks_per_image - 1) / blocks_per_image;
    const int64_t blocks = (s.h + rows_per_block - 1) / rows_per_block;
    const int64_t units = s.n * blocks * tiles;

    team.run(static_cast<int>(std::min(units, max_threads)), [&](int ithr, int nthr) {
        int64_t begin = 0, end = 0;
        split_range(units, nthr, ithr, begin, end);
        if (begin == end) return;
        TileWorker worker(feat, kernels, out, codec, s, tile);
        for (int64_t u = begin; u < end; ++u) {
            const int64_t tile_index = u % tiles;
            const int64_t block = (u / tiles) % blocks;
            const int64_t b = u / (tiles * blocks);
            worker.run(b, block * rows_per_block, std::min(s.h, (block + 1) * rows_per_block), tile_index * tile);
        }
    });
}

const char* channels_last_shape_error(const FilterShape& s) {
    if (s.ksize < 1 || s.ksize % 2 == 0 || s.ksize > kMaxChannelsLastKsize) return "kernel_size must be odd and in [1, 15]";
    if (s.c < 1 || s.c > kMaxChannelsLastChannels) return "channels must be in [1, 256]";
    return "";
}

void dynamic_filter_channels_last(const void* feat, const void* kernels, void* out, DType dtype, const FilterShape& s,
                                  ThreadTeam& team) {
    const std::string error = channels_last_shape_error(s);
    if (!error.empty()) throw std::invalid_argument("DynamicFilterNHWC: " + error);
    const int64_t rows = s.n * s.h;
    if (rows == 0 || s.w == 0) return;
    const IsaKernels& isa = select_isa();
    const RowElement element = row_element(dtype);
    const int64_t threads = std::min<int64_t>(rows, std::max(1, team.max_threads()));
    team.run(static_cast<int>(threads), [&](int ithr, int nthr) {
        int64_t first = 0, end = 0;
        split_range(rows, nthr, ithr, first, end);
        if (first >= end) return;
        const int w = static_cast<int>(s.w), c = static_cast<int>(s.c);
        std::vector<float> scratch(static_cast<size_t>(filter_channels_last_scratch(w, c, s.ksize)));
        isa.filter_channels_last(ChannelsLastArgs{feat, kernels, out, element, first, end - first,
                                                  static_cast<int>(s.h), w, c, s.ksize, scratch.data()});
    });
}

}  // namespace cpu
}  // namespace mgdn
