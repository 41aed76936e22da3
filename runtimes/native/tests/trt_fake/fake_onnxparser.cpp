// A CPU stand-in for libnvonnxparser.so (tests only): see fake_builder.cpp in libnvinfer's fake.
#include <NvOnnxParser.h>

extern "C" __attribute__((visibility("default"))) void* createNvOnnxParser_INTERNAL(void*, void*, int) noexcept {
  return nullptr;
}
