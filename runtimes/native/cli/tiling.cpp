// Port of mgdn_edge/model/tiling.py (tile_starts, axis_weights, TileGrid checks, run_tiled). Weights
// and the accumulation are float64 as numpy computes them; the float32 network outputs are
// promoted, weighted, summed tile by tile (row by row), divided by the summed weights and
// rounded to float32 once, so the result equals numpy's `(acc / total).astype(np.float32)`.
#include "tiling.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "common.hpp"

namespace mgdn_cli {
namespace {

// tiling._ramp: 0.5 - 0.5 * cos(pi * (i + 0.5) / length), numpy's order of operations.
std::vector<double> ramp(int length) {
  std::vector<double> up(size_t(std::max(length, 0)));
  for (int i = 0; i < length; ++i) up[size_t(i)] = 0.5 - 0.5 * std::cos(M_PI * (double(i) + 0.5) / double(length));
  return up;
}

// Python's `//` on ints (floor division; the operands here may be negative only in the zone math).
long long floor_div(long long a, long long b) {
  long long q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// The tile of (rows y.., columns x..) of one NCHW tensor, contiguous.
Tensor crop(const Tensor& t, int y, int x, int th, int tw) {
  Tensor out{t.n, t.c, th, tw, std::vector<float>(size_t(t.n * t.c) * th * tw)};
  float* dst = out.data.data();
  for (long long plane = 0; plane < t.n * t.c; ++plane)
    for (int r = 0; r < th; ++r) {
      const float* src = t.data.data() + (size_t(plane) * t.h + size_t(y + r)) * t.w + x;
      dst = std::copy(src, src + tw, dst);
    }
  return out;
}

}  // namespace

std::vector<int> tile_starts(int size, int tile, int overlap) {
  if (tile >= size) return {0};
  const long long n = size, t = tile, o = overlap;
  long long steps = (n - t + (t - o) - 1) / (t - o);  // ceil((N - T) / (T - O)), both positive
  long long span = size - tile;
  std::vector<int> starts;
  for (long long i = 0; i <= steps; ++i) starts.push_back(int((2 * i * span + steps) / (2 * steps)));
  return starts;
}

std::vector<std::vector<double>> axis_weights(const std::vector<int>& starts, int tile, int size, int overlap) {
  int length = std::min(tile, size);
  std::vector<std::vector<double>> weights(starts.size(), std::vector<double>(size_t(length), 1.0));
  std::vector<double> up = ramp(overlap);
  for (size_t k = 0; k + 1 < starts.size(); ++k) {
    long long zone_start = starts[k + 1], zone_end = starts[k] + length;  // pixels both tiles cover
    long long cut = zone_start + floor_div(zone_end - zone_start - overlap, 2);  // ramp [cut, cut + overlap)
    std::vector<double> rise(size_t(std::max(0LL, cut - zone_start)), 0.0);  // next tile, from its start
    rise.insert(rise.end(), up.begin(), up.end());
    for (size_t i = 0; i < rise.size() && i < size_t(length); ++i) weights[k + 1][i] *= rise[i];
    std::vector<double> fall;  // this tile, to its end
    for (double u : up) fall.push_back(1.0 - u);
    fall.resize(fall.size() + size_t(std::max(0LL, zone_end - cut - overlap)), 0.0);
    size_t from = fall.size() > size_t(length) ? 0 : size_t(length) - fall.size();
    size_t skip = fall.size() > size_t(length) ? fall.size() - size_t(length) : 0;  // numpy's clamped slice
    for (size_t i = from; i < size_t(length); ++i) weights[k][i] *= fall[i - from + skip];
  }
  return weights;
}

std::vector<int> TileGrid::ys() const { return tile_starts(height, tile_h, overlap); }
std::vector<int> TileGrid::xs() const { return tile_starts(width, tile_w, overlap); }

TileGrid plan_tiles(int height, int width, int tile_h, int tile_w, int overlap, bool& whole) {
  if (overlap < 0) throw UserError("tile overlap must be >= 0 pixels, got " + std::to_string(overlap));
  const struct {
    const char* name;
    int tile, size;
  } axes[] = {{"height", tile_h, height}, {"width", tile_w, width}};
  for (const auto& a : axes) {
    if (a.tile < 1) throw UserError(std::string("tile ") + a.name + " must be positive, got " + std::to_string(a.tile));
    if (a.tile < a.size && 3LL * overlap > a.tile - 2)
      throw UserError("overlap " + std::to_string(overlap) + " px is too large for tile " + a.name + " " +
                      std::to_string(a.tile) + ": at most " + std::to_string(std::max((a.tile - 2) / 3, 0)) +
                      " (a third of the tile) so blending ramps cannot meet");
  }
  TileGrid grid{height, width, tile_h, tile_w, overlap};
  whole = grid.count() == 1;
  return grid;
}

std::vector<float> run_tiled(const TileRunner& run, const std::vector<Tensor>& inputs, const TileGrid& grid,
                             std::vector<long long>& shape) {
  const long long n = inputs[0].n, h = inputs[0].h, w = inputs[0].w;
  if (h != grid.height || w != grid.width)
    throw UserError("tile grid is for " + std::to_string(grid.width) + "x" + std::to_string(grid.height) +
                    " but the inputs are " + std::to_string(w) + "x" + std::to_string(h) + " (WxH)");
  const int th = std::min(grid.tile_h, grid.height), tw = std::min(grid.tile_w, grid.width);
  std::vector<int> ys = grid.ys(), xs = grid.xs();
  auto wy = axis_weights(ys, grid.tile_h, grid.height, grid.overlap);
  auto wx = axis_weights(xs, grid.tile_w, grid.width, grid.overlap);
  std::vector<double> acc, total(size_t(h * w), 0.0);
  long long c = 0;
  for (size_t iy = 0; iy < ys.size(); ++iy)
    for (size_t ix = 0; ix < xs.size(); ++ix) {
      std::vector<Tensor> tiles;
      for (const Tensor& t : inputs) tiles.push_back(crop(t, ys[iy], xs[ix], th, tw));
      std::vector<long long> got;
      std::vector<float> out = run(tiles, got);
      if (acc.empty()) {
        c = got[1];
        acc.assign(size_t(n * c * h * w), 0.0);
      }
      for (int r = 0; r < th; ++r)
        for (int col = 0; col < tw; ++col) {
          double weight = wy[iy][size_t(r)] * wx[ix][size_t(col)];  // np.outer
          size_t at = size_t(ys[iy] + r) * w + size_t(xs[ix] + col);
          for (long long plane = 0; plane < n * c; ++plane)
            acc[size_t(plane) * h * w + at] += double(out[(size_t(plane) * th + r) * tw + col]) * weight;
          total[at] += weight;
        }
    }
  std::vector<float> result(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) result[i] = float(acc[i] / total[i % size_t(h * w)]);
  shape = {n, c, h, w};
  return result;
}

}  // namespace mgdn_cli
