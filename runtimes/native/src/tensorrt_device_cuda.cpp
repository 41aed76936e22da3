// The device seam (tensorrt_device.hpp) on the CUDA runtime: what the TensorRT backend ships with.
#include <cuda_runtime_api.h>

#include "backend.hpp"
#include "tensorrt_device.hpp"

namespace mgdn {
namespace device {
namespace {

void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  mgdn_status kind = status == cudaErrorMemoryAllocation ? MGDN_E_OUT_OF_MEMORY : MGDN_E_BACKEND;
  throw Error(kind, std::string("CUDA ") + what + " failed: " + cudaGetErrorString(status));
}

}  // namespace

void select(int ordinal) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw Error(MGDN_E_BACKEND, "the TensorRT backend needs a CUDA GPU, and CUDA sees none");
  }
  if (ordinal < 0 || ordinal >= count)
    throw Error(MGDN_E_ARGUMENT, "GPU " + std::to_string(ordinal) + " does not exist (this machine has " +
                                     std::to_string(count) + ")");
  check(cudaSetDevice(ordinal), "cudaSetDevice");
}

std::string gpu_name(int ordinal) {
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, ordinal), "cudaGetDeviceProperties");
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
}

void* allocate(size_t bytes) {
  void* pointer = nullptr;
  check(cudaMalloc(&pointer, bytes), "cudaMalloc");
  return pointer;
}

void release(void* pointer) noexcept {
  if (pointer) cudaFree(pointer);
}

void copy_to_device(void* device, const void* host, size_t bytes, void* stream) {
  check(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, static_cast<cudaStream_t>(stream)),
        "copy to the GPU");
}

void copy_to_host(void* host, const void* device, size_t bytes, void* stream) {
  check(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, static_cast<cudaStream_t>(stream)),
        "copy from the GPU");
}

void* create_stream() {
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  return stream;
}

void destroy_stream(void* stream) noexcept {
  if (stream) cudaStreamDestroy(static_cast<cudaStream_t>(stream));
}

void synchronize(void* stream) { check(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "stream"); }

}  // namespace device
}  // namespace mgdn
