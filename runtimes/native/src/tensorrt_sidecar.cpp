// Reading and checking the engine sidecar (see tensorrt_sidecar.hpp).
#include "tensorrt_sidecar.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "backend.hpp"

namespace mgdn {
namespace {

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Versions agree when their major.minor.patch do: the Python wheel says "10.3.0", JetPack's
// "8.5.2.2", the library's getInferLibVersion() "8.5.2".
std::string release_of(const std::string& version) {
  size_t dots = 0, i = 0;
  for (; i < version.size(); ++i)
    if (version[i] == '.' && ++dots == 3) break;
  return version.substr(0, i);
}

}  // namespace

std::string sidecar_path(const std::string& engine_path) { return engine_path + ".json"; }

Sidecar read_sidecar(const std::string& engine_path) {
  Sidecar side;
  std::string path = sidecar_path(engine_path);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return side;
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  if (!file || !S_ISREG(st.st_mode)) throw Error(MGDN_E_FILE, "cannot read the engine sidecar " + path);
  side.text = text.str();
  size_t first = side.text.find_first_not_of(" \t\r\n");
  size_t last = side.text.find_last_not_of(" \t\r\n");
  if (first == std::string::npos || side.text[first] != '{' || side.text[last] != '}')
    throw Error(MGDN_E_FILE, "cannot read the engine sidecar " + path + ": it is not a JSON object (truncated?)");
  side.present = true;
  side.tensorrt_version = json_string_field(side.text, "tensorrt_version");
  side.device = json_string_field(side.text, "device");
  side.plugin_recorded = json_has_field(side.text, "plugin");
  side.plugin_none = json_is_null(side.text, "plugin");
  side.plugin = json_string_field(side.text, "plugin");
  side.plugin_sha256 = json_string_field(side.text, "plugin_sha256");
  side.onnx_sha256 = json_string_field(side.text, "onnx_sha256");
  side.config = json_object_field(side.text, "config");
  std::vector<std::string> fixed = json_list_items(side.text, "static_size");
  if (fixed.size() == 2) {
    side.static_h = std::strtoll(fixed[0].c_str(), nullptr, 10);
    side.static_w = std::strtoll(fixed[1].c_str(), nullptr, 10);
  }
  side.inputs = json_list_items(side.text, "inputs");
  return side;
}

std::vector<std::string> engine_mismatches(const Sidecar& sidecar, const RunningEnvironment& running) {
  std::vector<std::string> found;
  if (!sidecar.present) return found;
  auto differs = [](const std::string& built, const std::string& now) {
    return !built.empty() && !now.empty() && built != now;
  };
  if (differs(release_of(sidecar.tensorrt_version), release_of(running.tensorrt_version)))
    found.push_back("TensorRT " + sidecar.tensorrt_version + " (running: " + running.tensorrt_version + ")");
  if (differs(sidecar.device, running.device))
    found.push_back("GPU " + sidecar.device + " (running: " + running.device + ")");
  if (!sidecar.plugin_none && differs(sidecar.plugin_sha256, running.plugin_sha256))
    found.push_back("plugin library sha256 " + sidecar.plugin_sha256.substr(0, 12) +
                    " (running: " + running.plugin_sha256.substr(0, 12) + ")");
  return found;
}

void check_engine_matches(const std::string& engine_path, const Sidecar& sidecar, const RunningEnvironment& running) {
  std::vector<std::string> found = engine_mismatches(sidecar, running);
  if (found.empty()) return;
  std::string joined;
  for (const auto& item : found) joined += (joined.empty() ? "" : "; ") + item;
  throw Error(MGDN_E_BACKEND, base_name(engine_path) + " was built with " + joined +
                                  "; engines are specific to one TensorRT, GPU and plugin build: rebuild it "
                                  "here with `mgdn-edge build-engine`");
}

std::string tensorrt_version_text(int32_t library_version) {
  int32_t major, minor, patch;
  if (library_version >= 100000) {  // TensorRT 10+: (MAJOR * 100 + MINOR) * 100 + PATCH
    major = library_version / 10000;
    minor = library_version / 100 % 100;
    patch = library_version % 100;
  } else {  // TensorRT 8.x: MAJOR * 1000 + MINOR * 100 + PATCH
    major = library_version / 1000;
    minor = library_version / 100 % 10;
    patch = library_version % 100;
  }
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace mgdn
