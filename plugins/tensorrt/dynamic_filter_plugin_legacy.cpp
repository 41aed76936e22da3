#include "dynamic_filter_plugin_legacy.h"

#include <cstring>
#include <new>

#include "plugin_common.h"
#include "plugin_logging.h"

namespace mgdn::trt {

using nvinfer1::ILogger;

nvinfer1::IPluginV2DynamicExt* DynamicFilterPluginLegacy::clone() const noexcept {
    auto* plugin = new (std::nothrow) DynamicFilterPluginLegacy(mKernelSize);
    if (plugin != nullptr) plugin->setPluginNamespace(mNamespace.c_str());  // guarded itself
    return plugin;
}

nvinfer1::DimsExprs DynamicFilterPluginLegacy::getOutputDimensions(int32_t /*outputIndex*/,
                                                                   nvinfer1::DimsExprs const* inputs,
                                                                   int32_t /*nbInputs*/,
                                                                   nvinfer1::IExprBuilder& /*exprBuilder*/) noexcept {
    // This interface cannot fail here; a constant wrong channel count is reported now and
    // configurePlugin/enqueue refuse to run it.
    guarded_void(nullptr, "getOutputDimensions", [&] {
    if (inputs[1].nbDims == 4 && inputs[1].d[1]->isConstant() &&
        inputs[1].d[1]->getConstantValue() != mKernelSize * mKernelSize) {
        log(ILogger::Severity::kERROR, "DynamicFilter: kernels have " +
                                           std::to_string(inputs[1].d[1]->getConstantValue()) +
                                           " channels, expected kernel_size^2 = " +
                                           std::to_string(mKernelSize * mKernelSize));
    }
    });
    return inputs[0];
}

bool DynamicFilterPluginLegacy::supportsFormatCombination(int32_t pos, nvinfer1::PluginTensorDesc const* inOut,
                                                          int32_t nbInputs, int32_t nbOutputs) noexcept {
    if (nbInputs != 2 || nbOutputs != 1 || pos < 0 || pos > 2) return false;
    nvinfer1::PluginTensorDesc const& desc = inOut[pos];
    if (desc.format != nvinfer1::TensorFormat::kLINEAR || !is_supported_type(desc.type)) return false;
    return pos == 0 || desc.type == inOut[0].type;
}

void DynamicFilterPluginLegacy::configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
                                                nvinfer1::DynamicPluginTensorDesc const* /*out*/,
                                                int32_t nbOutputs) noexcept {
    // void in this interface: report at build time; enqueue re-checks and refuses bad shapes.
    if (nbInputs != 2 || nbOutputs != 1) {
        log(ILogger::Severity::kERROR, "DynamicFilter: expects 2 inputs (feat, kernels) and 1 output");
        return;
    }
    guarded_void(nullptr, "configurePlugin", [&] {
    for (auto const& [feat, kernels] : {std::make_pair(&in[0].min, &in[1].min), std::make_pair(&in[0].max, &in[1].max),
                                        std::make_pair(&in[0].desc.dims, &in[1].desc.dims)}) {
        const std::string problem = check_shapes(*feat, *kernels, mKernelSize);
        if (!problem.empty()) {
            log(ILogger::Severity::kERROR, problem);
            return;
        }
    }
    });
}

size_t DynamicFilterPluginLegacy::getWorkspaceSize(nvinfer1::PluginTensorDesc const* /*inputs*/, int32_t /*nbInputs*/,
                                                   nvinfer1::PluginTensorDesc const* /*outputs*/,
                                                   int32_t /*nbOutputs*/) const noexcept {
    return 0;
}

int32_t DynamicFilterPluginLegacy::enqueue(nvinfer1::PluginTensorDesc const* inputDesc,
                                           nvinfer1::PluginTensorDesc const* /*outputDesc*/, void const* const* inputs,
                                           void* const* outputs, void* /*workspace*/, cudaStream_t stream) noexcept {
    return enqueue_dynamic_filter(inputDesc[0], inputDesc[1], inputs[0], inputs[1], outputs[0], mKernelSize, stream,
                                  nullptr);
}

