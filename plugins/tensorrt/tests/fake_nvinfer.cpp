// A stand-in for libnvinfer.so with the two symbols a statically registering plugin imports:
// getPluginRegistry() and getLogger(). The registry records registerCreator() calls (what the
// 8.5 plugin does from a static initialiser at dlopen time) and finds creators the way TensorRT's
// does, by name, version and namespace. Everything else TensorRT's registry offers is a stub.
#include "fake_nvinfer.h"

#include <cstring>

namespace {

using nvinfer1::AsciiChar;

constexpr int32_t kMaxCreators = 8;
FakeCreator* g_creators[kMaxCreators] = {};
char g_namespaces[kMaxCreators][128] = {};
int32_t g_count = 0;
nvinfer1::ILogger* g_logger = nullptr;

bool add(FakeCreator* creator, AsciiChar const* ns) noexcept {
    if (g_count == kMaxCreators || ns == nullptr || std::strlen(ns) >= sizeof g_namespaces[0]) return false;
    g_creators[g_count] = creator;
    std::strcpy(g_namespaces[g_count], ns);
    ++g_count;
    return true;
}

class FakeRegistry final : public nvinfer1::IPluginRegistry {
public:
#if NV_TENSORRT_MAJOR < 11  // the IPluginCreator overloads; TensorRT 11 keeps only IPluginCreatorInterface ones
    bool registerCreator(nvinfer1::IPluginCreator& creator, AsciiChar const* const ns) noexcept override {
        return add(&creator, ns);
    }
    nvinfer1::IPluginCreator* const* getPluginCreatorList(int32_t* const n) const noexcept override {
        *n = 0;
        return nullptr;
    }
    nvinfer1::IPluginCreator* getPluginCreator(AsciiChar const* const, AsciiChar const* const,
                                               AsciiChar const* const) noexcept override {
        return nullptr;
    }
    bool deregisterCreator(nvinfer1::IPluginCreator const&) noexcept override { return false; }
#endif
    void setErrorRecorder(nvinfer1::IErrorRecorder* const) noexcept override {}
    nvinfer1::IErrorRecorder* getErrorRecorder() const noexcept override { return nullptr; }
#if NV_TENSORRT_MAJOR > 8 || NV_TENSORRT_MINOR >= 6
    bool isParentSearchEnabled() const override { return false; }
    void setParentSearchEnabled(bool const) override {}
    PluginLibraryHandle loadLibrary(AsciiChar const*) noexcept override { return nullptr; }
    void deregisterLibrary(PluginLibraryHandle) noexcept override {}
#endif
#if NV_TENSORRT_MAJOR >= 10
    bool registerCreator(nvinfer1::IPluginCreatorInterface& creator, AsciiChar const* const ns) noexcept override {
        return add(&creator, ns);
    }
    nvinfer1::IPluginCreatorInterface* const* getAllCreators(int32_t* const n) const noexcept override {
        *n = g_count;
        return g_creators;
    }
    nvinfer1::IPluginCreatorInterface* getCreator(AsciiChar const* const, AsciiChar const* const,
                                                  AsciiChar const* const) noexcept override {
        return nullptr;
    }
    bool deregisterCreator(nvinfer1::IPluginCreatorInterface const&) noexcept override { return false; }
    nvinfer1::IPluginResource* acquirePluginResource(AsciiChar const*, nvinfer1::IPluginResource*) noexcept override {
        return nullptr;
    }
    int32_t releasePluginResource(AsciiChar const*) noexcept override { return -1; }
#endif
#if NV_TENSORRT_MAJOR >= 11
    nvinfer1::IPluginCreatorInterface* const* getAllCreatorsRecursive(int32_t* const n) noexcept override {
        *n = g_count;
        return g_creators;
    }
#endif
};

FakeRegistry g_registry;

}  // namespace

extern "C" nvinfer1::IPluginRegistry* getPluginRegistry() noexcept { return &g_registry; }
extern "C" nvinfer1::ILogger* getLogger() noexcept { return g_logger; }

extern "C" int32_t mgdn_fake_registered_count() noexcept { return g_count; }
extern "C" FakeCreator* mgdn_fake_registered_creator(int32_t index) noexcept {
    return index >= 0 && index < g_count ? g_creators[index] : nullptr;
}
extern "C" char const* mgdn_fake_registered_namespace(int32_t index) noexcept {
    return index >= 0 && index < g_count ? g_namespaces[index] : nullptr;
}
extern "C" void mgdn_fake_set_logger(nvinfer1::ILogger* logger) noexcept { g_logger = logger; }
