// What the fake libnvinfer's sources (fake_nvinfer.cpp, fake_builder.cpp) and the fake
// libnvonnxparser share: the event log, the logger, the registered plugin creators, and the
// wrapper that gives a fake implementation its public TensorRT face.
#pragma once

#include <string>

#include "fake_engine.hpp"
#include "fake_hooks.h"
#include "fake_stubs.hpp"

#define FAKE_API extern "C" __attribute__((visibility("default")))

namespace fake {

void event(const std::string& what);
void log_error(const std::string& message);  // through the logger TensorRT was given
void set_logger(void* logger);
bool has_creator(const std::string& name);
nvinfer1::ILogger* logger();
void add_creator(const std::string& name);
const std::string& events();

// TensorRT's public classes (IRuntime, ICudaEngine, ...) are inline wrappers that forward to an
// implementation pointer; this gives a fake implementation its public class and deletes it with it.
template <typename Public, typename Impl>
class Handle : public Public {
 public:
  explicit Handle(Impl* impl) { this->mImpl = impl; }
  ~Handle() override { delete this->mImpl; }
  Impl* impl() const { return this->mImpl; }
};

}  // namespace fake

// Exported by the fake libnvinfer for the fake parser: fill a network created by the fake builder
// from a fake engine description (inputs, output, plugin); false with `why` when it cannot.
FAKE_API bool mgdn_fake_load_network(nvinfer1::INetworkDefinition* network, char const* description,
                                     std::string* why) noexcept;
