// What the TensorRT backend's runtime half (tensorrt_backend.cpp) and build half
// (tensorrt_build.cpp) share: TensorRT's logger, the process-wide plugin registration and the
// running environment an engine sidecar is compared with.
#pragma once

#include <NvInfer.h>

#include <memory>
#include <string>

#include "backend.hpp"
#include "tensorrt_sidecar.hpp"

namespace mgdn {
namespace trt {

// Keeps the first error TensorRT logs since the last take_error(), for one-line messages; prints
// nothing (the C API reports through mgdn_last_error), except with $MGDN_TRT_LOG=1 on stderr.
class Logger : public nvinfer1::ILogger {
 public:
  void log(Severity severity, nvinfer1::AsciiChar const* message) noexcept override;
  std::string take_error();  // "" when none; the first line only

 private:
  std::string error_;
};

// Register `library`'s plugin creators with TensorRT, once per process: dlopen(RTLD_GLOBAL) before
// TensorRT 8.6 (the library registers itself from a static initialiser), from 8.6 on
// getPluginRegistry()->loadLibrary. A second, different library is refused, as TensorRT would
// keep the first one's creators.
void load_plugin(const std::string& library, Logger& logger);

// ": said" for a message tail, or "" when TensorRT said nothing.
std::string with_reason(const std::string& said);
bool is_file(const std::string& path);
bool ends_with(const std::string& text, const std::string& tail);
std::string base_name(const std::string& path);
std::string real_path(const std::string& path);  // absolute, links resolved; `path` if that fails

// TensorRT version (the library loaded, not the headers), GPU and plugin fingerprint.
RunningEnvironment running_environment(int gpu, const std::string& plugin);

// The engine beside `onnx_path` (model.trt.onnx -> model.trt.engine + .json): reused when its
// sidecar matches the file, this TensorRT, GPU and plugin, else built here and written
// atomically. Throws mgdn::Error when this library has no ONNX parser.
std::string engine_for_onnx(const std::string& onnx_path, const std::string& plugin, int gpu, Logger& logger);

template <typename T>
using Owned = std::unique_ptr<T>;  // TensorRT >= 8 objects are released with delete

}  // namespace trt
}  // namespace mgdn
