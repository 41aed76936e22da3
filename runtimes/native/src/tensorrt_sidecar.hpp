// The engine sidecar (X.engine.json) that mgdn_edge.runtimes.tensorrt.engine_file writes and
// checks: the same fields, the same comparisons and the same one-line message, so an engine the
// Python side refuses is refused here too. Pure (no TensorRT), so it is testable anywhere.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mgdn {

struct Sidecar {
  bool present = false;
  std::string text;                // the whole JSON
  std::string tensorrt_version;    // "" : not recorded
  std::string device;              // the GPU: "NVIDIA Orin (sm_87)"
  bool plugin_recorded = false;    // the "plugin" key exists
  bool plugin_none = false;        // "plugin": null -- built without the plugin
  std::string plugin;              // the library path it was built with
  std::string plugin_sha256;
  std::string onnx_sha256;
  std::string config;              // the MGDN config object, "{...}" or ""
  int64_t static_h = 0, static_w = 0;
  std::vector<std::string> inputs;  // the task's input names, in the task's order
};

// What the running process has, "" where unknown (not compared, as None on the Python side).
struct RunningEnvironment {
  std::string tensorrt_version;
  std::string device;
  std::string plugin_sha256;
};

std::string sidecar_path(const std::string& engine_path);
// The sidecar beside `engine_path` (present = false when there is none); throws mgdn::Error
// naming the sidecar when it exists but cannot be read or is not a JSON object.
Sidecar read_sidecar(const std::string& engine_path);
// "TensorRT 10.3.0 (running: 11.1.0)" per differing field, as engine_mismatches() lists them.
std::vector<std::string> engine_mismatches(const Sidecar& sidecar, const RunningEnvironment& running);
// One-line mgdn::Error(MGDN_E_BACKEND) when the engine was built for another TensorRT, GPU or plugin.
void check_engine_matches(const std::string& engine_path, const Sidecar& sidecar, const RunningEnvironment& running);

// "10.3.0" from getInferLibVersion() (8.x: M*1000+m*100+p; 10+: (M*100+m)*100+p).
std::string tensorrt_version_text(int32_t library_version);

}  // namespace mgdn
