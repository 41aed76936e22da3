// The OpenVINO backend: reads model.onnx or an IR with our DynamicFilter extension, and compiles
// it exactly as mgdn_edge.runtimes.openvino.runtime does (f32 inference precision, LATENCY hint,
// specialised to each input shape it meets), so both give the same numbers.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <openvino/openvino.hpp>
#include <sstream>

#include "backend.hpp"
#include "onnx_metadata.hpp"

namespace mgdn {
namespace {

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

// OpenVINO's messages open with source locations ("Exception from src/x.cpp:84:", "Check '...'
// failed at src/y.cpp:12:"); keep the first line that says what went wrong, without them.
std::string drop_location(std::string line) {
  for (;;) {
    size_t from = std::string::npos;
    if (line.rfind("Exception from ", 0) == 0) from = 15;
    else if (line.rfind("Check '", 0) == 0 && line.find("' failed at ") != std::string::npos)
      from = line.find("' failed at ") + 12;
    if (from == std::string::npos) return line;
    size_t space = line.find_first_of(" \t", from);
    line = space == std::string::npos ? std::string() : line.substr(line.find_first_not_of(" \t", space) == std::string::npos ? line.size() : line.find_first_not_of(" \t", space));
  }
}

std::string ov_line(const std::exception& exc) {
  std::istringstream lines(exc.what());
  std::string line;
  while (std::getline(lines, line)) {
    line = drop_location(line);
    auto first = line.find_first_not_of(" \t\r");
    if (first != std::string::npos) return line.substr(first);
  }
  return "unknown OpenVINO error";
}

// Whether the model holds our ops. Asked before OpenVINO reads it: OpenVINO's ONNX frontend can
// crash the process (not only throw) converting the nodes after an op it does not know. In an
// IR, every layer of the extension (DynamicFilter, WindowAttention) has the opset "mgdn".
bool uses_extension_ops(const std::string& path, bool xml) {
  if (!xml) return onnx_has_node(path, "mgdn", "DynamicFilter");
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str().find("version=\"mgdn\"") != std::string::npos;
}

Error extension_missing(const std::string& path) {
  return Error(MGDN_E_FILE, path + " has mgdn nodes and needs the OpenVINO extension "
                                   "libmgdn_openvino.so, which was not given; build it with "
                                   "`mgdn-edge build-plugins --openvino` and pass its path");
}

std::string rt_text(const std::shared_ptr<ov::Model>& model, const char* section, const char* key) {
  try {
    if (model->has_rt_info(section, key)) return model->get_rt_info<std::string>(section, key);
  } catch (const std::exception&) {
    // an entry of another type: treated as absent
  }
  return "";
}

class OpenVinoBackend : public Backend {
 public:
  explicit OpenVinoBackend(const BackendOptions& options) : options_(options) {
    const std::string& path = options.model_path;
    if (!is_file(path)) throw Error(MGDN_E_FILE, "model file not found: " + path);
    bool xml = ends_with(path, ".xml");
    if (!xml && !ends_with(path, ".onnx"))
      throw Error(MGDN_E_FILE, "OpenVINO loads an .onnx or an IR .xml file, not " + path);
    if (xml && !is_file(path.substr(0, path.size() - 4) + ".bin"))
      throw Error(MGDN_E_FILE, "the IR " + path + " has no weights file beside it (" +
                                   path.substr(0, path.size() - 4) + ".bin)");
    if (!options.extension_path.empty()) {
      if (!is_file(options.extension_path))
        throw Error(MGDN_E_FILE, "OpenVINO extension not found: " + options.extension_path +
                                     "; build it with `mgdn-edge build-plugins --openvino`");
      try {
        core_.add_extension(options.extension_path);
      } catch (const std::exception& exc) {
        throw Error(MGDN_E_FILE, "OpenVINO could not load the extension " + options.extension_path + " (" +
                                     ov_line(exc) + "); it must be built against this OpenVINO");
      }
    }
    if (options.extension_path.empty() && uses_extension_ops(path, xml)) throw extension_missing(path);
    try {
      model_ = core_.read_model(path);
    } catch (const std::exception& exc) {
      throw Error(MGDN_E_BACKEND, "OpenVINO cannot read " + path + ": " + ov_line(exc));
    }
    describe(xml);
  }

