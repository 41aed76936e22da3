// TensorRT 10+ DynamicFilter plugin (IPluginV3 with the OneCore/OneBuild/OneRuntime
// capabilities) and its IPluginCreatorV3One. Registered as DynamicFilter / "1" / "mgdn", which
// is what the ONNX parser looks up for the mgdn.DynamicFilter node (op_type = plugin name,
// plugin_version / plugin_namespace node attributes, INT attribute kernel_size -> kINT32 field).
#pragma once

#include <NvInferRuntime.h>
#include <NvInferVersion.h>

#include <cstdint>

#include "plugin_common.h"

#if NV_TENSORRT_MAJOR < 10
#error "IPluginV3 needs TensorRT 10 or newer; build dynamic_filter_plugin_legacy.cpp instead (MGDN_TRT_LEGACY_PLUGIN=ON)"
#endif

namespace mgdn::trt {

class DynamicFilterPluginV3 final : public nvinfer1::IPluginV3,
                                    public nvinfer1::IPluginV3OneCore,
                                    public nvinfer1::IPluginV3OneBuild,
                                    public nvinfer1::IPluginV3OneRuntime {
public:
    explicit DynamicFilterPluginV3(int32_t kernel_size) noexcept;
    DynamicFilterPluginV3(DynamicFilterPluginV3 const& other) noexcept;
    DynamicFilterPluginV3& operator=(DynamicFilterPluginV3 const&) = delete;
    ~DynamicFilterPluginV3() noexcept override = default;

    // IPluginV3
    nvinfer1::IPluginCapability* getCapabilityInterface(nvinfer1::PluginCapabilityType type) noexcept override;
    nvinfer1::IPluginV3* clone() noexcept override;

    // IPluginV3OneCore
    char const* getPluginName() const noexcept override { return kPluginName; }
    char const* getPluginVersion() const noexcept override { return kPluginVersion; }
    char const* getPluginNamespace() const noexcept override { return kPluginNamespace; }

    // IPluginV3OneBuild
    int32_t getNbOutputs() const noexcept override { return 1; }
    int32_t getOutputDataTypes(nvinfer1::DataType* outputTypes, int32_t nbOutputs,
                               nvinfer1::DataType const* inputTypes, int32_t nbInputs) const noexcept override;
    int32_t getOutputShapes(nvinfer1::DimsExprs const* inputs, int32_t nbInputs, nvinfer1::DimsExprs const* shapeInputs,
                            int32_t nbShapeInputs, nvinfer1::DimsExprs* outputs, int32_t nbOutputs,
                            nvinfer1::IExprBuilder& exprBuilder) noexcept override;
    bool supportsFormatCombination(int32_t pos, nvinfer1::DynamicPluginTensorDesc const* inOut, int32_t nbInputs,
                                   int32_t nbOutputs) noexcept override;
    int32_t configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
                            nvinfer1::DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept override;

    // IPluginV3OneRuntime
    int32_t onShapeChange(nvinfer1::PluginTensorDesc const* in, int32_t nbInputs, nvinfer1::PluginTensorDesc const* out,
                          int32_t nbOutputs) noexcept override;
    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
                    void const* const* inputs, void* const* outputs, void* workspace,
                    cudaStream_t stream) noexcept override;
    nvinfer1::IPluginV3* attachToContext(nvinfer1::IPluginResourceContext* context) noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldsToSerialize() noexcept override;

private:
    void refresh_fields() noexcept;

    int32_t mKernelSize;
    nvinfer1::IErrorRecorder* mRecorder{nullptr};  // set by attachToContext; not owned
    nvinfer1::PluginField mField;
    nvinfer1::PluginFieldCollection mFields{};
};

class DynamicFilterCreatorV3 final : public nvinfer1::IPluginCreatorV3One {
public:
    DynamicFilterCreatorV3() noexcept;

    nvinfer1::IPluginV3* createPlugin(char const* name, nvinfer1::PluginFieldCollection const* fc,
                                      nvinfer1::TensorRTPhase phase) noexcept override;
    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override { return &mFields; }
    char const* getPluginName() const noexcept override { return kPluginName; }
    char const* getPluginVersion() const noexcept override { return kPluginVersion; }
    char const* getPluginNamespace() const noexcept override { return kPluginNamespace; }

private:
    nvinfer1::PluginField mField;
    nvinfer1::PluginFieldCollection mFields{};
};

}  // namespace mgdn::trt
