// The one small interface every inference backend implements (OpenVINO, TensorRT), and
// the error type the C API turns into status codes and one-line messages.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "mgdn_edge.h"

namespace mgdn {

// A failure the C API reports as `status` with `what()` as its one-line message.
class Error : public std::runtime_error {
 public:
  Error(mgdn_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  mgdn_status status() const { return status_; }

 private:
  mgdn_status status_;
};

// What a model file says about itself (ONNX metadata_props or the IR's rt_info), "" / 0 if absent.
struct ModelInfo {
  std::string task;          // mff, mef, hdr, gdsr
  int64_t window_size = 0;   // attention window: H and W must exceed the reflect padding to it
  int64_t static_h = 0;      // a model exported for one fixed size (0: any size)
  int64_t static_w = 0;
  std::vector<int64_t> input_channels;  // from the graph's input shapes
  int64_t output_channels = 0;
};

struct Shape {
  int64_t n, c, h, w;
  size_t count() const { return static_cast<size_t>(n * c * h * w); }
  bool operator==(const Shape& o) const { return n == o.n && c == o.c && h == o.h && w == o.w; }
  bool operator!=(const Shape& o) const { return !(*this == o); }
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const ModelInfo& info() const = 0;
  // Run on validated inputs (count, channels and sizes already checked); `out` holds
  // info().output_channels x H x W floats per batch item.
  virtual void run(const std::vector<const float*>& inputs, const std::vector<Shape>& shapes, float* out) = 0;
};

struct BackendOptions {
  std::string model_path;
  std::string extension_path;  // "" : none
  std::string device = "CPU";
  int32_t threads = 0;
};

std::unique_ptr<Backend> open_openvino(const BackendOptions& options);
std::unique_ptr<Backend> open_tensorrt(const BackendOptions& options);

// The task's input names in its order, as mgdn_edge.model.config.TASK_IO names them ({} if unknown).
std::vector<std::string> task_input_names(const std::string& task);

// Small helpers shared by backends: a string / integer field of a flat JSON object (the config
// the exporter writes), without a JSON library; "" / 0 when absent.
std::string json_string_field(const std::string& json, const std::string& key);
int64_t json_int_field(const std::string& json, const std::string& key);
bool json_has_field(const std::string& json, const std::string& key);
bool json_is_null(const std::string& json, const std::string& key);  // present and null
std::string json_object_field(const std::string& json, const std::string& key);  // "{...}" or ""
// The items of a flat list of numbers or strings (strings without their quotes); {} when absent.
std::vector<std::string> json_list_items(const std::string& json, const std::string& key);

}  // namespace mgdn
