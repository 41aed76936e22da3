// The fake libnvinfer's builder (tests only): createInferBuilder, a network the fake parser fills
// from a fake engine description, one optimisation profile, and buildSerializedNetwork, which
// writes a fake engine with the profile the backend set. Events: "createNetworkV2:flags=N",
// "build".
#include <map>
#include <memory>
#include <vector>

#include "fake_internal.hpp"

using namespace nvinfer1;

namespace {

using fake::Handle;

class FakeTensor : public apiv::StubVTensor {
 public:
  FakeTensor(std::string name, Dims dims) : name_(std::move(name)), dims_(dims) {}
  char const* getName() const noexcept override { return name_.c_str(); }
  Dims getDimensions() const noexcept override { return dims_; }

 private:
  std::string name_;
  Dims dims_;
};

class FakeLayer : public apiv::StubVLayer {
 public:
  explicit FakeLayer(LayerType type) : type_(type) {}
  LayerType getType() const noexcept override { return type_; }

 private:
  LayerType type_;
};

// ILayer keeps its implementation in mLayer rather than mImpl.
class LayerHandle : public ILayer {
 public:
  explicit LayerHandle(apiv::VLayer* impl) { mLayer = impl; }
  ~LayerHandle() override { delete mLayer; }
};

using TensorHandle = Handle<ITensor, apiv::VTensor>;
using ProfileHandle = Handle<IOptimizationProfile, apiv::VOptimizationProfile>;

class FakeNetwork : public apiv::StubVNetworkDefinition {
 public:
  // The parser's side: inputs [-1, C, -1, -1], one plugin layer when the description needs one.
  void load(const fake::Engine& engine) {
    engine_ = engine;
    for (const auto& t : engine.io) {
      if (!t.input) continue;
      Dims dims = Dims4(-1, int32_t(t.channels), -1, -1);
      inputs_.emplace_back(new TensorHandle(new FakeTensor(t.name, dims)));
    }
    if (!engine.plugin.empty())
      layers_.emplace_back(new LayerHandle(new FakeLayer(
#if NV_TENSORRT_MAJOR >= 10
          LayerType::kPLUGIN_V3
#else
          LayerType::kPLUGIN_V2
#endif
          )));
    layers_.emplace_back(new LayerHandle(new FakeLayer(LayerType::kELEMENTWISE)));
  }

  int32_t getNbInputs() const noexcept override { return int32_t(inputs_.size()); }
  ITensor* getInput(int32_t index) const noexcept override { return inputs_.at(size_t(index)).get(); }
  int32_t getNbLayers() const noexcept override { return int32_t(layers_.size()); }
  ILayer* getLayer(int32_t index) const noexcept override { return layers_.at(size_t(index)).get(); }
  const fake::Engine& engine() const { return engine_; }

 private:
  fake::Engine engine_;
  std::vector<std::unique_ptr<TensorHandle>> inputs_;
  std::vector<std::unique_ptr<LayerHandle>> layers_;
};

class FakeProfile : public apiv::StubVOptimizationProfile {
 public:
#if NV_TENSORRT_MAJOR >= 10
  bool setDimensions(char const* name, OptProfileSelector select, Dims const& dims) noexcept override {
#else
  bool setDimensions(char const* name, OptProfileSelector select, Dims dims) noexcept override {
#endif
    shapes_[name][int(select)] = dims;
    return true;
  }
  // (N, H, W) of `name` for kMIN / kOPT / kMAX.
  void range(const std::string& name, OptProfileSelector select, int64_t* nhw) const {
    const Dims& d = shapes_.at(name).at(int(select));
    nhw[0] = d.d[0], nhw[1] = d.d[2], nhw[2] = d.d[3];
  }

 private:
  std::map<std::string, std::map<int, Dims>> shapes_;
};

class FakeConfig : public apiv::StubVBuilderConfig {
 public:
  void setMemoryPoolLimit(MemoryPoolType, std::size_t bytes) noexcept override { workspace_ = bytes; }
  int32_t addOptimizationProfile(IOptimizationProfile const* profile) noexcept override {
    profiles_.push_back(profile);
    return int32_t(profiles_.size()) - 1;
  }
  std::vector<IOptimizationProfile const*> profiles_;
  size_t workspace_ = 0;
};

class FakeHostMemory : public apiv::StubVHostMemory {
 public:
  explicit FakeHostMemory(std::string bytes) : bytes_(std::move(bytes)) {}
  void* data() const noexcept override { return const_cast<char*>(bytes_.data()); }
  std::size_t size() const noexcept override { return bytes_.size(); }
  DataType type() const noexcept override { return DataType::kUINT8; }

