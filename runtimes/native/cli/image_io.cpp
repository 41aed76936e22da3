// OpenCV C++ reads and writes with the numpy rounding of mgdn_edge.core.imageio (float32 division,
// np.round's ties-to-even), so both sides build the same tensors from the same files.
#include "image_io.hpp"

#include <cmath>
#include <limits>
#include <opencv2/imgcodecs.hpp>

#include "image_headers.hpp"
#include "npy.hpp"

namespace mgdn_cli {

bool is_hdr_suffix(const std::string& suffix) { return suffix == ".hdr" || suffix == ".pic" || suffix == ".exr"; }

namespace {

const char* depth_name(int depth) {
  switch (depth) {
    case CV_8S: return "int8";
    case CV_16S: return "int16";
    case CV_32S: return "int32";
    case CV_16F: return "float16";
    default: return "unknown";
  }
}

// BGR(A) OpenCV rows -> float32 RGB HxWxC, alpha dropped, scaled by the bit depth.
template <typename T>
void to_float(const cv::Mat& mat, Image& img, float scale, bool divide) {
  int stored = mat.channels();
  for (int y = 0; y < img.h; ++y) {
    const T* row = mat.ptr<T>(y);
    for (int x = 0; x < img.w; ++x) {
      float* px = img.at(y, x);
      for (int k = 0; k < img.c; ++k) {
        int from = img.c == 3 ? 2 - k : k;  // OpenCV is BGR
        float v = static_cast<float>(row[size_t(x) * stored + from]);
        px[k] = divide ? v / scale : v;
      }
    }
  }
}

// (H, W, 3) @ [0.299, 0.587, 0.114] in float32.
float luma(const float* px) { return px[0] * 0.299f + px[1] * 0.587f + px[2] * 0.114f; }

}  // namespace

Image read_image(const std::string& path, int channels) {
  check_image_file(path);
  cv::Mat mat = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (mat.empty()) throw UserError("cannot decode image (corrupt or unsupported format): " + path);
  Image img;
  img.h = mat.rows;
  img.w = mat.cols;
  img.c = mat.channels() == 4 ? 3 : mat.channels();
  img.data.assign(size_t(img.h) * img.w * img.c, 0.0f);
  switch (mat.depth()) {
    case CV_8U: to_float<uint8_t>(mat, img, 255.0f, true); break;
    case CV_16U: to_float<uint16_t>(mat, img, 65535.0f, true); break;
    case CV_32F: to_float<float>(mat, img, 1.0f, false); break;
    case CV_64F: to_float<double>(mat, img, 1.0f, false); break;
    default: throw UserError(std::string("unsupported pixel type ") + depth_name(mat.depth()) + " in " + path);
  }
  for (float v : img.data)
    if (!std::isfinite(v)) throw UserError(path + " contains NaN or Inf values");
  if (channels == 3 && img.c == 1) {
    Image rgb{img.h, img.w, 3, std::vector<float>(size_t(img.h) * img.w * 3)};
    for (size_t i = 0; i < size_t(img.h) * img.w; ++i)
      for (int k = 0; k < 3; ++k) rgb.data[i * 3 + k] = img.data[i];
    return rgb;
  }
  if (channels == 1 && img.c == 3) {
    Image gray{img.h, img.w, 1, std::vector<float>(size_t(img.h) * img.w)};
    for (size_t i = 0; i < gray.data.size(); ++i) gray.data[i] = luma(&img.data[i * 3]);
    return gray;
  }
  if (channels != 0 && img.c != channels)
    throw UserError(path + " has " + std::to_string(img.c) + " channels, expected " + std::to_string(channels));
  return img;
}

Image read_depth(const std::string& path) {
  if (suffix_lower(path) != ".npy") return read_image(path, 1);
  if (!is_file(path)) throw UserError("depth file not found: " + path);
  std::vector<long long> shape;
  std::vector<double> values = read_npy(path, shape);
  std::vector<long long> squeezed;
  for (long long s : shape)
    if (s != 1) squeezed.push_back(s);
  if (squeezed.size() != 2) {
    std::string text = "(";
    for (size_t i = 0; i < squeezed.size(); ++i) text += std::to_string(squeezed[i]) + (i + 1 < squeezed.size() ? ", " : "");
    text += squeezed.size() == 1 ? ",)" : ")";
    throw UserError("depth array " + path + " must be HxW, got shape " + text);
  }
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, biggest = 0;
  for (double v : values) {
    if (!std::isfinite(v)) throw UserError("depth array " + path + " contains NaN or Inf values");
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    biggest = std::max(biggest, std::fabs(v));
  }
  if (std::max(hi - lo, biggest) > double(std::numeric_limits<float>::max()))
    throw UserError("depth array " + path + " spans " + format("%.3g", hi - lo) +
                    ", beyond float32's range: it cannot be normalised");
  Image depth{int(squeezed[0]), int(squeezed[1]), 1, std::vector<float>(values.size())};
  for (size_t i = 0; i < values.size(); ++i) depth.data[i] = static_cast<float>(values[i]);
  return depth;
}

void write_image(const std::string& path, const Image& image) {
  std::string suffix = suffix_lower(path);
  bool hdr = is_hdr_suffix(suffix), sixteen = suffix == ".tif" || suffix == ".tiff";
  int type = hdr ? CV_32FC(image.c) : sixteen ? CV_16UC(image.c) : CV_8UC(image.c);
  cv::Mat mat(image.h, image.w, type);
  float full = sixteen ? 65535.0f : 255.0f;
  for (int y = 0; y < image.h; ++y) {
    for (int x = 0; x < image.w; ++x) {
      const float* px = image.at(y, x);
      for (int k = 0; k < image.c; ++k) {
        int to = image.c == 3 ? 2 - k : k;  // RGB -> OpenCV's BGR
        float v = px[k];
        if (hdr) {
          mat.ptr<float>(y)[size_t(x) * image.c + to] = v;
          continue;
        }
        // np.round(np.clip(v, 0, 1) * full): float32 product, ties to even (nearbyint's default mode)
        float q = std::nearbyint(std::min(std::max(v, 0.0f), 1.0f) * full);
        if (sixteen) mat.ptr<uint16_t>(y)[size_t(x) * image.c + to] = static_cast<uint16_t>(q);
        else mat.ptr<uint8_t>(y)[size_t(x) * image.c + to] = static_cast<uint8_t>(q);
      }
    }
  }
  bool written = false;
  try {
    written = cv::imwrite(path, mat);
  } catch (const cv::Exception&) {
    written = false;  // OpenCV throws, rather than returns false, for an extension it cannot write
  }
  if (!written) throw UserError("cannot write image " + path + " (unsupported extension or unwritable folder)");
}

}  // namespace mgdn_cli
