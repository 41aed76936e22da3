// Files -> network inputs and network output -> images, per task, as mgdn_edge.model.tasks does it
// (same float32 operations in the same order, same checks and messages).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"

namespace mgdn_cli {

struct Tensor {  // float32 NCHW, N = 1
  long long n = 1, c = 0, h = 0, w = 0;
  std::vector<float> data;
};

struct Prepared {
  std::string task;
  std::vector<Tensor> inputs;
  bool has_depth_range = false;  // GDSR: the depth map's (lo, hi) before normalisation
  double lo = 0, hi = 0;
  std::vector<std::string> sources;  // the files read (a scene folder's brackets included)
  std::optional<std::vector<double>> exposures;  // HDR: the EVs used (given, or the scene's exposure.txt)
};

Prepared prepare_inputs(const std::string& task, std::vector<std::string> paths,
                        std::optional<std::vector<double>> exposures);
// tasks.kalantari_scene: a scene folder's three .tif brackets sorted by name, and its exposure.txt.
std::vector<std::string> kalantari_scene(const std::string& folder, std::vector<double>& evs);
Image to_hwc(const float* nchw, long long c, long long h, long long w);  // 1xCxHxW -> HxWxC
Image postprocess(const Prepared& prepared, const Image& output);       // clip; GDSR: depth units
Image mu_law(const Image& linear);                                       // HDR tonemapping, mu = 5000
// torch.nn.functional.interpolate(mode="bicubic", align_corners=False) of an HxW map.
std::vector<float> bicubic_resize(const std::vector<float>& src, int in_h, int in_w, int out_h, int out_w);

}  // namespace mgdn_cli