nvinfer1::DataType DynamicFilterPluginLegacy::getOutputDataType(int32_t /*index*/, nvinfer1::DataType const* inputTypes,
                                                                int32_t /*nbInputs*/) const noexcept {
    return inputTypes[0];
}

void DynamicFilterPluginLegacy::serialize(void* buffer) const noexcept {
    std::memcpy(buffer, &mKernelSize, sizeof mKernelSize);
}

void DynamicFilterPluginLegacy::setPluginNamespace(char const* pluginNamespace) noexcept {
    guarded_void(nullptr, "setPluginNamespace", [&] { mNamespace = pluginNamespace != nullptr ? pluginNamespace : ""; });
}

DynamicFilterCreatorLegacy::DynamicFilterCreatorLegacy() noexcept
    : mField(kKernelSizeField, nullptr, nvinfer1::PluginFieldType::kINT32, 1) {
    mFields.nbFields = 1;
    mFields.fields = &mField;
}

nvinfer1::IPluginV2* DynamicFilterCreatorLegacy::createPlugin(char const* /*name*/,
                                                              nvinfer1::PluginFieldCollection const* fc) noexcept {
    const int32_t kernel_size = read_kernel_size(fc);
    if (kernel_size == 0) return nullptr;
    auto* plugin = new (std::nothrow) DynamicFilterPluginLegacy(kernel_size);
    if (plugin != nullptr) plugin->setPluginNamespace(mNamespace.c_str());
    return plugin;
}

nvinfer1::IPluginV2* DynamicFilterCreatorLegacy::deserializePlugin(char const* /*name*/, void const* serialData,
                                                                   size_t serialLength) noexcept {
    return guarded(nullptr, "deserializePlugin", static_cast<nvinfer1::IPluginV2*>(nullptr),
                   [&]() -> nvinfer1::IPluginV2* {
    int32_t kernel_size = 0;
    if (serialData == nullptr || serialLength != sizeof kernel_size) {
        log(ILogger::Severity::kERROR, "DynamicFilter: serialized plugin data must be one int32 kernel_size");
        return nullptr;
    }
    std::memcpy(&kernel_size, serialData, sizeof kernel_size);
    if (kernel_size < 1 || kernel_size % 2 == 0) {
        log(ILogger::Severity::kERROR, "DynamicFilter: corrupt engine, kernel_size " + std::to_string(kernel_size));
        return nullptr;
    }
    auto* plugin = new (std::nothrow) DynamicFilterPluginLegacy(kernel_size);
    if (plugin != nullptr) plugin->setPluginNamespace(mNamespace.c_str());
    return plugin;
    });
}

void DynamicFilterCreatorLegacy::setPluginNamespace(char const* pluginNamespace) noexcept {
    guarded_void(nullptr, "setPluginNamespace", [&] { mNamespace = pluginNamespace != nullptr ? pluginNamespace : ""; });
}

namespace {

DynamicFilterCreatorLegacy& creator() noexcept {
    static DynamicFilterCreatorLegacy instance;
    return instance;
}

#if defined(MGDN_TRT_STATIC_REGISTRATION)
// TensorRT 8.5 has no loadLibrary: linked against libnvinfer, the library registers itself
// when dlopen()ed (ctypes.CDLL / trtexec --plugins). Registered under "mgdn" explicitly,
// because REGISTER_TENSORRT_PLUGIN would register under the empty namespace.
const bool g_registered = getPluginRegistry()->registerCreator(creator(), kPluginNamespace);
#endif

}  // namespace
}  // namespace mgdn::trt

#if MGDN_TRT_HAS_LOGGER_FINDER
MGDN_TRT_EXPORT void setLoggerFinder(nvinfer1::ILoggerFinder* finder) { mgdn::trt::set_logger_finder(finder); }
#endif

MGDN_TRT_EXPORT nvinfer1::IPluginCreator* const* getPluginCreators(int32_t& nbCreators) {
    static nvinfer1::IPluginCreator* const creators[] = {&mgdn::trt::creator()};
    nbCreators = 1;
    return creators;
}
