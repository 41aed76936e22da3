// A CPU stand-in for libnvinfer.so, for the TensorRT backend's host-side tests; never shipped.
//
// It implements, on host memory, the part of TensorRT the backend uses: createInferRuntime,
// deserializeCudaEngine of the fake engine format (fake_engine.hpp), the name-based I/O API
// (getNbIOTensors, getProfileShape, setInputShape, setTensorAddress, enqueueV3) and the plugin
// registry's loadLibrary; fake_builder.cpp adds the builder. Every other TensorRT method aborts
// (fake_stubs.hpp, generated from the headers in use), so the backend compiles against the real
// headers and cannot lean on anything the fake does not model. Deserialising an engine that
// holds plugin layers fails unless a plugin library registered that creator first, as in TensorRT.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "fake_internal.hpp"

using namespace nvinfer1;

namespace fake {
namespace {

ILogger* g_logger = nullptr;
std::string g_events;
std::set<std::string> g_creators;  // plugin creators registered so far

}  // namespace

void event(const std::string& what) { g_events += (g_events.empty() ? "" : ";") + what; }

void log_error(const std::string& message) {
  if (g_logger) g_logger->log(ILogger::Severity::kERROR, message.c_str());
}

void set_logger(void* logger) { g_logger = static_cast<ILogger*>(logger); }
bool has_creator(const std::string& name) { return g_creators.count(name) > 0; }
ILogger* logger() { return g_logger; }
void add_creator(const std::string& name) { g_creators.insert(name); }
const std::string& events() { return g_events; }

}  // namespace fake

namespace {

using fake::event;
using fake::Handle;
using fake::log_error;

[[maybe_unused]] std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const fake::Tensor* find(const fake::Engine& engine, char const* name) {
  for (const auto& t : engine.io)
    if (name && t.name == name) return &t;
  return nullptr;
}

// Dims4 takes int32_t extents before TensorRT 10 and int64_t from 10 on; the fake's are small.
Dims dims4(int64_t n, int64_t c, int64_t h, int64_t w) { return Dims4(int32_t(n), int32_t(c), int32_t(h), int32_t(w)); }

class FakeContext : public apiv::StubVExecutionContext {
 public:
  explicit FakeContext(const fake::Engine& engine) : engine_(engine) {
    for (const auto& t : engine.io) shapes_[t.name] = Dims{};
  }

  bool setInputShape(char const* name, Dims const& dims) noexcept override {
    const fake::Tensor* t = find(engine_, name);
    if (!t || !t->input || dims.nbDims != 4 || dims.d[1] != t->channels) {
      log_error(std::string("setInputShape: bad tensor or shape for ") + (name ? name : "(null)"));
      return false;
    }
    int64_t v[] = {dims.d[0], dims.d[2], dims.d[3]};
    for (int k = 0; k < 3; ++k)
      if (v[k] < t->lo[k] || v[k] > t->hi[k]) {
        log_error(std::string("setInputShape: ") + name + " is outside the optimization profile");
        return false;
      }
    shapes_[name] = dims;
    return true;
  }

  Dims getTensorShape(char const* name) const noexcept override {
    const fake::Tensor* t = find(engine_, name);
    if (!t) return Dims{-1, {}};
    if (t->input) return shapes_.at(t->name);
    const Dims& first = shapes_.at(engine_.io.front().name);  // the output follows the first input
    return dims4(first.d[0], t->channels, first.d[2], first.d[3]);
  }

  bool setTensorAddress(char const* name, void* data) noexcept override {
    if (!find(engine_, name)) {
      log_error(std::string("setTensorAddress: no tensor named ") + (name ? name : "(null)"));
      return false;
    }
    addresses_[name] = data;
    return true;
  }

