// Tiled inference with exactly mgdn_edge/model/tiling.py's grid and blending: the same tile starts,
// the same raised-cosine ramps (float64), the same accumulation order, one float32 rounding at
// the end. See that module's docstring for why the grid and ramps are what they are.
#pragma once

#include <functional>
#include <vector>

#include "tasks.hpp"

namespace mgdn_cli {

struct TileGrid {
  int height = 0, width = 0, tile_h = 0, tile_w = 0, overlap = 0;
  std::vector<int> ys() const;
  std::vector<int> xs() const;
  size_t count() const { return ys().size() * xs().size(); }
};

// tiling.tile_starts: offsets of `tile`-pixel tiles covering `size`, neighbours sharing >= overlap.
std::vector<int> tile_starts(int size, int tile, int overlap);
// tiling.axis_weights: per-tile 1-D blending weights along one axis.
std::vector<std::vector<double>> axis_weights(const std::vector<int>& starts, int tile, int size, int overlap);
// tiling.plan_tiles for an explicit --tile (no memory planning here): throws UserError with the
// Python messages; `whole` comes back true where one tile covers the image.
TileGrid plan_tiles(int height, int width, int tile_h, int tile_w, int overlap, bool& whole);

// One network call: NCHW tensors of one tile -> its NCHW float32 output (shape in `shape`).
using TileRunner = std::function<std::vector<float>(const std::vector<Tensor>&, std::vector<long long>& shape)>;
// tiling.run_tiled: blend `run` over the tiles of `inputs`; returns NCHW float32 and its shape.
std::vector<float> run_tiled(const TileRunner& run, const std::vector<Tensor>& inputs, const TileGrid& grid,
                             std::vector<long long>& shape);

}  // namespace mgdn_cli
