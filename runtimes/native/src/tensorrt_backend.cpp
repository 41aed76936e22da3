// The TensorRT backend: runs a serialised engine (.engine / .plan, from `mgdn-edge build-engine` or
// built here from model.trt*.onnx) through TensorRT's name-based I/O API (getNbIOTensors,
// setInputShape, setTensorAddress, enqueueV3: TensorRT 8.5 to 11), with the checks of
// mgdn_edge.runtimes.tensorrt.runtime: the sidecar's TensorRT/GPU/plugin before TensorRT sees the
// bytes, the plugin library registered before the engine is deserialised, inputs bound by name in
// the task's order and their sizes checked against the engine's optimisation profile.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <type_traits>

#include "tensorrt_common.hpp"
#include "tensorrt_device.hpp"

namespace mgdn {
namespace {

using trt::Owned;
using Extent = std::remove_reference_t<decltype(nvinfer1::Dims{}.d[0])>;  // int32_t before 10, int64_t from 10

Extent extent(int64_t value) { return static_cast<Extent>(value); }

std::string shape_text(int64_t n, int64_t c, int64_t h, int64_t w) {
  return std::to_string(n) + "x" + std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

std::string read_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (!file.good() && !file.eof()) throw Error(MGDN_E_FILE, "cannot read the engine " + path);
  if (bytes.empty()) throw Error(MGDN_E_FILE, "the engine " + path + " is empty");
  return bytes;
}

// The plugin library an engine needs, as TensorRTRuntime._plugin_library picks it: the one given,
// none for an engine built without it, else the one its sidecar recorded.
std::string plugin_for_engine(const std::string& engine, const std::string& given, const Sidecar& side) {
  if (!given.empty()) return given;
  if (side.plugin_none || side.plugin.empty()) return "";
  if (trt::is_file(side.plugin)) return side.plugin;
  throw Error(MGDN_E_FILE, trt::base_name(engine) + " was built with the plugin library " + side.plugin +
                               ", which is not there; pass the library (--plugin PATH)");
}

// One input's batch/height/width range in the engine's first optimisation profile.
struct Range {
  int64_t lo[3], hi[3];  // N, H, W
};

class TensorRtBackend : public Backend {
 public:
  explicit TensorRtBackend(const BackendOptions& options) : gpu_(gpu_ordinal(options.device)) {
    const std::string& model = options.model_path;
    if (!trt::is_file(model)) throw Error(MGDN_E_FILE, "model file not found: " + model);
    std::string plugin = options.extension_path;
    if (!plugin.empty() && !trt::is_file(plugin))
      throw Error(MGDN_E_FILE, "TensorRT plugin library not found: " + plugin +
                                   "; build it with `mgdn-edge build-plugins --tensorrt`");
    device::select(gpu_);
    bool onnx = trt::ends_with(model, ".onnx");
    if (!onnx && !trt::ends_with(model, ".engine") && !trt::ends_with(model, ".plan"))
      throw Error(MGDN_E_FILE, "the TensorRT backend runs an engine (.engine/.plan) or builds one from an ONNX "
                               "file (model.trt.onnx), not " + model);
    runtime_.reset(nvinfer1::createInferRuntime(logger_));
    if (!runtime_) throw Error(MGDN_E_BACKEND, "TensorRT could not create a runtime" + reason());
    if (onnx) {
      if (!plugin.empty()) trt::load_plugin(plugin, logger_);  // the parser needs the creators too
      path_ = trt::engine_for_onnx(model, plugin, gpu_, logger_);
      side_ = read_sidecar(path_);
    } else {
      path_ = model;
      side_ = read_sidecar(path_);
      plugin = plugin_for_engine(path_, plugin, side_);
      check_engine_matches(path_, side_, trt::running_environment(gpu_, plugin));  // before TensorRT reads it
      if (!plugin.empty()) trt::load_plugin(plugin, logger_);
    }
    deserialize(!plugin.empty());
    describe();
    stream_ = device::create_stream();
  }

  ~TensorRtBackend() override {
    context_.reset();
    engine_.reset();
    device::destroy_stream(stream_);
  }

  const ModelInfo& info() const override { return info_; }

  void run(const std::vector<const float*>& inputs, const std::vector<Shape>& shapes, float* out) override {
    try {
      enqueue(inputs, shapes, out);
      device::synchronize(stream_);
    } catch (...) {
      try {
        device::synchronize(stream_);  // nothing queued may outlive this call's buffers
      } catch (...) {
        // the first failure is the one to report
      }
      throw;
    }
  }