  // out[n, c] = bias + sum_i weight_i * in_i[n, c % C_i], on the host pointers bound by name.
  bool enqueueV3(cudaStream_t) noexcept override {
    event("enqueueV3");
    if (engine_.fail_enqueue) {
      log_error("enqueueV3: an illegal memory access was encountered (simulated)");
      return false;
    }
    const fake::Tensor* out = nullptr;
    for (const auto& t : engine_.io) {
      if (!t.input) out = &t;
      if (!addresses_.count(t.name) || (t.input && shapes_.at(t.name).nbDims != 4)) {
        log_error("enqueueV3: tensor " + t.name + " has no address or shape");
        return false;
      }
    }
    Dims shape = getTensorShape(out->name.c_str());
    int64_t n = shape.d[0], c = shape.d[1], hw = int64_t(shape.d[2]) * shape.d[3];
    auto* y = static_cast<float*>(addresses_.at(out->name));
    for (int64_t i = 0; i < n * c * hw; ++i) y[i] = out->scale;
    for (const auto& t : engine_.io) {
      if (!t.input) continue;
      const auto* x = static_cast<const float*>(addresses_.at(t.name));
      for (int64_t b = 0; b < n; ++b)
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t p = 0; p < hw; ++p)
            y[(b * c + ch) * hw + p] += t.scale * x[(b * t.channels + ch % t.channels) * hw + p];
    }
    return true;
  }

 private:
  const fake::Engine& engine_;
  std::map<std::string, Dims> shapes_;
  std::map<std::string, void*> addresses_;
};

class FakeEngine : public apiv::StubVCudaEngine {
 public:
  explicit FakeEngine(fake::Engine engine) : engine_(std::move(engine)) {}

  int32_t getNbIOTensors() const noexcept override { return int32_t(engine_.io.size()); }
  char const* getIOTensorName(int32_t index) const noexcept override {
    return index >= 0 && size_t(index) < engine_.io.size() ? engine_.io[size_t(index)].name.c_str() : nullptr;
  }
  TensorIOMode getTensorIOMode(char const* name) const noexcept override {
    const fake::Tensor* t = find(engine_, name);
    return !t ? TensorIOMode::kNONE : t->input ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
  }
  DataType getTensorDataType(char const* name) const noexcept override {
    const fake::Tensor* t = find(engine_, name);
    return t && t->half ? DataType::kHALF : DataType::kFLOAT;
  }
  Dims getTensorShape(char const* name) const noexcept override {
    const fake::Tensor* t = find(engine_, name);
    return t ? dims4(-1, t->channels, -1, -1) : Dims{-1, {}};
  }
  int32_t getNbOptimizationProfiles() const noexcept override { return 1; }
  Dims getProfileShape(char const* name, int32_t profile, OptProfileSelector select) const noexcept override {
    const fake::Tensor* t = find(engine_, name);
    if (!t || !t->input || profile != 0) return Dims{-1, {}};
    const int64_t* v = select == OptProfileSelector::kMIN ? t->lo : select == OptProfileSelector::kOPT ? t->opt : t->hi;
    return dims4(v[0], t->channels, v[1], v[2]);
  }
#if NV_TENSORRT_MAJOR >= 10
  IExecutionContext* createExecutionContext(ExecutionContextAllocationStrategy) noexcept override {
#else
  IExecutionContext* createExecutionContext() noexcept override {
#endif
    return new Handle<IExecutionContext, apiv::VExecutionContext>(new FakeContext(engine_));
  }

 private:
  fake::Engine engine_;
};

class FakeRuntime : public apiv::StubVRuntime {
 public:
#if NV_TENSORRT_MAJOR >= 10
  ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size) noexcept override {
#else
  ICudaEngine* deserializeCudaEngine(void const* blob, std::size_t size, IPluginFactory*) noexcept override {
#endif
    std::string why;
    fake::Engine engine;
    if (!fake::parse_engine(std::string(static_cast<char const*>(blob), size), engine, why)) {
      event("deserialize:failed");
      log_error("IRuntime::deserializeCudaEngine: " + why);
      return nullptr;
    }
    if (!engine.plugin.empty() && !fake::has_creator(engine.plugin)) {
      event("deserialize:no-plugin");
      log_error("getPluginCreator could not find plugin " + engine.plugin + " version 1");
      return nullptr;
    }
    event("deserialize:ok");
    return new Handle<ICudaEngine, apiv::VCudaEngine>(new FakeEngine(std::move(engine)));
  }
};

// The plugin registry: only loadLibrary (TensorRT >= 8.6) does something; a fake plugin library
// registers its creator from a static initialiser through mgdn_fake_register_plugin, which is
// what a TensorRT 8.5 plugin does at dlopen time.
class FakeRegistry final : public IPluginRegistry {
 public:
#if NV_TENSORRT_MAJOR < 11
  bool registerCreator(IPluginCreator&, AsciiChar const* const) noexcept override { return false; }
  IPluginCreator* const* getPluginCreatorList(int32_t* const n) const noexcept override {
    *n = 0;
    return nullptr;
  }
  IPluginCreator* getPluginCreator(AsciiChar const* const, AsciiChar const* const, AsciiChar const* const) noexcept override {
    return nullptr;
  }
  bool deregisterCreator(IPluginCreator const&) noexcept override { return false; }
#endif
  void setErrorRecorder(IErrorRecorder* const) noexcept override {}
  IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
#if NV_TENSORRT_MAJOR > 8 || NV_TENSORRT_MINOR >= 6
  bool isParentSearchEnabled() const override { return false; }
  void setParentSearchEnabled(bool const) override {}
  PluginLibraryHandle loadLibrary(AsciiChar const* path) noexcept override {
    event(std::string("loadLibrary:") + base_name(path ? path : ""));
    std::string before = fake::events();
    void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
      log_error(std::string("loadLibrary: ") + dlerror());
      return nullptr;
    }
    if (fake::events() == before) {  // its static initialiser registered nothing
      log_error(std::string("loadLibrary: ") + base_name(path) + " registered no plugin creator");
      return nullptr;
    }
    return handle;
  }
  void deregisterLibrary(PluginLibraryHandle) noexcept override {}
#endif
#if NV_TENSORRT_MAJOR >= 10
  bool registerCreator(IPluginCreatorInterface&, AsciiChar const* const) noexcept override { return false; }
  IPluginCreatorInterface* const* getAllCreators(int32_t* const n) const noexcept override {
    *n = 0;
    return nullptr;
  }
  IPluginCreatorInterface* getCreator(AsciiChar const* const, AsciiChar const* const, AsciiChar const* const) noexcept override {
    return nullptr;
  }
  bool deregisterCreator(IPluginCreatorInterface const&) noexcept override { return false; }
  IPluginResource* acquirePluginResource(AsciiChar const*, IPluginResource*) noexcept override { return nullptr; }
  int32_t releasePluginResource(AsciiChar const*) noexcept override { return -1; }
#endif
#if NV_TENSORRT_MAJOR >= 11
  IPluginCreatorInterface* const* getAllCreatorsRecursive(int32_t* const n) noexcept override {
    *n = 0;
    return nullptr;
  }
#endif
};

