// Test hooks of the fake libnvinfer (fake_nvinfer.cpp): what a statically registering plugin
// library registered when it was loaded, and the global logger getLogger() hands out.
#pragma once

#include <NvInferRuntime.h>
#include <NvInferVersion.h>

#include <cstdint>

#if NV_TENSORRT_MAJOR >= 10
using FakeCreator = nvinfer1::IPluginCreatorInterface;
#else
using FakeCreator = nvinfer1::IPluginCreator;
#endif

extern "C" {
int32_t mgdn_fake_registered_count() noexcept;
FakeCreator* mgdn_fake_registered_creator(int32_t index) noexcept;
char const* mgdn_fake_registered_namespace(int32_t index) noexcept;
void mgdn_fake_set_logger(nvinfer1::ILogger* logger) noexcept;
}
