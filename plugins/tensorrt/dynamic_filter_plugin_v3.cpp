#include "dynamic_filter_plugin_v3.h"

#include <new>
#include <utility>

#include "plugin_common.h"
#include "plugin_logging.h"

namespace mgdn::trt {

using nvinfer1::DataType;
using nvinfer1::ILogger;

DynamicFilterPluginV3::DynamicFilterPluginV3(int32_t kernel_size) noexcept : mKernelSize(kernel_size) {
    refresh_fields();
}

DynamicFilterPluginV3::DynamicFilterPluginV3(DynamicFilterPluginV3 const& other) noexcept
    : nvinfer1::IPluginV3(other),
      nvinfer1::IPluginV3OneCore(other),
      nvinfer1::IPluginV3OneBuild(other),
      nvinfer1::IPluginV3OneRuntime(other),
      mKernelSize(other.mKernelSize),
      mRecorder(other.mRecorder) {
    refresh_fields();  // the field must point at this object's mKernelSize, not the source's
}

void DynamicFilterPluginV3::refresh_fields() noexcept {
    mField = nvinfer1::PluginField(kKernelSizeField, &mKernelSize, nvinfer1::PluginFieldType::kINT32, 1);
    mFields.nbFields = 1;
    mFields.fields = &mField;
}

nvinfer1::IPluginCapability* DynamicFilterPluginV3::getCapabilityInterface(
    nvinfer1::PluginCapabilityType type) noexcept {
    switch (type) {
        case nvinfer1::PluginCapabilityType::kCORE: return static_cast<nvinfer1::IPluginV3OneCore*>(this);
        case nvinfer1::PluginCapabilityType::kBUILD: return static_cast<nvinfer1::IPluginV3OneBuild*>(this);
        case nvinfer1::PluginCapabilityType::kRUNTIME: return static_cast<nvinfer1::IPluginV3OneRuntime*>(this);
    }
    return nullptr;
}

nvinfer1::IPluginV3* DynamicFilterPluginV3::clone() noexcept { return new (std::nothrow) DynamicFilterPluginV3(*this); }

int32_t DynamicFilterPluginV3::getOutputDataTypes(DataType* outputTypes, int32_t nbOutputs, DataType const* inputTypes,
                                                  int32_t nbInputs) const noexcept {
    if (nbInputs != 2 || nbOutputs != 1) {
        log(ILogger::Severity::kERROR, "DynamicFilter: expects 2 inputs (feat, kernels) and 1 output");
        return -1;
    }
    outputTypes[0] = inputTypes[0];  // strongly typed: the output follows feat
    return 0;
}

int32_t DynamicFilterPluginV3::getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs,
                                               nvinfer1::DimsExprs const* /*shapeInputs*/, int32_t /*nbShapeInputs*/,
                                               nvinfer1::DimsExprs* outputs, int32_t nbOutputs,
                                               nvinfer1::IExprBuilder& /*exprBuilder*/) noexcept {
    return guarded(mRecorder, "getOutputShapes", int32_t{-1}, [&]() -> int32_t {
    if (nbInputs != 2 || nbOutputs != 1 || inputs[0].nbDims != 4 || inputs[1].nbDims != 4) {
        log(ILogger::Severity::kERROR, "DynamicFilter: expects 4-D feat and kernels and one output");
        return -1;
    }
    // A constant kernels channel count can be rejected before any profile is seen.
    nvinfer1::IDimensionExpr const* taps = inputs[1].d[1];
    if (taps->isConstant() && taps->getConstantValue() != static_cast<int64_t>(mKernelSize) * mKernelSize) {
        log(ILogger::Severity::kERROR, "DynamicFilter: kernels have " + std::to_string(taps->getConstantValue()) +
                                           " channels, expected kernel_size^2 = " +
                                           std::to_string(mKernelSize * mKernelSize));
        return -1;
    }
    outputs[0] = inputs[0];
    return 0;
    });
}

bool DynamicFilterPluginV3::supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut,
                                                      int32_t nbInputs, int32_t nbOutputs) noexcept {
    if (nbInputs != 2 || nbOutputs != 1 || pos < 0 || pos > 2) return false;
    nvinfer1::PluginTensorDesc const& desc = inOut[pos].desc;
    if (desc.format != nvinfer1::TensorFormat::kLINEAR || !is_supported_type(desc.type)) return false;
    return pos == 0 || desc.type == inOut[0].desc.type;
}

