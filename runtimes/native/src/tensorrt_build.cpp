// Building an engine on the device from an exported ONNX file (model.trt.onnx, or its fp16/int8
// twins on TensorRT >= 10), as mgdn_edge.runtimes.tensorrt.build does with its defaults: explicit
// batch, one optimisation profile (min = the smallest input the model accepts, opt 256x256, max
// 1024x1024, batch 1; a --static export's own size), 2 GiB workspace. The engine and its sidecar
// are written beside the ONNX file through temporary files and renames, the sidecar last, so a
// reader never pairs a new engine with an old sidecar; a matching engine already there is reused.
#ifdef MGDN_TRT_ONNX_PARSER
#include <NvOnnxParser.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "onnx_metadata.hpp"
#include "sha256.hpp"
#include "tensorrt_common.hpp"

namespace mgdn {
namespace trt {
namespace {

constexpr size_t kWorkspace = size_t(2) << 30;

struct Profile {
  int64_t min_h, min_w, opt_h, opt_w, max_h, max_w;
};

// make_profile's defaults: the smallest side whose reflect padding to the window stays below it.
Profile default_profile(int64_t window, int64_t static_h, int64_t static_w) {
  if (static_h > 0) return {static_h, static_w, static_h, static_w, static_h, static_w};
  int64_t side = 1;
  while (window > 0 && (window - side % window) % window >= side) ++side;
  auto clamp = [](int64_t v, int64_t lo, int64_t hi) { return std::min(std::max(v, lo), hi); };
  int64_t opt = clamp(256, side, 1024);
  return {side, side, opt, opt, 1024, 1024};
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", ch);
      out += escaped;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string list_text(int64_t a, int64_t b, int64_t c) {
  return "[" + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(c) + "]";
}

void write_file(const std::string& path, const void* data, size_t size) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(static_cast<const char*>(data), std::streamsize(size));
  file.close();
  if (!file) throw Error(MGDN_E_FILE, "cannot write " + path + " (disk full or no permission?)");
}

// write_engine(): both to temporary files; the old sidecar goes first, the sidecar comes last.
void write_engine(const std::string& engine, const nvinfer1::IHostMemory& blob, const std::string& sidecar) {
  std::string suffix = ".tmp" + std::to_string(getpid());
  std::string side = sidecar_path(engine);
  write_file(engine + suffix, blob.data(), blob.size());
  write_file(side + suffix, sidecar.data(), sidecar.size());
  std::remove(side.c_str());
  if (std::rename((engine + suffix).c_str(), engine.c_str()) != 0 ||
      std::rename((side + suffix).c_str(), side.c_str()) != 0) {
    std::remove((engine + suffix).c_str());
    std::remove((side + suffix).c_str());
    throw Error(MGDN_E_FILE, "cannot write the engine " + engine + " beside its ONNX file");
  }
}

bool reusable(const std::string& engine, const std::string& onnx_sha, const RunningEnvironment& running) {
  if (!is_file(engine)) return false;
  Sidecar side = read_sidecar(engine);
  return side.present && side.onnx_sha256 == onnx_sha && engine_mismatches(side, running).empty() &&
         side.plugin_none == running.plugin_sha256.empty();
}

struct Network {
  Owned<nvinfer1::IBuilder> builder;
  Owned<nvinfer1::INetworkDefinition> network;
  Owned<nvonnxparser::IParser> parser;
  bool strongly_typed = false;
};

// The parsed network; TensorRT 8.x networks need explicit batch, 10 builds a fp16/int8 graph
// strongly typed, 11 is strongly typed only.
Network parse(const std::string& onnx, Logger& logger) {
  bool typed_graph = onnx.find(".fp16.") != std::string::npos || onnx.find(".int8.") != std::string::npos;
  Network net;
  net.builder.reset(nvinfer1::createInferBuilder(logger));
  if (!net.builder) throw Error(MGDN_E_BACKEND, "TensorRT could not create a builder" + with_reason(logger.take_error()));
  uint32_t flags = 0;
#if NV_TENSORRT_MAJOR < 10
  if (typed_graph)
    throw Error(MGDN_E_ARGUMENT, "TensorRT " + std::to_string(NV_TENSORRT_MAJOR) + ".x builds fp16/int8 engines with "
                                 "builder flags this runner does not set: build " + base_name(onnx) +
                                 " with `mgdn-edge build-engine --precision ...`");
  flags |= 1U << uint32_t(nvinfer1::NetworkDefinitionCreationFlag::kEXPLICIT_BATCH);
#elif NV_TENSORRT_MAJOR == 10
  if (typed_graph) flags |= 1U << uint32_t(nvinfer1::NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
#endif
  net.strongly_typed = NV_TENSORRT_MAJOR >= 11 || typed_graph;
  net.network.reset(net.builder->createNetworkV2(flags));
  if (!net.network) throw Error(MGDN_E_BACKEND, "TensorRT could not create a network" + with_reason(logger.take_error()));
  net.parser.reset(nvonnxparser::createParser(*net.network, logger));
  if (!net.parser)
    throw Error(MGDN_E_BACKEND, "TensorRT could not create its ONNX parser" + with_reason(logger.take_error()));
  if (!net.parser->parseFromFile(onnx.c_str(), int(nvinfer1::ILogger::Severity::kWARNING))) {
    std::string detail;
    for (int32_t i = 0; i < net.parser->getNbErrors(); ++i)
      detail += (detail.empty() ? "" : "; ") + std::string(net.parser->getError(i)->desc());
    std::string hint = detail.find("Plugin not found") != std::string::npos
                           ? " -- pass the plugin library built for this TensorRT (--plugin)"
                           : "";
    throw Error(MGDN_E_BACKEND, "TensorRT's ONNX parser rejected " + base_name(onnx) + ": " +
                                    (detail.empty() ? "no error recorded" : detail) + hint);
  }
  return net;
}

int32_t plugin_layers(const nvinfer1::INetworkDefinition& network) {
  int32_t count = 0;
  for (int32_t i = 0; i < network.getNbLayers(); ++i) {
    nvinfer1::LayerType type = network.getLayer(i)->getType();
#if NV_TENSORRT_MAJOR >= 10
    if (type == nvinfer1::LayerType::kPLUGIN_V3) ++count;
#endif
    if (type == nvinfer1::LayerType::kPLUGIN_V2) ++count;
  }
  return count;
}

// What the build needs from the exporter's metadata.
struct Export {
  std::string config;  // MGDNConfig.to_dict() as JSON
  int64_t static_h = 0, static_w = 0;
};

Export read_export(const std::string& onnx) {
  std::map<std::string, std::string> meta = onnx_metadata(onnx);
  Export out;
  out.config = meta.count("mgdn_edge.config") ? meta["mgdn_edge.config"] : "";
  if (out.config.empty())
    throw Error(MGDN_E_FILE, onnx + " has no mgdn_edge.config metadata: build engines from `mgdn-edge export` files");
  std::string fixed = meta.count("mgdn_edge.static_size") ? meta["mgdn_edge.static_size"] : "";
  if (!fixed.empty() && std::sscanf(fixed.c_str(), "%ldx%ld", &out.static_h, &out.static_w) != 2)
    out.static_h = out.static_w = 0;
  return out;
}

// The built network, serialised, with the input names in the network's order.
Owned<nvinfer1::IHostMemory> build_network(const std::string& onnx, Network& net, const Profile& p,
                                           std::vector<std::string>& inputs, Logger& logger) {
  Owned<nvinfer1::IBuilderConfig> build(net.builder->createBuilderConfig());
  build->setMemoryPoolLimit(nvinfer1::MemoryPoolType::kWORKSPACE, kWorkspace);
  nvinfer1::IOptimizationProfile* profile = net.builder->createOptimizationProfile();  // the builder's
  for (int32_t i = 0; i < net.network->getNbInputs(); ++i) {
    nvinfer1::ITensor* tensor = net.network->getInput(i);
    auto c = tensor->getDimensions().d[1];
    using Sel = nvinfer1::OptProfileSelector;
    using D = nvinfer1::Dims4;
    inputs.push_back(tensor->getName());
    profile->setDimensions(tensor->getName(), Sel::kMIN, D(1, c, decltype(c)(p.min_h), decltype(c)(p.min_w)));
    profile->setDimensions(tensor->getName(), Sel::kOPT, D(1, c, decltype(c)(p.opt_h), decltype(c)(p.opt_w)));
    profile->setDimensions(tensor->getName(), Sel::kMAX, D(1, c, decltype(c)(p.max_h), decltype(c)(p.max_w)));
  }
  build->addOptimizationProfile(profile);
  Owned<nvinfer1::IHostMemory> blob(net.builder->buildSerializedNetwork(*net.network, *build));
  if (!blob || blob->size() == 0)
    throw Error(MGDN_E_BACKEND, "TensorRT failed to build an engine from " + base_name(onnx) +
                                    with_reason(logger.take_error()));
  return blob;
}

// The version as TensorRT's Python package spells it (JetPack: "8.5.2.2"), which the Python runtime
// compares as a string: with the headers' build number when they are the running library's release.
std::string recorded_version(const RunningEnvironment& running) {
  std::string headers = std::to_string(NV_TENSORRT_MAJOR) + "." + std::to_string(NV_TENSORRT_MINOR) + "." +
                        std::to_string(NV_TENSORRT_PATCH);
  return running.tensorrt_version == headers ? headers + "." + std::to_string(NV_TENSORRT_BUILD)
                                             : running.tensorrt_version;
}

// The sidecar mgdn_edge.runtimes.tensorrt.build writes, with the same keys.
std::string sidecar_text(const std::string& onnx, const std::string& onnx_sha, const std::string& plugin,
                         const RunningEnvironment& running, const Export& exported, const Profile& p,
                         const Network& net, const std::vector<std::string>& inputs, double seconds) {
  std::vector<std::string> ordered = task_input_names(json_string_field(exported.config, "task"));
  if (ordered.empty()) ordered = inputs;
  std::string names;
  for (const auto& n : ordered) names += (names.empty() ? "" : ", ") + quoted(n);
  bool fp16 = onnx.find(".fp16.") != std::string::npos, int8 = onnx.find(".int8.") != std::string::npos;
  char timing[32];
  std::snprintf(timing, sizeof timing, "%.2f", seconds);
  std::string fixed = exported.static_h > 0
                          ? "[" + std::to_string(exported.static_h) + ", " + std::to_string(exported.static_w) + "]"
                          : "null";
  std::ostringstream out;
  out << "{\n  \"format\": \"mgdn-edge tensorrt engine\",\n  \"tensorrt_version\": "
      << quoted(recorded_version(running)) << ",\n  \"device\": " << quoted(running.device)
      << ",\n  \"precision\": " << quoted(fp16 ? "fp16" : int8 ? "int8" : "fp32")
      << ",\n  \"strongly_typed\": " << (net.strongly_typed ? "true" : "false")
      << ",\n  \"builder_flags\": [],\n  \"fp32_pinned_layers\": 0,\n  \"profile\": {\"min\": "
      << list_text(1, p.min_h, p.min_w) << ", \"opt\": " << list_text(1, p.opt_h, p.opt_w)
      << ", \"max\": " << list_text(1, p.max_h, p.max_w) << "},\n  \"inputs\": [" << names
      << "],\n  \"plugin\": " << (plugin.empty() ? "null" : quoted(real_path(plugin)))
      << ",\n  \"plugin_sha256\": " << (plugin.empty() ? "null" : quoted(running.plugin_sha256))
      << ",\n  \"plugin_layers\": " << plugin_layers(*net.network) << ",\n  \"onnx\": " << quoted(real_path(onnx))
      << ",\n  \"onnx_sha256\": " << quoted(onnx_sha) << ",\n  \"config\": " << exported.config
      << ",\n  \"static_size\": " << fixed << ",\n  \"workspace\": " << kWorkspace
      << ",\n  \"build_seconds\": " << timing << ",\n  \"built_by\": \"libmgdn_edge (native)\"\n}\n";
  return out.str();
}

}  // namespace

std::string engine_for_onnx(const std::string& onnx, const std::string& plugin, int gpu, Logger& logger) {
  std::string engine = onnx.substr(0, onnx.size() - 5) + ".engine";
  std::string onnx_sha = sha256_file(onnx);
  RunningEnvironment running = running_environment(gpu, plugin);
  if (reusable(engine, onnx_sha, running)) return engine;

  Export exported = read_export(onnx);
  Profile profile = default_profile(json_int_field(exported.config, "window_size"), exported.static_h, exported.static_w);
  Network net = parse(onnx, logger);
  std::vector<std::string> inputs;
  auto start = std::chrono::steady_clock::now();
  Owned<nvinfer1::IHostMemory> blob = build_network(onnx, net, profile, inputs, logger);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  write_engine(engine, *blob,
               sidecar_text(onnx, onnx_sha, plugin, running, exported, profile, net, inputs, seconds));
  return engine;
}

}  // namespace trt
}  // namespace mgdn
#endif  // MGDN_TRT_ONNX_PARSER
