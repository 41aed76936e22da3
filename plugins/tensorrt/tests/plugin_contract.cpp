// Contract harness for libmgdn_trt_host.so: loads the plugin library the way
// IPluginRegistry::loadLibrary does (dlopen + the flavour's entry points; TensorRT 8.5: the
// library's own static registration, seen through the fake libnvinfer) and drives it through the
// calls TensorRT's ONNX parser, builder and runtime make, in their order:
//   parser   creator lookup by (op_type, plugin_version, plugin_namespace); INT attributes as fields
//   builder  output types/shapes, every supportsFormatCombination position, configurePlugin with
//            dynamic profiles, serialization (V3: getFieldsToSerialize; legacy: serialize)
//   runtime  re-creation from the serialized form after the original is gone, onShapeChange,
//            enqueue (the kernel's tile code on the host) against a naive reference
// plus every noexcept entry point under failing allocations (they must report, not terminate).
//
// usage: mgdn_plugin_contract <plugin.so> <name> <version> <namespace>
//                             [--io <dir> <n> <c> <h> <w> <k> <f32|f16>]
// Prints "ok <check>" / "FAIL <check>: <why>" per check and exits 1 on any failure. --io also
// runs <dir>/feat.bin and <dir>/kernels.bin through the plugin into <dir>/out.bin, so the Python
// side compares with its own oracle.
#include <NvInferRuntime.h>
#include <NvInferVersion.h>
#include <dlfcn.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "fake_nvinfer.h"

#if !defined(MGDN_HARNESS_LEGACY) || !defined(MGDN_HARNESS_STATIC)
#error "build through plugins/tensorrt/CMakeLists.txt (MGDN_BUILD_CONTRACT_HARNESS=ON)"
#endif

#define HARNESS_HAS_LOGGER_FINDER (NV_TENSORRT_MAJOR > 8 || NV_TENSORRT_MINOR >= 6)

using nvinfer1::DataType;
using nvinfer1::TensorFormat;

// ------------------------------------------------------------------------------------------
// Allocation failure injection: while g_fail_new is set, every throwing operator new throws and
// every nothrow one returns null. Exported (-rdynamic), so the plugin library uses these.

namespace {
bool g_fail_new = false;
int g_failed_allocs = 0;
struct AllocPause {  // the harness's own bookkeeping must not fail
    bool saved = g_fail_new;
    AllocPause() { g_fail_new = false; }
    ~AllocPause() { g_fail_new = saved; }
};
}  // namespace