 private:
  // ": what TensorRT logged", or "" when it logged nothing.
  std::string reason() { return trt::with_reason(logger_.take_error()); }

  void enqueue(const std::vector<const float*>& inputs, const std::vector<Shape>& shapes, float* out) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::string& name = inputs_[i];
      const Shape& s = shapes[i];
      check_profile(s, i);
      // Dims4 extents are int32_t before TensorRT 10; the profile check above bounds them.
      if (!context_->setInputShape(name.c_str(), nvinfer1::Dims4(extent(s.n), extent(s.c), extent(s.h), extent(s.w))))
        throw Error(MGDN_E_INPUT, "TensorRT refused shape " + shape_text(s.n, s.c, s.h, s.w) + " for input '" +
                                      name + "'" + reason());
      size_t bytes = s.count() * sizeof(float);
      if (buffers_[i].bytes() < bytes) buffers_[i] = device::Buffer(bytes);
      device::copy_to_device(buffers_[i].data(), inputs[i], bytes, stream_);
      context_->setTensorAddress(name.c_str(), buffers_[i].data());
    }
    const Shape& first = shapes[0];
    Shape want{first.n, info_.output_channels, first.h, first.w};
    nvinfer1::Dims got = context_->getTensorShape(output_.c_str());
    if (got.nbDims != 4 || got.d[0] != want.n || got.d[1] != want.c || got.d[2] != want.h || got.d[3] != want.w)
      throw Error(MGDN_E_BACKEND, trt::base_name(path_) + " gives an output of shape " + dims_text(got) +
                                      " for these inputs, not " + shape_text(want.n, want.c, want.h, want.w));
    size_t bytes = want.count() * sizeof(float);
    if (output_buffer_.bytes() < bytes) output_buffer_ = device::Buffer(bytes);
    context_->setTensorAddress(output_.c_str(), output_buffer_.data());
    logger_.take_error();
    if (!context_->enqueueV3(static_cast<cudaStream_t>(stream_)))
      throw Error(MGDN_E_BACKEND, "TensorRT failed to run " + trt::base_name(path_) + reason());
    device::copy_to_host(out, output_buffer_.data(), bytes, stream_);
  }

  static int gpu_ordinal(const std::string& device) {
    std::string text = device.rfind("cuda:", 0) == 0 ? device.substr(5) : device;
    if (text.empty() || text == "GPU" || text == "cuda") return 0;
    char* end = nullptr;
    long ordinal = std::strtol(text.c_str(), &end, 10);
    if (*end != '\0' || ordinal < 0)
      throw Error(MGDN_E_ARGUMENT, "the TensorRT backend runs on a GPU: device must be a GPU index (0) or cuda:N, "
                                   "got '" + device + "'");
    return int(ordinal);
  }

  static std::string dims_text(const nvinfer1::Dims& dims) {
    std::string text;
    for (int32_t k = 0; k < dims.nbDims; ++k) text += (k ? "x" : "") + std::to_string(int64_t(dims.d[k]));
    return text.empty() ? "()" : text;
  }

  void deserialize(bool with_plugin) {
    std::string bytes = read_bytes(path_);
    logger_.take_error();
    engine_.reset(runtime_->deserializeCudaEngine(bytes.data(), bytes.size()));
    if (!engine_) {
      std::string said = logger_.take_error();
      std::string built = side_.tensorrt_version.empty() ? "an unknown TensorRT" : "TensorRT " + side_.tensorrt_version;
      throw Error(MGDN_E_BACKEND,
                  "TensorRT " + tensorrt_version_text(getInferLibVersion()) + " cannot deserialize " +
                      trt::base_name(path_) + " (built with " + built + "; " + (said.empty() ? "no reason logged" : said) +
                      "): truncated, or built for another GPU or TensorRT? Rebuild it here with "
                      "`mgdn-edge build-engine`" +
                      (with_plugin ? "" : " (an engine with DynamicFilter plugin layers also needs --plugin)"));
    }
    context_.reset(engine_->createExecutionContext());
    if (!context_)
      throw Error(MGDN_E_BACKEND, "TensorRT could not create an execution context for " + trt::base_name(path_) +
                                      reason());
  }