int32_t DynamicFilterPluginV3::configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
                                               nvinfer1::DynamicPluginTensorDesc const* /*out*/,
                                               int32_t nbOutputs) noexcept {
    if (nbInputs != 2 || nbOutputs != 1) {
        log(ILogger::Severity::kERROR, "DynamicFilter: expects 2 inputs (feat, kernels) and 1 output");
        return -1;
    }
    return guarded(mRecorder, "configurePlugin", int32_t{-1}, [&]() -> int32_t {
    // desc.dims has -1 where the profiles leave a dimension free; min and max bound every profile.
    const std::pair<nvinfer1::Dims const*, nvinfer1::Dims const*> views[] = {
        {&in[0].desc.dims, &in[1].desc.dims}, {&in[0].min, &in[1].min}, {&in[0].max, &in[1].max}};
    for (auto const& [feat, kernels] : views) {
        const std::string problem = check_shapes(*feat, *kernels, mKernelSize);
        if (!problem.empty()) {
            log(ILogger::Severity::kERROR, problem);
            return -1;
        }
    }
    return 0;
    });
}

int32_t DynamicFilterPluginV3::onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs,
                                             nvinfer1::PluginTensorDesc const* /*out*/, int32_t nbOutputs) noexcept {
    if (nbInputs != 2 || nbOutputs != 1) return -1;
    return guarded(mRecorder, "onShapeChange", int32_t{-1}, [&]() -> int32_t {
        const std::string problem = check_shapes(in[0].dims, in[1].dims, mKernelSize);
        if (!problem.empty()) {
            report_error(mRecorder, nvinfer1::ErrorCode::kINVALID_ARGUMENT, problem);
            return -1;
        }
        return 0;
    });
}

int32_t DynamicFilterPluginV3::enqueue(nvinfer1::PluginTensorDesc const* inputDesc,
                                       nvinfer1::PluginTensorDesc const* /*outputDesc*/, void const* const* inputs,
                                       void* const* outputs, void* /*workspace*/, cudaStream_t stream) noexcept {
    return enqueue_dynamic_filter(inputDesc[0], inputDesc[1], inputs[0], inputs[1], outputs[0], mKernelSize, stream,
                                  mRecorder);
}

nvinfer1::IPluginV3* DynamicFilterPluginV3::attachToContext(nvinfer1::IPluginResourceContext* context) noexcept {
    auto* plugin = new (std::nothrow) DynamicFilterPluginV3(*this);
    if (plugin != nullptr && context != nullptr) plugin->mRecorder = context->getErrorRecorder();
    return plugin;
}

nvinfer1::PluginFieldCollection const* DynamicFilterPluginV3::getFieldsToSerialize() noexcept {
    refresh_fields();
    return &mFields;
}

DynamicFilterCreatorV3::DynamicFilterCreatorV3() noexcept
    : mField(kKernelSizeField, nullptr, nvinfer1::PluginFieldType::kINT32, 1) {
    mFields.nbFields = 1;
    mFields.fields = &mField;
}

nvinfer1::IPluginV3* DynamicFilterCreatorV3::createPlugin(char const* /*name*/,
                                                          nvinfer1::PluginFieldCollection const* fc,
                                                          nvinfer1::TensorRTPhase /*phase*/) noexcept {
    const int32_t kernel_size = read_kernel_size(fc);  // same fields at build and at deserialisation
    if (kernel_size == 0) return nullptr;
    return new (std::nothrow) DynamicFilterPluginV3(kernel_size);
}

}  // namespace mgdn::trt

MGDN_TRT_EXPORT void setLoggerFinder(nvinfer1::ILoggerFinder* finder) { mgdn::trt::set_logger_finder(finder); }

MGDN_TRT_EXPORT nvinfer1::IPluginCreatorInterface* const* getCreators(int32_t& nbCreators) {
    static mgdn::trt::DynamicFilterCreatorV3 creator;
    static nvinfer1::IPluginCreatorInterface* const creators[] = {&creator};
    nbCreators = 1;
    return creators;
}