void* operator new(std::size_t n) {
    if (g_fail_new) {
        ++g_failed_allocs;
        throw std::bad_alloc();
    }
    if (void* p = std::malloc(n != 0 ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::nothrow_t const&) noexcept {
    if (g_fail_new) {
        ++g_failed_allocs;
        return nullptr;
    }
    return std::malloc(n != 0 ? n : 1);
}
void* operator new[](std::size_t n, std::nothrow_t const& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::nothrow_t const&) noexcept { std::free(p); }
void operator delete[](void* p, std::nothrow_t const&) noexcept { std::free(p); }

namespace {

// ------------------------------------------------------------------------------------------
// Reporting

int g_checks = 0;
int g_failures = 0;

void check(bool ok, std::string const& name, std::string const& why = "") {
    AllocPause pause;
    ++g_checks;
    if (ok) {
        std::printf("ok %s\n", name.c_str());
    } else {
        ++g_failures;
        std::printf("FAIL %s%s%s\n", name.c_str(), why.empty() ? "" : ": ", why.c_str());
    }
}

// What TensorRT's logger would receive (through setLoggerFinder, or getLogger() for 8.5).
class Logger final : public nvinfer1::ILogger {
public:
    void log(Severity severity, char const* msg) noexcept override {
        AllocPause pause;
        if (severity <= Severity::kERROR) {
            ++errors;
            last_error = msg != nullptr ? msg : "";
            all_errors.push_back(last_error);
        }
    }
    int errors = 0;
    std::string last_error;
    std::vector<std::string> all_errors;
};
Logger g_logger;

// Errors seen since `mark`, and whether the last one mentions `text`.
struct ErrorWatch {
    int start = g_logger.errors;
    int count() const { return g_logger.errors - start; }
    bool said(char const* text) const { return count() > 0 && g_logger.last_error.find(text) != std::string::npos; }
    std::string last() const { return count() > 0 ? g_logger.last_error : std::string("no error logged"); }
    // How many errors since `start` mention `text`.
    int mentions(char const* text) const {
        int found = 0;
        for (size_t i = static_cast<size_t>(start); i < g_logger.all_errors.size(); ++i)
            found += g_logger.all_errors[i].find(text) != std::string::npos;
        return found;
    }
};

#if HARNESS_HAS_LOGGER_FINDER
class LoggerFinder final : public nvinfer1::ILoggerFinder {
public:
    nvinfer1::ILogger* findLogger() override { return &g_logger; }
};
LoggerFinder g_finder;
#endif

// ------------------------------------------------------------------------------------------
// Shapes

#if NV_TENSORRT_MAJOR >= 10
using DimValue = int64_t;
#else
using DimValue = int32_t;
#endif

nvinfer1::Dims dims4(int64_t n, int64_t c, int64_t h, int64_t w) {
    nvinfer1::Dims d{};
    d.nbDims = 4;
    d.d[0] = static_cast<DimValue>(n);
    d.d[1] = static_cast<DimValue>(c);
    d.d[2] = static_cast<DimValue>(h);
    d.d[3] = static_cast<DimValue>(w);
    return d;
}

nvinfer1::PluginTensorDesc desc(nvinfer1::Dims dims, DataType type = DataType::kFLOAT,
                                TensorFormat format = TensorFormat::kLINEAR) {
    nvinfer1::PluginTensorDesc d{};
    d.dims = dims;
    d.type = type;
    d.format = format;
    d.scale = 1.0f;
    return d;
}

// What the builder passes configurePlugin: -1 where the profile leaves a dimension free.
nvinfer1::DynamicPluginTensorDesc dynamic(nvinfer1::Dims dims, nvinfer1::Dims min, nvinfer1::Dims max) {
    nvinfer1::DynamicPluginTensorDesc d{};
    d.desc = desc(dims);
    d.min = min;
    d.max = max;
#if NV_TENSORRT_MAJOR >= 10
    d.opt = max;
#endif
    return d;
}

// IDimensionExpr / IExprBuilder are thin handles over TensorRT's internal apiv classes.
class ExprImpl final : public nvinfer1::apiv::VDimensionExpr {
public:
    ExprImpl(bool constant, int64_t value) : mConstant(constant), mValue(value) {}
    bool isConstant() const override { return mConstant; }
    DimValue getConstantValue() const override { return static_cast<DimValue>(mConstant ? mValue : -1); }
#if NV_TENSORRT_MAJOR >= 10
    bool isSizeTensor() const override { return false; }
#endif
private:
    bool mConstant;
    int64_t mValue;
};

class Expr final : public nvinfer1::IDimensionExpr {
public:
    Expr(bool constant, int64_t value) : mExpr(constant, value) { mImpl = &mExpr; }
    ~Expr() noexcept override = default;

private:
    ExprImpl mExpr;
};

std::vector<std::unique_ptr<Expr>> g_exprs;  // owned for the whole run, like TensorRT's
nvinfer1::IDimensionExpr const* constant(int64_t v) {
    g_exprs.push_back(std::make_unique<Expr>(true, v));
    return g_exprs.back().get();
}
nvinfer1::IDimensionExpr const* symbol() {
    g_exprs.push_back(std::make_unique<Expr>(false, 0));
    return g_exprs.back().get();
}

class BuilderImpl final : public nvinfer1::apiv::VExprBuilder {
public:
    nvinfer1::IDimensionExpr const* constant(DimValue value) override { return ::constant(value); }
    nvinfer1::IDimensionExpr const* operation(nvinfer1::DimensionOperation, nvinfer1::IDimensionExpr const&,
                                              nvinfer1::IDimensionExpr const&) override {
        return symbol();
    }
#if NV_TENSORRT_MAJOR >= 10
    nvinfer1::IDimensionExpr const* declareSizeTensor(int32_t, nvinfer1::IDimensionExpr const&,
                                                      nvinfer1::IDimensionExpr const&) override {
        return nullptr;
    }
#endif
};

class ExprBuilder final : public nvinfer1::IExprBuilder {
public:
    ExprBuilder() { mImpl = &mBuilder; }
    ~ExprBuilder() noexcept override = default;

private:
    BuilderImpl mBuilder;
};

nvinfer1::DimsExprs exprs(std::vector<nvinfer1::IDimensionExpr const*> const& d) {
    nvinfer1::DimsExprs e{};
    e.nbDims = static_cast<int32_t>(d.size());
    for (size_t i = 0; i < d.size(); ++i) e.d[i] = d[i];
    return e;
}

// ------------------------------------------------------------------------------------------
// Fields as the ONNX parser builds them from node attributes

struct Fields {
    std::vector<nvinfer1::PluginField> list;
    nvinfer1::PluginFieldCollection fc{};
    int32_t i32 = 0;
    int64_t i64 = 0;
    float f32 = 0;
    nvinfer1::PluginFieldCollection const* get() {
        fc.nbFields = static_cast<int32_t>(list.size());
        fc.fields = list.data();
        return &fc;
    }
};

std::unique_ptr<Fields> int32_field(int32_t k, int32_t length = 1) {
    auto f = std::make_unique<Fields>();
    f->i32 = k;
    f->list.emplace_back("kernel_size", &f->i32, nvinfer1::PluginFieldType::kINT32, length);
    return f;
}

#if NV_TENSORRT_MAJOR >= 10
std::unique_ptr<Fields> int64_field(int64_t k) {
    auto f = std::make_unique<Fields>();
    f->i64 = k;
    f->list.emplace_back("kernel_size", &f->i64, nvinfer1::PluginFieldType::kINT64, 1);
    return f;
}
#endif

// ------------------------------------------------------------------------------------------
// Numbers

std::vector<float> random_floats(size_t count, uint32_t seed, float scale) {
    std::vector<float> v(count);
    uint32_t s = seed * 2654435761u + 1u;
    for (float& x : v) {
        s = s * 1664525u + 1013904223u;
        x = scale * (static_cast<float>(s >> 8) / 8388608.0f - 1.0f);
    }
    return v;
}

// The definition, written out independently of the plugin's code: replicate borders, tap i*k+j.
std::vector<float> naive(std::vector<float> const& feat, std::vector<float> const& taps, int n, int c, int h, int w,
                         int k) {
    std::vector<float> out(feat.size());
    const int r = (k - 1) / 2;
    auto at = [&](int v, int hi) { return v < 0 ? 0 : (v > hi ? hi : v); };
    for (int b = 0; b < n; ++b)
        for (int ch = 0; ch < c; ++ch)
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x) {
                    double acc = 0;
                    for (int i = 0; i < k; ++i)
                        for (int j = 0; j < k; ++j)
                            acc += static_cast<double>(taps[((static_cast<size_t>(b) * k * k + i * k + j) * h + y) * w + x]) *
                                   feat[((static_cast<size_t>(b) * c + ch) * h + at(y + i - r, h - 1)) * w + at(x + j - r, w - 1)];
                    out[((static_cast<size_t>(b) * c + ch) * h + y) * w + x] = static_cast<float>(acc);
                }
    return out;
}

float max_abs_diff(std::vector<float> const& a, std::vector<float> const& b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        const float d = std::fabs(a[i] - b[i]);
        if (!(d <= m)) m = d;  // NaN wins
    }
    return m;
}

struct IoRequest {
    std::string dir;
    int n = 0, c = 0, h = 0, w = 0, k = 0;
    bool half = false;
};

std::vector<char> read_file(std::string const& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// (n, c, h, w, k): H or W below k, odd channel counts, N = 2, the published k = 7, generic k = 9 / 1.
struct Case {
    int n, c, h, w, k;
};
const Case kEnqueueCases[] = {{1, 3, 17, 45, 7}, {2, 5, 9, 33, 3}, {1, 4, 3, 2, 5}, {2, 2, 11, 13, 9}, {1, 3, 4, 4, 1}};

// Runs a (runtime) plugin's enqueue on host buffers. `Enqueue` is the plugin's enqueue.
// The kernel_size field every creator declares, and the values it must accept or refuse as the ONNX
// parser hands the node's attribute over (INT32, and INT64 from TensorRT 10); ``create(fields)`` says whether a plugin came back.
template <typename Create>
void check_kernel_size_fields(nvinfer1::PluginFieldCollection const* names, Create&& create) {
    check(names != nullptr && names->nbFields == 1 && std::strcmp(names->fields[0].name, "kernel_size") == 0 &&
              names->fields[0].type == nvinfer1::PluginFieldType::kINT32,
          "getFieldNames declares kernel_size as INT32");
#if NV_TENSORRT_MAJOR >= 10
    check(create(int64_field(7)->get()), "createPlugin(kernel_size=7 as INT64)");
    {
        ErrorWatch e;
        check(!create(int64_field((int64_t{1} << 32) + 7)->get()) && e.said("odd positive"),
              "INT64 kernel_size beyond int32 refused", e.last());
    }
#endif
    for (int32_t bad : {4, 0, -3}) {
        ErrorWatch e;
        check(!create(int32_field(bad)->get()) && e.said("odd positive"),
              "kernel_size=" + std::to_string(bad) + " refused with a reason", e.last());
    }
    ErrorWatch e;
    Fields none;
    check(!create(none.get()) && e.said("missing"), "missing kernel_size refused", e.last());
    check(!create(int32_field(7, 2)->get()) && e.said("one value"), "kernel_size with 2 values refused", e.last());
    Fields wrong;
    wrong.f32 = 7.0f;
    wrong.list.emplace_back("kernel_size", &wrong.f32, nvinfer1::PluginFieldType::kFLOAT32, 1);
    check(!create(wrong.get()) && e.said("INT32"), "FLOAT32 kernel_size refused", e.last());
}

template <typename Enqueue>
void check_enqueue(char const* flavour, Enqueue&& enqueue_for_k) {
    for (Case const& cs : kEnqueueCases) {
        const size_t feat_count = static_cast<size_t>(cs.n) * cs.c * cs.h * cs.w;
        const size_t taps_count = static_cast<size_t>(cs.n) * cs.k * cs.k * cs.h * cs.w;
        const std::vector<float> feat = random_floats(feat_count, cs.c + 10 * cs.k, 1.0f);
        const std::vector<float> taps = random_floats(taps_count, cs.h + 7 * cs.w, 1.0f / cs.k);
        std::vector<float> out(feat_count, std::nanf(""));
        const nvinfer1::PluginTensorDesc in[2] = {desc(dims4(cs.n, cs.c, cs.h, cs.w)),
                                                  desc(dims4(cs.n, cs.k * cs.k, cs.h, cs.w))};
        const nvinfer1::PluginTensorDesc outd[1] = {in[0]};
        void const* inputs[2] = {feat.data(), taps.data()};
        void* outputs[1] = {out.data()};
        const int32_t status = enqueue_for_k(cs.k, in, outd, inputs, outputs);
        const float diff = max_abs_diff(out, naive(feat, taps, cs.n, cs.c, cs.h, cs.w, cs.k));
        const std::string name = std::string(flavour) + " enqueue matches the naive reference at n,c,h,w,k=" +
                                 std::to_string(cs.n) + "," + std::to_string(cs.c) + "," + std::to_string(cs.h) + "," +
                                 std::to_string(cs.w) + "," + std::to_string(cs.k);
        check(status == 0 && diff <= 1e-5f, name, "status " + std::to_string(status) + ", max |diff| " + std::to_string(diff));
    }
}

template <typename Enqueue>
void run_io(IoRequest const& io, Enqueue&& enqueue_for_k) {
    if (io.dir.empty()) return;
    const size_t elem = io.half ? 2 : 4;
    const std::vector<char> feat = read_file(io.dir + "/feat.bin");
    const std::vector<char> taps = read_file(io.dir + "/kernels.bin");
    const size_t feat_bytes = static_cast<size_t>(io.n) * io.c * io.h * io.w * elem;
    const size_t taps_bytes = static_cast<size_t>(io.n) * io.k * io.k * io.h * io.w * elem;
    if (feat.size() != feat_bytes || taps.size() != taps_bytes) {
        check(false, "--io inputs have the announced sizes", std::to_string(feat.size()) + " / " + std::to_string(taps.size()));
        return;
    }
    std::vector<char> out(feat_bytes, 0);
    const DataType type = io.half ? DataType::kHALF : DataType::kFLOAT;
    const nvinfer1::PluginTensorDesc in[2] = {desc(dims4(io.n, io.c, io.h, io.w), type),
                                              desc(dims4(io.n, io.k * io.k, io.h, io.w), type)};
    const nvinfer1::PluginTensorDesc outd[1] = {in[0]};
    void const* inputs[2] = {feat.data(), taps.data()};
    void* outputs[1] = {out.data()};
    const int32_t status = enqueue_for_k(io.k, in, outd, inputs, outputs);
    check(status == 0, "--io enqueue succeeded", "status " + std::to_string(status));
    std::ofstream(io.dir + "/out.bin", std::ios::binary).write(out.data(), static_cast<std::streamsize>(out.size()));
}

// supportsFormatCombination: TensorRT asks position by position with the earlier ones fixed.
const DataType kTypes[] = {DataType::kFLOAT, DataType::kHALF, DataType::kINT8, DataType::kINT32};
const TensorFormat kFormats[] = {TensorFormat::kLINEAR, TensorFormat::kCHW32, TensorFormat::kHWC8};

bool expected_support(int pos, DataType first, DataType type, TensorFormat format) {
    const bool ok_type = type == DataType::kFLOAT || type == DataType::kHALF;
    return format == TensorFormat::kLINEAR && ok_type && (pos == 0 || type == first);
}

void* g_library = nullptr;

bool load(char const* path) {
    // Like IPluginRegistry::loadLibrary (and ctypes.CDLL for 8.5): a private namespace.
    g_library = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    check(g_library != nullptr, "dlopen the plugin library", g_library == nullptr ? dlerror() : "");
    return g_library != nullptr;
}

bool exported(char const* symbol) { return dlsym(g_library, symbol) != nullptr; }

void check_logger_finder() {
#if HARNESS_HAS_LOGGER_FINDER
    using SetLoggerFinder = void (*)(nvinfer1::ILoggerFinder*);
    auto set = reinterpret_cast<SetLoggerFinder>(dlsym(g_library, "setLoggerFinder"));
    check(set != nullptr, "exports setLoggerFinder (TensorRT >= 8.6)");
    if (set != nullptr) set(&g_finder);
#else
    check(!exported("setLoggerFinder"), "no setLoggerFinder before TensorRT 8.6");
#endif
}

#if MGDN_HARNESS_LEGACY
// ==========================================================================================
// IPluginV2DynamicExt + IPluginCreator (TensorRT 8.5 / 8.6; deprecated in 10 and 11)

using nvinfer1::IPluginCreator;
using nvinfer1::IPluginV2DynamicExt;

IPluginCreator* find_creator(char const* name, char const* version, char const* ns) {
    check(!exported("getCreators"), "legacy flavour does not export getCreators");
#if MGDN_HARNESS_STATIC
    // 8.5: registered by the library itself when loaded, under the namespace the node carries.
    check(mgdn_fake_registered_count() == 1, "static initialiser registered exactly one creator",
          std::to_string(mgdn_fake_registered_count()));
    if (mgdn_fake_registered_count() != 1) return nullptr;
    check(std::strcmp(mgdn_fake_registered_namespace(0), ns) == 0, "registered under the node's plugin_namespace",
          mgdn_fake_registered_namespace(0));
    auto* registered = static_cast<IPluginCreator*>(mgdn_fake_registered_creator(0));
#else
    check(mgdn_fake_registered_count() == 0, "loadLibrary flavour registers nothing by itself",
          std::to_string(mgdn_fake_registered_count()));
    IPluginCreator* registered = nullptr;
#endif
    using GetPluginCreators = IPluginCreator* const* (*)(int32_t&);
    auto get = reinterpret_cast<GetPluginCreators>(dlsym(g_library, "getPluginCreators"));
    check(get != nullptr, "exports getPluginCreators");
    if (get == nullptr) return registered;
    int32_t count = -1;
    IPluginCreator* const* creators = get(count);
    check(count == 1 && creators != nullptr, "getPluginCreators returns one creator", std::to_string(count));
    IPluginCreator* found = nullptr;
    for (int32_t i = 0; creators != nullptr && i < count; ++i) {
        IPluginCreator* c = creators[i];
        // loadLibrary registers each creator under its own getPluginNamespace().
        if (std::strcmp(c->getPluginName(), name) == 0 && std::strcmp(c->getPluginVersion(), version) == 0 &&
            std::strcmp(c->getPluginNamespace(), ns) == 0)
            found = c;
    }
    check(found != nullptr, std::string("creator found as ") + ns + "::" + name + " version " + version);
#if MGDN_HARNESS_STATIC
    check(found == registered, "the registered creator is the exported one");
#endif
    return found;
}

struct Destroy {
    void operator()(nvinfer1::IPluginV2* p) const {
        if (p != nullptr) p->destroy();
    }
};
using PluginPtr = std::unique_ptr<IPluginV2DynamicExt, Destroy>;

PluginPtr create(IPluginCreator* creator, nvinfer1::PluginFieldCollection const* fc) {
    return PluginPtr(static_cast<IPluginV2DynamicExt*>(creator->createPlugin("df", fc)));
}

void run(char const* name, char const* version, char const* ns, IoRequest const& io) {
    IPluginCreator* creator = find_creator(name, version, ns);
    if (creator == nullptr) return;

    // Fields as the parser passes the node's attributes.
    PluginPtr plugin = create(creator, int32_field(7)->get());
    check(plugin != nullptr, "createPlugin(kernel_size=7 as INT32)");
    if (plugin == nullptr) return;
    check_kernel_size_fields(creator->getFieldNames(),
                             [&](nvinfer1::PluginFieldCollection const* fc) { return create(creator, fc) != nullptr; });

    check(std::strcmp(plugin->getPluginType(), name) == 0 && std::strcmp(plugin->getPluginVersion(), version) == 0 &&
              std::strcmp(plugin->getPluginNamespace(), ns) == 0,
          "plugin reports the creator's name, version and namespace");
    check(plugin->getNbOutputs() == 1, "one output");
    for (DataType t : {DataType::kFLOAT, DataType::kHALF}) {
        const DataType in[2] = {t, t};
        check(plugin->getOutputDataType(0, in, 2) == t, "output type follows feat (" + std::to_string(int(t)) + ")");
    }

    ExprBuilder builder;
    auto* n = symbol();
    auto* h = symbol();
    auto* w = symbol();
    {
        const nvinfer1::DimsExprs in[2] = {exprs({n, constant(30), h, w}), exprs({n, constant(49), h, w})};
        ErrorWatch e;
        const nvinfer1::DimsExprs out = plugin->getOutputDimensions(0, in, 2, builder);
        check(out.nbDims == 4 && out.d[0] == n && out.d[1] == in[0].d[1] && out.d[2] == h && out.d[3] == w &&
                  e.count() == 0,
              "getOutputDimensions: output is feat's shape");
        const nvinfer1::DimsExprs bad[2] = {exprs({n, constant(30), h, w}), exprs({n, constant(25), h, w})};
        plugin->getOutputDimensions(0, bad, 2, builder);
        check(e.said("expected kernel_size^2 = 49"), "constant taps != kernel_size^2 reported", e.last());
    }

    int supported = 0;
    for (int pos = 0; pos < 3; ++pos)
        for (DataType first : {DataType::kFLOAT, DataType::kHALF})
            for (DataType t : kTypes)
                for (TensorFormat f : kFormats) {
                    nvinfer1::PluginTensorDesc io_desc[3] = {desc(dims4(1, 30, 8, 8), first),
                                                             desc(dims4(1, 49, 8, 8), first),
                                                             desc(dims4(1, 30, 8, 8), first)};
                    io_desc[pos] = desc(io_desc[pos].dims, t, f);
                    if (pos == 0 && first != DataType::kFLOAT) continue;
                    const bool got = plugin->supportsFormatCombination(pos, io_desc, 2, 1);
                    const bool want = expected_support(pos, first, t, f);
                    supported += got;
                    if (got != want)
                        check(false, "supportsFormatCombination pos " + std::to_string(pos) + " type " +
                                         std::to_string(int(t)) + " format " + std::to_string(int(f)));
                }
    check(supported == 2 + 2 * 2, "supportsFormatCombination: FP32/FP16 LINEAR, inputs and output of one type",
          std::to_string(supported) + " combinations accepted");
    {
        nvinfer1::PluginTensorDesc io_desc[3] = {desc(dims4(1, 30, 8, 8)), desc(dims4(1, 49, 8, 8)),
                                                 desc(dims4(1, 30, 8, 8))};
        check(!plugin->supportsFormatCombination(3, io_desc, 2, 1) && !plugin->supportsFormatCombination(-1, io_desc, 2, 1) &&
                  !plugin->supportsFormatCombination(0, io_desc, 1, 1),
              "supportsFormatCombination refuses positions and counts outside 2 inputs + 1 output");
    }

    {
        // Dynamic profile: N in [1, 2], H x W from 64 x 64 up to 4000 x 3000.
        const nvinfer1::DynamicPluginTensorDesc in[2] = {
            dynamic(dims4(-1, 30, -1, -1), dims4(1, 30, 64, 64), dims4(2, 30, 4000, 3000)),
            dynamic(dims4(-1, 49, -1, -1), dims4(1, 49, 64, 64), dims4(2, 49, 4000, 3000))};
        const nvinfer1::DynamicPluginTensorDesc out[1] = {in[0]};
        ErrorWatch e;
        plugin->configurePlugin(in, 2, out, 1);
        check(e.count() == 0, "configurePlugin accepts a dynamic 64x64..4000x3000 profile", e.last());
        nvinfer1::DynamicPluginTensorDesc bad[2] = {in[0], in[1]};
        bad[1].max = dims4(2, 49, 4000, 2999);
        plugin->configurePlugin(bad, 2, out, 1);
        check(e.said("disagree in W"), "configurePlugin reports a profile whose W differs", e.last());
        const nvinfer1::DynamicPluginTensorDesc big[2] = {
            dynamic(dims4(1, 30, 4000, 3000), dims4(1, 30, 4000, 3000), dims4(1, 30, 4000, 3000)),
            dynamic(dims4(1, 49, 4000, 3000), dims4(1, 49, 4000, 3000), dims4(1, 49, 4000, 3000))};
        ErrorWatch e2;
        plugin->configurePlugin(big, 2, out, 1);
        check(e2.count() == 0, "configurePlugin accepts 4000x3000", e2.last());
    }
    check(plugin->getWorkspaceSize(nullptr, 2, nullptr, 1) == 0, "no workspace");

    // Engine serialization: clone (what the builder keeps), drop the original, serialize the clone.
    PluginPtr copy(plugin->clone());
    check(copy != nullptr && std::strcmp(copy->getPluginNamespace(), ns) == 0, "clone keeps the namespace");
    plugin.reset();
    if (copy == nullptr) return;
    std::vector<char> blob(copy->getSerializationSize());
    check(blob.size() == sizeof(int32_t), "serialized size is one int32", std::to_string(blob.size()));
    copy->serialize(blob.data());
    copy.reset();
    PluginPtr restored(static_cast<IPluginV2DynamicExt*>(creator->deserializePlugin("df", blob.data(), blob.size())));
    check(restored != nullptr, "deserializePlugin restores the plugin after the original and its clone are gone");
    if (restored == nullptr) return;
    std::vector<char> again(restored->getSerializationSize());
    restored->serialize(again.data());
    check(again == blob, "serialization round trip is stable");
    for (size_t len : {size_t{0}, size_t{1}, size_t{3}, size_t{5}}) {
        std::vector<char> cut(blob);
        cut.resize(len);
        ErrorWatch e;
        check(creator->deserializePlugin("df", cut.data(), len) == nullptr && e.count() > 0,
              "serialized blob of " + std::to_string(len) + " bytes refused", e.last());
    }
    {
        const int32_t even = 4;
        ErrorWatch e;
        check(creator->deserializePlugin("df", &even, sizeof even) == nullptr && e.said("corrupt"),
              "serialized kernel_size 4 refused", e.last());
        check(creator->deserializePlugin("df", nullptr, 4) == nullptr, "null blob refused");
    }
    check(restored->initialize() == 0, "initialize");

    {
        const nvinfer1::PluginTensorDesc in[2] = {desc(dims4(1, 30, 8, 8)), desc(dims4(1, 25, 8, 8))};
        std::vector<float> buf(30 * 64);
        void const* inputs[2] = {buf.data(), buf.data()};
        void* outputs[1] = {buf.data()};
        ErrorWatch e;
        check(restored->enqueue(in, in, inputs, outputs, nullptr, nullptr) == -1 && e.said("expected kernel_size^2"),
              "enqueue refuses taps != kernel_size^2", e.last());
    }
    auto enqueue_for_k = [&](int k, nvinfer1::PluginTensorDesc const* in, nvinfer1::PluginTensorDesc const* out,
                             void const* const* inputs, void* const* outputs) -> int32_t {
        PluginPtr p = create(creator, int32_field(k)->get());
        if (p == nullptr) return -100;
        return p->enqueue(in, out, inputs, outputs, nullptr, nullptr);
    };
    check_enqueue("legacy", enqueue_for_k);
    run_io(io, enqueue_for_k);

    // Allocation failures inside noexcept methods: reported and survived, never std::terminate().
    {
        auto bad_field = int32_field(4);
        const nvinfer1::DynamicPluginTensorDesc bad[2] = {
            dynamic(dims4(1, 30, 8, 8), dims4(1, 30, 8, 8), dims4(1, 30, 8, 8)),
            dynamic(dims4(1, 25, 8, 8), dims4(1, 25, 8, 8), dims4(1, 25, 8, 8))};
        const std::string long_ns(200, 'x');
        ErrorWatch e;
        g_failed_allocs = 0;
        g_fail_new = true;
        nvinfer1::IPluginV2* made = creator->createPlugin("df", bad_field->get());
        restored->configurePlugin(bad, 2, bad, 1);
        restored->setPluginNamespace(long_ns.c_str());
        nvinfer1::IPluginV2* thawed = creator->deserializePlugin("df", blob.data(), 3);
        g_fail_new = false;
        // createPlugin, configurePlugin and setPluginNamespace each hit a throwing allocation.
        check(made == nullptr && thawed == nullptr && e.mentions("failed: std::bad_alloc") == 3,
              "noexcept methods report allocation failures instead of terminating",
              std::to_string(g_failed_allocs) + " failed allocations, " + std::to_string(e.mentions("bad_alloc")) + " reported; " + e.last());
        check(std::strcmp(restored->getPluginNamespace(), ns) == 0, "a failed setPluginNamespace keeps the old one");
    }
}

#else
// ==========================================================================================
// IPluginV3 (OneCore / OneBuild / OneRuntime) + IPluginCreatorV3One (TensorRT 10, 11)

using nvinfer1::IPluginV3;
using nvinfer1::IPluginV3OneBuild;
using nvinfer1::IPluginV3OneCore;
using nvinfer1::IPluginV3OneRuntime;

class ErrorRecorder final : public nvinfer1::IErrorRecorder {
public:
    int32_t getNbErrors() const noexcept override { return static_cast<int32_t>(mErrors.size()); }
    nvinfer1::ErrorCode getErrorCode(int32_t i) const noexcept override { return mErrors[i].first; }
    ErrorDesc getErrorDesc(int32_t i) const noexcept override { return mErrors[i].second.c_str(); }
    bool hasOverflowed() const noexcept override { return false; }
    void clear() noexcept override { mErrors.clear(); }
    bool reportError(nvinfer1::ErrorCode code, ErrorDesc desc) noexcept override {
        AllocPause pause;
        mErrors.emplace_back(code, desc);
        return true;
    }
    RefCount incRefCount() noexcept override { return 1; }
    RefCount decRefCount() noexcept override { return 0; }

private:
    std::vector<std::pair<nvinfer1::ErrorCode, std::string>> mErrors;
};

class ResourceContext final : public nvinfer1::IPluginResourceContext {
public:
    nvinfer1::IGpuAllocator* getGpuAllocator() const noexcept override { return nullptr; }
    nvinfer1::IErrorRecorder* getErrorRecorder() const noexcept override { return &recorder; }
    ~ResourceContext() noexcept override = default;
    mutable ErrorRecorder recorder;
};

nvinfer1::IPluginCreatorV3One* find_creator(char const* name, char const* version, char const* ns) {
    check(!exported("getPluginCreators"), "IPluginV3 flavour does not export getPluginCreators");
    check(mgdn_fake_registered_count() == 0, "loadLibrary flavour registers nothing by itself");
    using GetCreators = nvinfer1::IPluginCreatorInterface* const* (*)(int32_t&);
    auto get = reinterpret_cast<GetCreators>(dlsym(g_library, "getCreators"));
    check(get != nullptr, "exports getCreators");
    if (get == nullptr) return nullptr;
    int32_t count = -1;
    nvinfer1::IPluginCreatorInterface* const* creators = get(count);
    check(count == 1 && creators != nullptr, "getCreators returns one creator", std::to_string(count));
    nvinfer1::IPluginCreatorV3One* found = nullptr;
    for (int32_t i = 0; creators != nullptr && i < count; ++i) {
        // What the registry does: identify the interface before casting.
        const nvinfer1::InterfaceInfo info = creators[i]->getInterfaceInfo();
        if (std::strcmp(info.kind, "PLUGIN CREATOR_V3ONE") != 0 || info.major != 1) continue;
        auto* c = static_cast<nvinfer1::IPluginCreatorV3One*>(creators[i]);
        if (std::strcmp(c->getPluginName(), name) == 0 && std::strcmp(c->getPluginVersion(), version) == 0 &&
            std::strcmp(c->getPluginNamespace(), ns) == 0)
            found = c;
    }
    check(found != nullptr, std::string("V3One creator found as ") + ns + "::" + name + " version " + version);
    return found;
}

using PluginPtr = std::unique_ptr<IPluginV3>;

PluginPtr create(nvinfer1::IPluginCreatorV3One* creator, nvinfer1::PluginFieldCollection const* fc,
                 nvinfer1::TensorRTPhase phase = nvinfer1::TensorRTPhase::kBUILD) {
    return PluginPtr(creator->createPlugin("df", fc, phase));
}

template <typename Capability>
Capability* capability(IPluginV3* plugin, nvinfer1::PluginCapabilityType type, char const* kind) {
    nvinfer1::IPluginCapability* cap = plugin->getCapabilityInterface(type);
    if (cap == nullptr) return nullptr;
    const nvinfer1::InterfaceInfo info = cap->getInterfaceInfo();
    if (std::strcmp(info.kind, kind) != 0) return nullptr;
    return static_cast<Capability*>(cap);
}

void run(char const* name, char const* version, char const* ns, IoRequest const& io) {
    nvinfer1::IPluginCreatorV3One* creator = find_creator(name, version, ns);
    if (creator == nullptr) return;

    PluginPtr plugin = create(creator, int32_field(7)->get());
    check(plugin != nullptr, "createPlugin(kernel_size=7 as INT32, kBUILD)");
    if (plugin == nullptr) return;
    check_kernel_size_fields(creator->getFieldNames(),
                             [&](nvinfer1::PluginFieldCollection const* fc) { return create(creator, fc) != nullptr; });

    auto* core = capability<IPluginV3OneCore>(plugin.get(), nvinfer1::PluginCapabilityType::kCORE, "PLUGIN_V3ONE_CORE");
    auto* build =
        capability<IPluginV3OneBuild>(plugin.get(), nvinfer1::PluginCapabilityType::kBUILD, "PLUGIN_V3ONE_BUILD");
    auto* runtime = capability<IPluginV3OneRuntime>(plugin.get(), nvinfer1::PluginCapabilityType::kRUNTIME,
                                                    "PLUGIN_V3ONE_RUNTIME");
    check(core != nullptr && build != nullptr && runtime != nullptr, "core, build and runtime capabilities");
    if (core == nullptr || build == nullptr || runtime == nullptr) return;
    check(std::strcmp(core->getPluginName(), name) == 0 && std::strcmp(core->getPluginVersion(), version) == 0 &&
              std::strcmp(core->getPluginNamespace(), ns) == 0,
          "plugin reports the creator's name, version and namespace");
    check(build->getNbOutputs() == 1, "one output");
    for (DataType t : {DataType::kFLOAT, DataType::kHALF}) {
        const DataType in[2] = {t, t};
        DataType out[1] = {DataType::kINT8};
        check(build->getOutputDataTypes(out, 1, in, 2) == 0 && out[0] == t,
              "output type follows feat (" + std::to_string(int(t)) + ")");
    }

    ExprBuilder builder;
    auto* n = symbol();
    auto* h = symbol();
    auto* w = symbol();
    {
        const nvinfer1::DimsExprs in[2] = {exprs({n, constant(30), h, w}), exprs({n, constant(49), h, w})};
        nvinfer1::DimsExprs out[1]{};
        check(build->getOutputShapes(in, 2, nullptr, 0, out, 1, builder) == 0 && out[0].nbDims == 4 &&
                  out[0].d[0] == n && out[0].d[1] == in[0].d[1] && out[0].d[2] == h && out[0].d[3] == w,
              "getOutputShapes: output is feat's shape");
        const nvinfer1::DimsExprs dyn[2] = {exprs({n, constant(30), h, w}), exprs({n, symbol(), h, w})};
        check(build->getOutputShapes(dyn, 2, nullptr, 0, out, 1, builder) == 0,
              "getOutputShapes accepts a taps count known only at run time");
        const nvinfer1::DimsExprs bad[2] = {exprs({n, constant(30), h, w}), exprs({n, constant(25), h, w})};
        ErrorWatch e;
        check(build->getOutputShapes(bad, 2, nullptr, 0, out, 1, builder) == -1 && e.said("expected kernel_size^2 = 49"),
              "getOutputShapes refuses constant taps != kernel_size^2", e.last());
    }

    int supported = 0;
    for (int pos = 0; pos < 3; ++pos)
        for (DataType first : {DataType::kFLOAT, DataType::kHALF})
            for (DataType t : kTypes)
                for (TensorFormat f : kFormats) {
                    if (pos == 0 && first != DataType::kFLOAT) continue;
                    nvinfer1::DynamicPluginTensorDesc io_desc[3] = {
                        dynamic(dims4(-1, 30, -1, -1), dims4(1, 30, 8, 8), dims4(2, 30, 64, 64)),
                        dynamic(dims4(-1, 49, -1, -1), dims4(1, 49, 8, 8), dims4(2, 49, 64, 64)),
                        dynamic(dims4(-1, 30, -1, -1), dims4(1, 30, 8, 8), dims4(2, 30, 64, 64))};
                    for (auto& d : io_desc) d.desc.type = first;
                    io_desc[pos].desc.type = t;
                    io_desc[pos].desc.format = f;
                    const bool got = build->supportsFormatCombination(pos, io_desc, 2, 1);
                    supported += got;
                    if (got != expected_support(pos, first, t, f))
                        check(false, "supportsFormatCombination pos " + std::to_string(pos) + " type " +
                                         std::to_string(int(t)) + " format " + std::to_string(int(f)));
                }
    check(supported == 2 + 2 * 2, "supportsFormatCombination: FP32/FP16 LINEAR, inputs and output of one type",
          std::to_string(supported) + " combinations accepted");
    {
        nvinfer1::DynamicPluginTensorDesc io_desc[3] = {
            dynamic(dims4(1, 30, 8, 8), dims4(1, 30, 8, 8), dims4(1, 30, 8, 8)),
            dynamic(dims4(1, 49, 8, 8), dims4(1, 49, 8, 8), dims4(1, 49, 8, 8)),
            dynamic(dims4(1, 30, 8, 8), dims4(1, 30, 8, 8), dims4(1, 30, 8, 8))};
        check(!build->supportsFormatCombination(3, io_desc, 2, 1) && !build->supportsFormatCombination(-1, io_desc, 2, 1) &&
                  !build->supportsFormatCombination(0, io_desc, 1, 1),
              "supportsFormatCombination refuses positions and counts outside 2 inputs + 1 output");
    }

    {
        const nvinfer1::DynamicPluginTensorDesc in[2] = {
            dynamic(dims4(-1, 30, -1, -1), dims4(1, 30, 64, 64), dims4(2, 30, 4000, 3000)),
            dynamic(dims4(-1, 49, -1, -1), dims4(1, 49, 64, 64), dims4(2, 49, 4000, 3000))};
        const nvinfer1::DynamicPluginTensorDesc out[1] = {in[0]};
        check(build->configurePlugin(in, 2, out, 1) == 0, "configurePlugin accepts a dynamic 64x64..4000x3000 profile");
        nvinfer1::DynamicPluginTensorDesc bad[2] = {in[0], in[1]};
        bad[1].min = dims4(1, 25, 64, 64);
        ErrorWatch e;
        check(build->configurePlugin(bad, 2, out, 1) == -1 && e.said("kernels have 25 channels"),
              "configurePlugin refuses a profile with 25 taps", e.last());
        bad[1] = in[1];
        bad[1].max = dims4(2, 49, 4000, 2999);
        check(build->configurePlugin(bad, 2, out, 1) == -1 && e.said("disagree in W"),
              "configurePlugin refuses a profile whose W differs", e.last());
    }

    // Engine serialization: the builder clones, the original goes, the clone's fields are stored.
    PluginPtr copy(plugin->clone());
    plugin.reset();
    check(copy != nullptr, "clone");
    if (copy == nullptr) return;
    auto* copy_runtime = capability<IPluginV3OneRuntime>(copy.get(), nvinfer1::PluginCapabilityType::kRUNTIME,
                                                         "PLUGIN_V3ONE_RUNTIME");
    nvinfer1::PluginFieldCollection const* stored = copy_runtime->getFieldsToSerialize();
    // Copy the fields out as the engine does, then drop the clone before deserializing.
    std::vector<std::vector<char>> data;
    std::vector<nvinfer1::PluginField> fields;
    for (int32_t i = 0; stored != nullptr && i < stored->nbFields; ++i) {
        nvinfer1::PluginField const& f = stored->fields[i];
        const size_t bytes = f.type == nvinfer1::PluginFieldType::kINT32 ? 4u * f.length : 8u * f.length;
        data.emplace_back(static_cast<char const*>(f.data), static_cast<char const*>(f.data) + bytes);
    }
    for (int32_t i = 0; stored != nullptr && i < stored->nbFields; ++i)
        fields.emplace_back(stored->fields[i].name, data[i].data(), stored->fields[i].type, stored->fields[i].length);
    check(fields.size() == 1 && std::strcmp(fields[0].name, "kernel_size") == 0 &&
              *static_cast<int32_t const*>(fields[0].data) == 7,
          "getFieldsToSerialize holds kernel_size = 7");
    copy.reset();
    nvinfer1::PluginFieldCollection fc{static_cast<int32_t>(fields.size()), fields.data()};
    PluginPtr restored = create(creator, &fc, nvinfer1::TensorRTPhase::kRUNTIME);
    check(restored != nullptr, "createPlugin(kRUNTIME) from the serialized fields after clone and original are gone");
    if (restored == nullptr) return;
    auto* restored_runtime = capability<IPluginV3OneRuntime>(restored.get(), nvinfer1::PluginCapabilityType::kRUNTIME,
                                                             "PLUGIN_V3ONE_RUNTIME");
    ResourceContext context;
    PluginPtr attached(restored_runtime->attachToContext(&context));
    restored.reset();
    check(attached != nullptr, "attachToContext gives an execution-context plugin");
    if (attached == nullptr) return;
    auto* rt = capability<IPluginV3OneRuntime>(attached.get(), nvinfer1::PluginCapabilityType::kRUNTIME,
                                               "PLUGIN_V3ONE_RUNTIME");

    {
        const nvinfer1::PluginTensorDesc in[2] = {desc(dims4(1, 30, 4000, 3000)), desc(dims4(1, 49, 4000, 3000))};
        check(rt->onShapeChange(in, 2, in, 1) == 0, "onShapeChange accepts 1x30x4000x3000");
        const nvinfer1::PluginTensorDesc bad[2] = {desc(dims4(1, 30, 4000, 3000)), desc(dims4(1, 49, 3000, 4000))};
        const int32_t before = context.recorder.getNbErrors();
        check(rt->onShapeChange(bad, 2, bad, 1) == -1 && context.recorder.getNbErrors() == before + 1 &&
                  std::string(context.recorder.getErrorDesc(before)).find("disagree in H") != std::string::npos,
              "onShapeChange refuses transposed taps and records it in the context's error recorder");
    }
    {
        const nvinfer1::PluginTensorDesc in[2] = {desc(dims4(1, 30, 8, 8)), desc(dims4(1, 25, 8, 8))};
        std::vector<float> buf(30 * 64);
        void const* inputs[2] = {buf.data(), buf.data()};
        void* outputs[1] = {buf.data()};
        const int32_t before = context.recorder.getNbErrors();
        check(rt->enqueue(in, in, inputs, outputs, nullptr, nullptr) == -1 && context.recorder.getNbErrors() == before + 1,
              "enqueue refuses taps != kernel_size^2 and records it");
    }
    auto enqueue_for_k = [&](int k, nvinfer1::PluginTensorDesc const* in, nvinfer1::PluginTensorDesc const* out,
                             void const* const* inputs, void* const* outputs) -> int32_t {
        auto f = int32_field(k);
        PluginPtr p = create(creator, f->get(), nvinfer1::TensorRTPhase::kRUNTIME);
        if (p == nullptr) return -100;
        auto* r = capability<IPluginV3OneRuntime>(p.get(), nvinfer1::PluginCapabilityType::kRUNTIME,
                                                  "PLUGIN_V3ONE_RUNTIME");
        PluginPtr ctx(r->attachToContext(&context));
        auto* rc = capability<IPluginV3OneRuntime>(ctx.get(), nvinfer1::PluginCapabilityType::kRUNTIME,
                                                   "PLUGIN_V3ONE_RUNTIME");
        if (rc->onShapeChange(in, 2, out, 1) != 0) return -101;
        return rc->enqueue(in, out, inputs, outputs, nullptr, nullptr);
    };
    check_enqueue("V3", enqueue_for_k);
    run_io(io, enqueue_for_k);

    // Allocation failures inside noexcept methods: reported and survived, never std::terminate().
    {
        auto bad_field = int32_field(4);
        const nvinfer1::DimsExprs bad_exprs[2] = {exprs({n, constant(30), h, w}), exprs({n, constant(25), h, w})};
        nvinfer1::DimsExprs out_exprs[1]{};
        const nvinfer1::DynamicPluginTensorDesc bad_dyn[2] = {
            dynamic(dims4(1, 30, 8, 8), dims4(1, 30, 8, 8), dims4(1, 30, 8, 8)),
            dynamic(dims4(1, 25, 8, 8), dims4(1, 25, 8, 8), dims4(1, 25, 8, 8))};
        const nvinfer1::PluginTensorDesc bad[2] = {desc(dims4(1, 30, 8, 8)), desc(dims4(1, 25, 8, 8))};
        std::vector<float> buf(30 * 64);
        void const* inputs[2] = {buf.data(), buf.data()};
        void* outputs[1] = {buf.data()};
        PluginPtr probe = create(creator, int32_field(7)->get());
        auto* probe_build =
            capability<IPluginV3OneBuild>(probe.get(), nvinfer1::PluginCapabilityType::kBUILD, "PLUGIN_V3ONE_BUILD");
        ErrorWatch e;
        g_failed_allocs = 0;
        g_fail_new = true;
        IPluginV3* made = creator->createPlugin("df", bad_field->get(), nvinfer1::TensorRTPhase::kBUILD);
        const int32_t shapes = probe_build->getOutputShapes(bad_exprs, 2, nullptr, 0, out_exprs, 1, builder);
        const int32_t configured = probe_build->configurePlugin(bad_dyn, 2, bad_dyn, 1);
        const int32_t changed = rt->onShapeChange(bad, 2, bad, 1);
        const int32_t enqueued = rt->enqueue(bad, bad, inputs, outputs, nullptr, nullptr);
        IPluginV3* cloned = rt->attachToContext(&context);  // nothrow new: null, not a crash
        g_fail_new = false;
        check(made == nullptr && shapes == -1 && configured == -1 && changed == -1 && enqueued == -1 &&
                  cloned == nullptr && e.mentions("failed: std::bad_alloc") == 5,
              "noexcept methods report allocation failures instead of terminating",
              std::to_string(g_failed_allocs) + " failed allocations, " + std::to_string(e.mentions("bad_alloc")) + " reported; " + e.last());
    }
}
#endif

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5 && argc != 13) {
        std::fprintf(stderr, "usage: %s <plugin.so> <name> <version> <namespace> [--io <dir> n c h w k f32|f16]\n",
                     argv[0]);
        return 2;
    }
    IoRequest io;
    if (argc == 13) {
        if (std::strcmp(argv[5], "--io") != 0) return 2;
        io.dir = argv[6];
        io.n = std::atoi(argv[7]);
        io.c = std::atoi(argv[8]);
        io.h = std::atoi(argv[9]);
        io.w = std::atoi(argv[10]);
        io.k = std::atoi(argv[11]);
        io.half = std::strcmp(argv[12], "f16") == 0;
    }
    std::printf("# TensorRT headers %d.%d, %s flavour%s\n", NV_TENSORRT_MAJOR, NV_TENSORRT_MINOR,
                MGDN_HARNESS_LEGACY ? "IPluginV2DynamicExt" : "IPluginV3",
                MGDN_HARNESS_STATIC ? ", static registration" : "");
    mgdn_fake_set_logger(&g_logger);  // getLogger() of the fake libnvinfer (8.5 path)
    check(mgdn_fake_registered_count() == 0, "nothing registered before the library is loaded");
    if (load(argv[1])) {
        check_logger_finder();
        run(argv[2], argv[3], argv[4], io);
    }
    std::printf("# %d checks, %d failed\n", g_checks, g_failures);
    return g_failures == 0 ? 0 : 1;
}
