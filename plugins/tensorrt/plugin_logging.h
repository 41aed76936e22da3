// Where the plugins report problems: TensorRT's logger (found through the ILoggerFinder that
// IPluginRegistry::loadLibrary hands to setLoggerFinder), an IErrorRecorder when the runtime gave
// one, stderr otherwise. Plugin methods are noexcept, so reporting is the only way out.
#pragma once

#include <NvInferRuntime.h>
#include <NvInferVersion.h>

#include <string>

// loadLibrary/ILoggerFinder appeared in TensorRT 8.6; 8.5 (JetPack 5.1) only has static registration.
#define MGDN_TRT_HAS_LOGGER_FINDER (NV_TENSORRT_MAJOR > 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR >= 6))

#define MGDN_TRT_EXPORT extern "C" __attribute__((visibility("default")))

namespace mgdn::trt {

#if MGDN_TRT_HAS_LOGGER_FINDER
void set_logger_finder(nvinfer1::ILoggerFinder* finder) noexcept;
#endif

void log(nvinfer1::ILogger::Severity severity, const std::string& message) noexcept;

// Logs an error and, when `recorder` is set, records it there too (the engine's error recorder).
void report_error(nvinfer1::IErrorRecorder* recorder, nvinfer1::ErrorCode code, const std::string& message) noexcept;

}  // namespace mgdn::trt