FakeRegistry g_registry;

}  // namespace

[[noreturn]] void mgdn_fake_unexpected(char const* method) noexcept {
  std::fprintf(stderr, "fake TensorRT: unexpected call to %s\n", method);
  std::abort();
}

FAKE_API void* createInferRuntime_INTERNAL(void* logger, int32_t) noexcept {
  fake::set_logger(logger);
  event("createInferRuntime");
  return new Handle<IRuntime, apiv::VRuntime>(new FakeRuntime);
}

FAKE_API IPluginRegistry* getPluginRegistry() noexcept { return &g_registry; }
FAKE_API ILogger* getLogger() noexcept { return fake::logger(); }

FAKE_API int32_t getInferLibVersion() noexcept {
#if NV_TENSORRT_MAJOR >= 10
  return (NV_TENSORRT_MAJOR * 100 + NV_TENSORRT_MINOR) * 100 + NV_TENSORRT_PATCH;
#else
  return NV_TENSORRT_MAJOR * 1000 + NV_TENSORRT_MINOR * 100 + NV_TENSORRT_PATCH;
#endif
}

// Called by a fake plugin library's static initialiser (the 8.5 way of registering).
FAKE_API void mgdn_fake_register_plugin(char const* creator) noexcept {
  event(std::string("register:") + creator);
  fake::add_creator(creator);
}

FAKE_API const char* mgdn_fake_events(void) { return fake::events().c_str(); }