  const ModelInfo& info() const override { return info_; }

  void run(const std::vector<const float*>& inputs, const std::vector<Shape>& shapes, float* out) override {
    try {
      if (!request_ || shapes_ != shapes) compile(shapes);
      for (size_t i = 0; i < inputs.size(); ++i) {
        const Shape& s = shapes[i];
        ov::Shape dims{size_t(s.n), size_t(s.c), size_t(s.h), size_t(s.w)};
        // Wraps the caller's memory: OpenVINO only reads input tensors.
        request_.set_input_tensor(i, ov::Tensor(ov::element::f32, dims, const_cast<float*>(inputs[i])));
      }
      request_.infer();
      ov::Tensor result = request_.get_output_tensor(0);
      std::memcpy(out, result.data<float>(), result.get_byte_size());
    } catch (const Error&) {
      throw;
    } catch (const std::exception& exc) {
      throw Error(MGDN_E_BACKEND, "OpenVINO failed on " + options_.model_path + ": " + ov_line(exc));
    }
  }

 private:
  void describe(bool xml) {
    std::string config = xml ? rt_text(model_, "mgdn_edge", "config") : rt_text(model_, "framework", "mgdn_edge.config");
    std::string fixed = xml ? rt_text(model_, "mgdn_edge", "static_size") : rt_text(model_, "framework", "mgdn_edge.static_size");
    info_.task = json_string_field(config, "task");
    info_.window_size = json_int_field(config, "window_size");
    if (!fixed.empty() && std::sscanf(fixed.c_str(), "%ldx%ld", &info_.static_h, &info_.static_w) != 2)
      info_.static_h = info_.static_w = 0;
    for (const auto& port : model_->inputs()) {
      const ov::PartialShape& shape = port.get_partial_shape();
      if (shape.rank().is_dynamic() || shape.rank().get_length() != 4 || shape[1].is_dynamic())
        throw Error(MGDN_E_BACKEND, options_.model_path + " has an input that is not [N, C, H, W] with fixed C");
      info_.input_channels.push_back(shape[1].get_length());
    }
    if (model_->outputs().size() != 1) throw Error(MGDN_E_BACKEND, options_.model_path + " must have one output");
    const ov::PartialShape& out = model_->output(0).get_partial_shape();
    if (out.rank().is_dynamic() || out.rank().get_length() != 4 || out[1].is_dynamic())
      throw Error(MGDN_E_BACKEND, options_.model_path + "'s output is not [N, C, H, W] with fixed C");
    info_.output_channels = out[1].get_length();
  }

  // A copy of the model specialised to these shapes, compiled with the Python runtime's settings.
  void compile(const std::vector<Shape>& shapes) {
    request_ = ov::InferRequest();
    compiled_ = ov::CompiledModel();
    std::shared_ptr<ov::Model> model = model_->clone();
    std::map<size_t, ov::PartialShape> dims;
    for (size_t i = 0; i < shapes.size(); ++i)
      dims[i] = ov::PartialShape{shapes[i].n, shapes[i].c, shapes[i].h, shapes[i].w};
    model->reshape(dims);
    ov::AnyMap config{ov::hint::inference_precision(ov::element::f32),
                      ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY)};
    if (options_.threads > 0) config.emplace(ov::inference_num_threads(options_.threads));
    try {
      compiled_ = core_.compile_model(model, options_.device, config);
    } catch (const std::exception& exc) {
      throw Error(MGDN_E_BACKEND, "OpenVINO cannot compile " + options_.model_path + ": " + ov_line(exc));
    }
    request_ = compiled_.create_infer_request();
    shapes_ = shapes;
  }

  BackendOptions options_;
  ov::Core core_;
  std::shared_ptr<ov::Model> model_;
  ov::CompiledModel compiled_;
  ov::InferRequest request_;
  std::vector<Shape> shapes_;
  ModelInfo info_;
};

}  // namespace

std::unique_ptr<Backend> open_openvino(const BackendOptions& options) {
  try {
    return std::make_unique<OpenVinoBackend>(options);
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& exc) {
    throw Error(MGDN_E_BACKEND, "OpenVINO cannot open " + options.model_path + ": " + ov_line(exc));
  }
}

}  // namespace mgdn
