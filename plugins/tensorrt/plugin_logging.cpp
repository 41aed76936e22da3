#include "plugin_logging.h"

#include <atomic>
#include <cstdio>

namespace mgdn::trt {
namespace {

#if MGDN_TRT_HAS_LOGGER_FINDER
std::atomic<nvinfer1::ILoggerFinder*> g_finder{nullptr};
#endif

nvinfer1::ILogger* current_logger() noexcept {
#if MGDN_TRT_HAS_LOGGER_FINDER
    // Asked on every message: TensorRT may swap its logger between builds.
    if (nvinfer1::ILoggerFinder* finder = g_finder.load()) return finder->findLogger();
#endif
#if defined(MGDN_TRT_STATIC_REGISTRATION)
    return ::getLogger();  // linked against libnvinfer: its global logger
#else
    return nullptr;
#endif
}

}  // namespace

#if MGDN_TRT_HAS_LOGGER_FINDER
void set_logger_finder(nvinfer1::ILoggerFinder* finder) noexcept { g_finder.store(finder); }
#endif

void log(nvinfer1::ILogger::Severity severity, char const* message) noexcept {
    if (nvinfer1::ILogger* logger = current_logger()) {
        logger->log(severity, message);
    } else if (severity <= nvinfer1::ILogger::Severity::kWARNING) {
        std::fprintf(stderr, "[mgdn_trt] %s\n", message);
    }
}

void log(nvinfer1::ILogger::Severity severity, const std::string& message) noexcept { log(severity, message.c_str()); }

void report_error(nvinfer1::IErrorRecorder* recorder, nvinfer1::ErrorCode code, const std::string& message) noexcept {
    log(nvinfer1::ILogger::Severity::kERROR, message);
    if (recorder != nullptr) recorder->reportError(code, message.c_str());
}

void report_exception(nvinfer1::IErrorRecorder* recorder, char const* where, char const* what) noexcept {
    char message[512];
    std::snprintf(message, sizeof message, "DynamicFilter: %s failed: %s", where, what);
    if (nvinfer1::ILogger* logger = current_logger()) {
        logger->log(nvinfer1::ILogger::Severity::kERROR, message);
    } else {
        std::fprintf(stderr, "[mgdn_trt] %s\n", message);
    }
    if (recorder != nullptr) recorder->reportError(nvinfer1::ErrorCode::kINTERNAL_ERROR, message);
}

}  // namespace mgdn::trt
