// TensorRT's logger, plugin registration and the running environment (see tensorrt_common.hpp).
#include "tensorrt_common.hpp"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "sha256.hpp"
#include "tensorrt_device.hpp"

namespace mgdn {
namespace trt {

void Logger::log(Severity severity, nvinfer1::AsciiChar const* message) noexcept {
  try {
    std::string text = message ? message : "";
    const char* loud = std::getenv("MGDN_TRT_LOG");
    if (loud && *loud == '1') std::fprintf(stderr, "TensorRT: %s\n", text.c_str());
    if (severity <= Severity::kERROR && error_.empty()) error_ = text.substr(0, text.find('\n'));
  } catch (...) {
    // a logger must not throw into TensorRT; the message is lost
  }
}

std::string Logger::take_error() {
  std::string taken;
  taken.swap(error_);
  return taken;
}

std::string with_reason(const std::string& said) { return said.empty() ? "" : ": " + said; }

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string real_path(const std::string& path) {
  char buffer[PATH_MAX];
  return realpath(path.c_str(), buffer) ? std::string(buffer) : path;
}

namespace {

std::mutex g_plugin_mutex;
std::string g_plugin;  // the library registered in this process ("" : none yet)

}  // namespace

void load_plugin(const std::string& library, Logger& logger) {
  std::lock_guard<std::mutex> lock(g_plugin_mutex);
  std::string path = real_path(library);
  if (!g_plugin.empty()) {
    if (g_plugin == path) return;
    throw Error(MGDN_E_BACKEND, "the DynamicFilter plugin is already registered in this process from " + g_plugin +
                                    "; TensorRT cannot register " + path +
                                    " beside it (use the same library, or a new process)");
  }
#if NV_TENSORRT_MAJOR > 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR >= 6)
  logger.take_error();
  if (getPluginRegistry()->loadLibrary(path.c_str()) == nullptr) {
    std::string said = logger.take_error();
    throw Error(MGDN_E_BACKEND, "TensorRT could not load the plugin library " + path +
                                    (said.empty() ? "" : " (" + said + ")") +
                                    ": built for another TensorRT version or GPU architecture? Rebuild it with "
                                    "`mgdn-edge build-plugins --tensorrt`");
  }
#else
  (void)logger;
  if (dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char* why = dlerror();
    throw Error(MGDN_E_BACKEND, "cannot load the plugin library " + path + ": " + (why ? why : "dlopen failed"));
  }
#endif
  g_plugin = path;
}

RunningEnvironment running_environment(int gpu, const std::string& plugin) {
  RunningEnvironment running;
  running.tensorrt_version = tensorrt_version_text(getInferLibVersion());
  running.device = device::gpu_name(gpu);
  if (!plugin.empty()) running.plugin_sha256 = sha256_file(plugin);
  return running;
}

#ifndef MGDN_TRT_ONNX_PARSER
std::string engine_for_onnx(const std::string& onnx_path, const std::string&, int, Logger&) {
  throw Error(MGDN_E_ARGUMENT, "this libmgdn_edge was built without TensorRT's ONNX parser (NvOnnxParser.h), so it "
                               "cannot build an engine from " + onnx_path +
                               "; build one with `mgdn-edge build-engine` and pass the .engine file");
}
#endif

}  // namespace trt
}  // namespace mgdn