 private:
  std::string bytes_;
};

class FakeBuilder : public apiv::StubVBuilder {
 public:
  INetworkDefinition* createNetworkV2(NetworkDefinitionCreationFlags flags) noexcept override {
    fake::event("createNetworkV2:flags=" + std::to_string(flags));
    return new Handle<INetworkDefinition, apiv::VNetworkDefinition>(new FakeNetwork);
  }
  IBuilderConfig* createBuilderConfig() noexcept override {
    return new Handle<IBuilderConfig, apiv::VBuilderConfig>(new FakeConfig);
  }
  IOptimizationProfile* createOptimizationProfile() noexcept override {
    profiles_.emplace_back(new ProfileHandle(new FakeProfile));
    return profiles_.back().get();
  }
  IHostMemory* buildSerializedNetwork(INetworkDefinition& network, IBuilderConfig& config) noexcept override {
    fake::event("build");
    auto* net = dynamic_cast<FakeNetwork*>(static_cast<Handle<INetworkDefinition, apiv::VNetworkDefinition>&>(network).impl());
    auto* conf = dynamic_cast<FakeConfig*>(static_cast<Handle<IBuilderConfig, apiv::VBuilderConfig>&>(config).impl());
    if (!net || !conf || conf->profiles_.size() != 1 || conf->workspace_ == 0) {
      fake::log_error("buildSerializedNetwork: needs one optimisation profile and a workspace limit");
      return nullptr;
    }
    auto* profile = dynamic_cast<FakeProfile*>(
        static_cast<const ProfileHandle*>(conf->profiles_[0])->impl());
    fake::Engine engine = net->engine();
    for (auto& t : engine.io) {
      if (!t.input) continue;
      profile->range(t.name, OptProfileSelector::kMIN, t.lo);
      profile->range(t.name, OptProfileSelector::kOPT, t.opt);
      profile->range(t.name, OptProfileSelector::kMAX, t.hi);
    }
    return new Handle<IHostMemory, apiv::VHostMemory>(new FakeHostMemory(fake::write_engine(engine)));
  }

 private:
  std::vector<std::unique_ptr<ProfileHandle>> profiles_;  // the builder owns its profiles
};

}  // namespace

FAKE_API void* createInferBuilder_INTERNAL(void* logger, int32_t) noexcept {
  fake::set_logger(logger);
  fake::event("createInferBuilder");
  return new Handle<IBuilder, apiv::VBuilder>(new FakeBuilder);
}

FAKE_API bool mgdn_fake_load_network(INetworkDefinition* network, char const* description, std::string* why) noexcept {
  fake::Engine engine;
  if (!fake::parse_engine(description, engine, *why)) return false;
  if (!engine.plugin.empty() && !fake::has_creator(engine.plugin)) {
    *why = "UNSUPPORTED_NODE: Plugin not found, are the plugin name, version, and namespace correct? (" +
           engine.plugin + ")";
    return false;
  }
  auto* net = dynamic_cast<FakeNetwork*>(static_cast<Handle<INetworkDefinition, apiv::VNetworkDefinition>*>(network)->impl());
  if (!net) return false;
  net->load(engine);
  return true;
}
