// Test hooks of the fake TensorRT (fake_nvinfer.cpp): what happened, in order, since the process
// started ("createInferRuntime;loadLibrary:libx.so;deserialize:ok;..."), for the checks of the
// plugin loading order.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

__attribute__((visibility("default"))) const char* mgdn_fake_events(void);

#ifdef __cplusplus
}
#endif