  // The engine's I/O by name, in the task's input order, with the sidecar's config.
  void describe() {
    info_.task = json_string_field(side_.config, "task");
    info_.window_size = json_int_field(side_.config, "window_size");
    info_.static_h = side_.static_h;
    info_.static_w = side_.static_w;
    std::vector<std::string> engine_inputs, outputs;
    for (int32_t i = 0; i < engine_->getNbIOTensors(); ++i) {
      std::string name = engine_->getIOTensorName(i);
      if (engine_->getTensorDataType(name.c_str()) != nvinfer1::DataType::kFLOAT)
        throw Error(MGDN_E_BACKEND, trt::base_name(path_) + ": tensor '" + name +
                                        "' is not float32, which this runner binds (engines from `mgdn-edge "
                                        "build-engine` keep float32 inputs and output)");
      bool input = engine_->getTensorIOMode(name.c_str()) == nvinfer1::TensorIOMode::kINPUT;
      (input ? engine_inputs : outputs).push_back(name);
    }
    std::vector<std::string> wanted = info_.task.empty() ? side_.inputs : task_input_names(info_.task);
    if (wanted.empty()) wanted = engine_inputs;  // no sidecar: the engine's own order
    std::vector<std::string> a = wanted, b = engine_inputs;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b || outputs.size() != 1)
      throw Error(MGDN_E_BACKEND, trt::base_name(path_) + " has inputs [" + joined(engine_inputs) + "] and outputs [" +
                                      joined(outputs) + "]; " + (info_.task.empty() ? "its sidecar" : "a " + info_.task + " model") +
                                      " takes [" + joined(wanted) + "] and gives one output");
    inputs_ = wanted;
    output_ = outputs[0];
    for (const auto& name : inputs_) {
      info_.input_channels.push_back(channels_of(name));
      ranges_.push_back(profile_of(name));
    }
    info_.output_channels = channels_of(output_);
    buffers_.resize(inputs_.size());
  }

  static std::string joined(const std::vector<std::string>& names) {
    std::string text;
    for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
    return text;
  }

  int64_t channels_of(const std::string& name) const {
    nvinfer1::Dims dims = engine_->getTensorShape(name.c_str());
    if (dims.nbDims != 4 || dims.d[1] <= 0)
      throw Error(MGDN_E_BACKEND, trt::base_name(path_) + ": tensor '" + name + "' is " + dims_text(dims) +
                                      ", not [N, C, H, W] with a fixed C");
    return int64_t(dims.d[1]);
  }

  Range profile_of(const std::string& name) const {
    if (engine_->getNbOptimizationProfiles() < 1)
      throw Error(MGDN_E_BACKEND, trt::base_name(path_) + " has no optimisation profile");
    nvinfer1::Dims lo = engine_->getProfileShape(name.c_str(), 0, nvinfer1::OptProfileSelector::kMIN);
    nvinfer1::Dims hi = engine_->getProfileShape(name.c_str(), 0, nvinfer1::OptProfileSelector::kMAX);
    if (lo.nbDims != 4 || hi.nbDims != 4)
      throw Error(MGDN_E_BACKEND, trt::base_name(path_) + ": input '" + name + "' has no 4-D profile");
    return {{lo.d[0], lo.d[2], lo.d[3]}, {hi.d[0], hi.d[2], hi.d[3]}};
  }

  // TensorRTRuntime's check_profile: a size outside the profile names the range, before TensorRT.
  void check_profile(const Shape& s, size_t index) const {
    const char* label[] = {"batch", "height", "width"};
    int64_t value[] = {s.n, s.h, s.w};
    const Range& r = ranges_[index];
    for (int k = 0; k < 3; ++k)
      if (value[k] < r.lo[k] || value[k] > r.hi[k])
        throw Error(MGDN_E_INPUT, "input '" + inputs_[index] + "' has " + label[k] + " " + std::to_string(value[k]) +
                                      ", outside the engine's profile " + std::to_string(r.lo[k]) + ".." +
                                      std::to_string(r.hi[k]) +
                                      " (rebuild it with `mgdn-edge build-engine --min/--max`)");
  }

  int gpu_;
  trt::Logger logger_;  // declared before the TensorRT objects: it outlives them
  Owned<nvinfer1::IRuntime> runtime_;
  Owned<nvinfer1::ICudaEngine> engine_;
  Owned<nvinfer1::IExecutionContext> context_;
  void* stream_ = nullptr;
  std::string path_;
  Sidecar side_;
  ModelInfo info_;
  std::vector<std::string> inputs_;  // engine tensor names, in the task's input order
  std::string output_;
  std::vector<Range> ranges_;
  std::vector<device::Buffer> buffers_;
  device::Buffer output_buffer_;
};

}  // namespace

std::unique_ptr<Backend> open_tensorrt(const BackendOptions& options) {
  return std::make_unique<TensorRtBackend>(options);
}

}  // namespace mgdn
