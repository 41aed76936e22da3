// Port of mgdn_edge/model/tasks.py's prepare_inputs / postprocess. numpy promotes a Python float to
// float32 next to a float32 array, so every constant below is a float and every operation a
// float32 one, in numpy's order; the file is compiled with -ffp-contract=off (no FMA).
#include "tasks.hpp"

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "image_io.hpp"

namespace mgdn_cli {
namespace {

const float kGamma = 2.2f;
const float kMean[3] = {0.485f, 0.456f, 0.406f};
const float kStd[3] = {0.229f, 0.224f, 0.225f};

std::vector<std::string> input_names(const std::string& task) {
  if (task == "mff") return {"a", "b"};
  if (task == "mef") return {"under", "over"};
  if (task == "hdr") return {"under", "ref", "over"};
  return {"rgb", "depth"};
}

std::string joined(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) text += (i ? sep : "") + items[i];
  return text;
}

std::string py_list(const std::vector<double>& values) {
  std::vector<std::string> items;
  for (double v : values) items.push_back(py_float(v));
  return "[" + joined(items) + "]";
}

Tensor to_nchw(const Image& img) {
  Tensor t{1, img.c, img.h, img.w, std::vector<float>(img.data.size())};
  size_t plane = size_t(img.h) * img.w;
  for (size_t i = 0; i < plane; ++i)
    for (int k = 0; k < img.c; ++k) t.data[k * plane + i] = img.data[i * img.c + k];
  return t;
}

// An LDR input in [0, 1]; a float file outside that range is refused (it would overflow to NaN).
Image read_ldr(const std::string& path) {
  Image img = read_image(path, 3);
  auto [lo, hi] = std::minmax_element(img.data.begin(), img.data.end());
  if (*lo < 0.0f || *hi > 1.0f)
    throw UserError(path + " has values in [" + format("%.3g", *lo) + ", " + format("%.3g", *hi) +
                    "]; an LDR input must lie in [0, 1]");
  return img;
}

void same_size(const std::vector<Image>& images, const std::vector<std::string>& paths) {
  for (size_t i = 1; i < images.size(); ++i)
    if (images[i].h != images[0].h || images[i].w != images[0].w)
      throw UserError("size mismatch: " + paths[0] + " is " + std::to_string(images[0].w) + "x" +
                      std::to_string(images[0].h) + " but " + paths[i] + " is " + std::to_string(images[i].w) +
                      "x" + std::to_string(images[i].h) + " (WxH)");
}

std::vector<float> luma(const Image& img) {
  std::vector<float> out(size_t(img.h) * img.w);
  for (size_t i = 0; i < out.size(); ++i) {
    const float* px = &img.data[i * 3];
    out[i] = px[0] * 0.299f + px[1] * 0.587f + px[2] * 0.114f;
  }
  return out;
}

// tasks.check_exposures_match_brackets: EVs must rise, and a brighter EV must not be clearly darker.
void check_exposures(const std::vector<Image>& images, const std::vector<double>& evs,
                     const std::vector<std::string>& paths) {
  for (size_t i = 1; i < evs.size(); ++i)
    if (evs[i] < evs[i - 1]) {
      std::vector<std::string> names;
      for (const auto& p : paths) names.push_back(file_name(p));
      throw UserError("exposure values " + py_list(evs) + " must rise from the under to the over bracket (" +
                      joined(names) + "); give the brackets and EVs in that order");
    }
  const float different = float(2.0 / 255.0);
  std::vector<std::vector<float>> lumas;
  std::vector<double> means;
  for (const auto& img : images) {
    lumas.push_back(luma(img));
    double sum = 0;
    for (float v : lumas.back()) sum += v;
    means.push_back(sum / double(lumas.back().size()));
  }
  for (size_t i = 0; i < images.size(); ++i) {
    for (size_t j = i + 1; j < images.size(); ++j) {
      size_t moved = 0, darker_count = 0;
      for (size_t p = 0; p < lumas[i].size(); ++p) {
        float diff = lumas[j][p] - lumas[i][p];
        if (std::fabs(diff) > different) {
          ++moved;
          darker_count += diff < 0;
        }
      }
      if (moved == 0) continue;
      double darker = double(darker_count) / double(moved);
      double moved_share = double(moved) / double(lumas[i].size());
      std::string wrong;
      if (evs[j] > evs[i] && darker >= 0.8 && means[j] < means[i])
        wrong = file_name(paths[j]) + " (EV " + format("%g", evs[j]) + ") is darker than " + file_name(paths[i]) +
                " (EV " + format("%g", evs[i]) + ")";
      else if (evs[j] == evs[i] && std::max(darker, 1 - darker) >= 0.8 && moved_share > 0.5)
        wrong = file_name(paths[i]) + " and " + file_name(paths[j]) + " share EV " + format("%g", evs[i]) +
                " but differ in brightness";
      else
        continue;
      throw UserError("exposure values " + py_list(evs) + " contradict the brackets: " + wrong +
                      " (mean brightness " + format("%.3f", means[i]) + " vs " + format("%.3f", means[j]) +
                      "); check the EVs and the bracket order");
    }
  }
}

// [LDR, LDR^gamma / 2^EV] as 6 channels (hdr_network_input).
Image hdr_network_input(const Image& ldr, double ev) {
  Image out{ldr.h, ldr.w, 6, std::vector<float>(size_t(ldr.h) * ldr.w * 6)};
  float scale = static_cast<float>(std::pow(2.0, ev));  // np.float32(2.0 ** ev)
  for (size_t i = 0; i < size_t(ldr.h) * ldr.w; ++i)
    for (int k = 0; k < 3; ++k) {
      float v = ldr.data[i * 3 + k];
      out.data[i * 6 + k] = v;
      out.data[i * 6 + 3 + k] = powf(v, kGamma) / scale;
    }
  return out;
}

std::vector<double> read_exposures(const std::string& path) {
  if (!is_file(path)) throw UserError("exposure file not found: " + path);
  std::ifstream in(path);
  std::vector<double> values;
  std::string word;
  while (in >> word) {
    char* end = nullptr;
    double v = std::strtod(word.c_str(), &end);
    if (end == word.c_str() || *end != '\0')
      throw UserError(path + ": exposure values must be numbers (could not convert string to float: '" + word + "')");
    values.push_back(v);
  }
  if (values.size() != 3)
    throw UserError(path + " has " + std::to_string(values.size()) +
                    " exposure values, expected 3 (one per bracket)");
  return values;
}

}  // namespace

