// TensorRT 8.5/8.6 DynamicFilter plugin (IPluginV2DynamicExt + IPluginCreator), for JetPack 5.1
// (TRT 8.5) and JetPack 6.0 (TRT 8.6), which have no IPluginV3. Same name, version, namespace,
// field and CUDA kernel as the V3 flavour; the engine stores kernel_size as one int32.
#pragma once

#include <NvInferRuntime.h>

#include <cstdint>
#include <string>

#include "plugin_common.h"

namespace mgdn::trt {

class DynamicFilterPluginLegacy final : public nvinfer1::IPluginV2DynamicExt {
public:
    explicit DynamicFilterPluginLegacy(int32_t kernel_size) noexcept : mKernelSize(kernel_size) {}

    // IPluginV2DynamicExt
    nvinfer1::IPluginV2DynamicExt* clone() const noexcept override;
    nvinfer1::DimsExprs getOutputDimensions(int32_t outputIndex, nvinfer1::DimsExprs const* inputs, int32_t nbInputs,
                                            nvinfer1::IExprBuilder& exprBuilder) noexcept override;
    bool supportsFormatCombination(int32_t pos, nvinfer1::PluginTensorDesc const* inOut, int32_t nbInputs,
                                   int32_t nbOutputs) noexcept override;
    void configurePlugin(nvinfer1::DynamicPluginTensorDesc const* in, int32_t nbInputs,
                         nvinfer1::DynamicPluginTensorDesc const* out, int32_t nbOutputs) noexcept override;
    size_t getWorkspaceSize(nvinfer1::PluginTensorDesc const* inputs, int32_t nbInputs,
                            nvinfer1::PluginTensorDesc const* outputs, int32_t nbOutputs) const noexcept override;
    int32_t enqueue(nvinfer1::PluginTensorDesc const* inputDesc, nvinfer1::PluginTensorDesc const* outputDesc,
                    void const* const* inputs, void* const* outputs, void* workspace,
                    cudaStream_t stream) noexcept override;

    // IPluginV2Ext
    nvinfer1::DataType getOutputDataType(int32_t index, nvinfer1::DataType const* inputTypes,
                                         int32_t nbInputs) const noexcept override;

    // IPluginV2
    char const* getPluginType() const noexcept override { return kPluginName; }
    char const* getPluginVersion() const noexcept override { return kPluginVersion; }
    int32_t getNbOutputs() const noexcept override { return 1; }
    int32_t initialize() noexcept override { return 0; }
    void terminate() noexcept override {}
    size_t getSerializationSize() const noexcept override { return sizeof(int32_t); }
    void serialize(void* buffer) const noexcept override;
    void destroy() noexcept override { delete this; }
    void setPluginNamespace(char const* pluginNamespace) noexcept override;
    char const* getPluginNamespace() const noexcept override { return mNamespace.c_str(); }

private:
    int32_t mKernelSize;
    std::string mNamespace{kPluginNamespace};
};

class DynamicFilterCreatorLegacy final : public nvinfer1::IPluginCreator {
public:
    DynamicFilterCreatorLegacy() noexcept;

    char const* getPluginName() const noexcept override { return kPluginName; }
    char const* getPluginVersion() const noexcept override { return kPluginVersion; }
    nvinfer1::PluginFieldCollection const* getFieldNames() noexcept override { return &mFields; }
    nvinfer1::IPluginV2* createPlugin(char const* name, nvinfer1::PluginFieldCollection const* fc) noexcept override;
    nvinfer1::IPluginV2* deserializePlugin(char const* name, void const* serialData,
                                           size_t serialLength) noexcept override;
    void setPluginNamespace(char const* pluginNamespace) noexcept override;
    char const* getPluginNamespace() const noexcept override { return mNamespace.c_str(); }

private:
    nvinfer1::PluginField mField;
    nvinfer1::PluginFieldCollection mFields{};
    std::string mNamespace{kPluginNamespace};
};

}  // namespace mgdn::trt
