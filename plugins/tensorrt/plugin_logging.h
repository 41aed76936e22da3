// Where the plugins report problems: TensorRT's logger (found through the ILoggerFinder that
// IPluginRegistry::loadLibrary hands to setLoggerFinder), an IErrorRecorder when the runtime gave
// one, stderr otherwise. Plugin methods are noexcept, so reporting is the only way out.
#pragma once

#include <NvInferRuntime.h>
#include <NvInferVersion.h>

#include <exception>
#include <string>

// loadLibrary/ILoggerFinder appeared in TensorRT 8.6; 8.5 (JetPack 5.1) only has static registration.
#define MGDN_TRT_HAS_LOGGER_FINDER (NV_TENSORRT_MAJOR > 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR >= 6))

#define MGDN_TRT_EXPORT extern "C" __attribute__((visibility("default")))

namespace mgdn::trt {

#if MGDN_TRT_HAS_LOGGER_FINDER
void set_logger_finder(nvinfer1::ILoggerFinder* finder) noexcept;
#endif

void log(nvinfer1::ILogger::Severity severity, const std::string& message) noexcept;
// For fixed messages: no std::string is built, so nothing can throw on the way.
void log(nvinfer1::ILogger::Severity severity, char const* message) noexcept;

// Logs an error and, when `recorder` is set, records it there too (the engine's error recorder).
void report_error(nvinfer1::IErrorRecorder* recorder, nvinfer1::ErrorCode code, const std::string& message) noexcept;

// Reports an exception caught at a noexcept boundary. Formats into a stack buffer: after a
// bad_alloc, building a std::string could throw again.
void report_exception(nvinfer1::IErrorRecorder* recorder, char const* where, char const* what) noexcept;

// Runs `body` and returns its result, or `fallback` after reporting whatever it threw. Every
// noexcept plugin method that builds strings or allocates runs its body through this, because an
// exception escaping a noexcept function calls std::terminate() inside TensorRT's process.
template <typename R, typename Body>
R guarded(nvinfer1::IErrorRecorder* recorder, char const* where, R fallback, Body&& body) noexcept {
    try {
        return body();
    } catch (std::exception const& e) {
        report_exception(recorder, where, e.what());
    } catch (...) {
        report_exception(recorder, where, "unknown exception");
    }
    return fallback;
}

// guarded() for methods that return nothing (legacy configurePlugin, setPluginNamespace).
template <typename Body>
void guarded_void(nvinfer1::IErrorRecorder* recorder, char const* where, Body&& body) noexcept {
    try {
        body();
    } catch (std::exception const& e) {
        report_exception(recorder, where, e.what());
    } catch (...) {
        report_exception(recorder, where, "unknown exception");
    }
}

}  // namespace mgdn::trt