// A Kalantari scene folder: its three .tif brackets sorted by name, and exposure.txt.
std::vector<std::string> kalantari_scene(const std::string& folder, std::vector<double>& evs) {
  std::vector<std::string> ldrs;
  if (DIR* dir = opendir(folder.c_str())) {
    while (dirent* entry = readdir(dir)) {
      std::string path = folder + (folder.back() == '/' ? "" : "/") + entry->d_name;
      std::string suffix = suffix_lower(entry->d_name);
      if ((suffix == ".tif" || suffix == ".tiff") && is_file(path)) ldrs.push_back(path);
    }
    closedir(dir);
  }
  std::sort(ldrs.begin(), ldrs.end());
  if (ldrs.size() != 3)
    throw UserError(folder + " must hold exactly 3 LDR .tif brackets, found " + std::to_string(ldrs.size()));
  evs = read_exposures(folder + (folder.back() == '/' ? "" : "/") + "exposure.txt");
  return ldrs;
}

namespace {

// torch's bicubic tap positions and weights along one axis (A = -0.75, clamped borders).
void cubic_taps(int in, int out, std::vector<int>& index, std::vector<float>& weight) {
  const float a = -0.75f;
  float scale = float(in) / float(out);
  index.assign(size_t(out) * 4, 0);
  weight.assign(size_t(out) * 4, 0.0f);
  auto near = [&](float x) { return ((a + 2) * x - (a + 3)) * x * x + 1; };
  auto far = [&](float x) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; };
  for (int i = 0; i < out; ++i) {
    float real = scale * (float(i) + 0.5f) - 0.5f;
    int base = std::min(int(std::floor(real)), in - 1);
    float t = std::min(std::max(real - float(base), 0.0f), 1.0f);
    float w[4] = {far(t + 1.0f), near(t), near(1.0f - t), far(1.0f - t + 1.0f)};
    for (int k = 0; k < 4; ++k) {
      index[size_t(i) * 4 + k] = std::min(std::max(base - 1 + k, 0), in - 1);
      weight[size_t(i) * 4 + k] = w[k];
    }
  }
}

}  // namespace

std::vector<float> bicubic_resize(const std::vector<float>& src, int in_h, int in_w, int out_h, int out_w) {
  std::vector<int> yi, xi;
  std::vector<float> yw, xw;
  cubic_taps(in_h, out_h, yi, yw);
  cubic_taps(in_w, out_w, xi, xw);
  std::vector<float> out(size_t(out_h) * out_w);
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x) {
      float value = 0;
      for (int i = 0; i < 4; ++i) {
        const float* row = &src[size_t(yi[size_t(y) * 4 + i]) * in_w];
        float inner = 0;
        for (int j = 0; j < 4; ++j) inner += row[xi[size_t(x) * 4 + j]] * xw[size_t(x) * 4 + j];
        value += inner * yw[size_t(y) * 4 + i];
      }
      out[size_t(y) * out_w + x] = value;
    }
  return out;
}

Prepared prepare_inputs(const std::string& task, std::vector<std::string> paths,
                        std::optional<std::vector<double>> exposures) {
  Prepared prepared;
  prepared.task = task;
  auto names = input_names(task);
  if (task == "hdr" && paths.size() == 1 && is_dir(paths[0])) {
    std::vector<double> scene_evs;
    paths = kalantari_scene(paths[0], scene_evs);
    if (!exposures) exposures = scene_evs;
  }
  if (paths.size() != names.size())
    throw UserError("task '" + task + "' takes " + std::to_string(names.size()) + " inputs (" + joined(names) +
                    "), got " + std::to_string(paths.size()));
  prepared.sources = paths;
  if (task == "hdr") prepared.exposures = exposures;

  if (task == "mff" || task == "mef") {
    std::vector<Image> images;
    for (const auto& p : paths) images.push_back(read_ldr(p));
    same_size(images, paths);
    for (const auto& img : images) prepared.inputs.push_back(to_nchw(img));
    return prepared;
  }
  if (task == "hdr") {
    if (!exposures || exposures->size() != 3)
      throw UserError("task 'hdr' needs three exposure values (--exposures EV_UNDER EV_REF EV_OVER)");
    for (double ev : *exposures)
      if (!std::isfinite(ev)) throw UserError("exposure values must be finite, got " + py_list(*exposures));
    double shortest = *std::min_element(exposures->begin(), exposures->end());
    std::vector<Image> images;
    for (const auto& p : paths) images.push_back(read_ldr(p));
    same_size(images, paths);
    check_exposures(images, *exposures, paths);
    for (size_t i = 0; i < images.size(); ++i)
      prepared.inputs.push_back(to_nchw(hdr_network_input(images[i], (*exposures)[i] - shortest)));
    return prepared;
  }
  // gdsr: ImageNet-normalised RGB guide + min-max normalised depth, bicubic-upsampled to the guide
  Image rgb = read_ldr(paths[0]);
  Image depth = read_depth(paths[1]);
  auto [lo_it, hi_it] = std::minmax_element(depth.data.begin(), depth.data.end());
  double lo = *lo_it, hi = *hi_it;
  if (hi <= lo) throw UserError("depth map " + paths[1] + " is constant; it cannot be normalised");
  float lo_f = float(lo), span = float(hi - lo);  // (hi - lo) is a Python float, rounded once
  std::vector<float> normalised(depth.data.size());
  for (size_t i = 0; i < normalised.size(); ++i) normalised[i] = (depth.data[i] - lo_f) / span;
  if (depth.h != rgb.h || depth.w != rgb.w) normalised = bicubic_resize(normalised, depth.h, depth.w, rgb.h, rgb.w);
  Image guide = rgb;
  for (size_t i = 0; i < size_t(rgb.h) * rgb.w; ++i)
    for (int k = 0; k < 3; ++k) guide.data[i * 3 + k] = (rgb.data[i * 3 + k] - kMean[k]) / kStd[k];
  prepared.inputs.push_back(to_nchw(guide));
  prepared.inputs.push_back(Tensor{1, 1, rgb.h, rgb.w, normalised});
  prepared.has_depth_range = true;
  prepared.lo = lo;
  prepared.hi = hi;
  return prepared;
}

Image to_hwc(const float* nchw, long long c, long long h, long long w) {
  Image img{int(h), int(w), int(c), std::vector<float>(size_t(c * h * w))};
  size_t plane = size_t(h * w);
  for (size_t i = 0; i < plane; ++i)
    for (long long k = 0; k < c; ++k) img.data[i * c + k] = nchw[k * plane + i];
  return img;
}

Image postprocess(const Prepared& prepared, const Image& output) {
  Image image = output;
  for (float& v : image.data) v = std::min(std::max(v, 0.0f), 1.0f);
  if (prepared.task == "gdsr" && prepared.has_depth_range) {
    float span = float(prepared.hi - prepared.lo), lo = float(prepared.lo);
    for (float& v : image.data) v = v * span + lo;
  }
  return image;
}

Image mu_law(const Image& linear) {
  // (np.log1p(mu * x) / np.log1p(mu)).astype(float32): a float32 log1p divided in float64
  const double denominator = std::log1p(5000.0);
  Image out = linear;
  for (float& v : out.data) v = static_cast<float>(double(log1pf(5000.0f * v)) / denominator);
  return out;
}

}  // namespace mgdn_cli
