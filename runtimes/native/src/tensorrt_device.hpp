// The few CUDA calls the TensorRT backend makes, behind one seam: tensorrt_device_cuda.cpp
// implements them with the CUDA runtime; the CPU test build links a host-memory stand-in instead
// (tests/trt_fake/fake_device.cpp), so the backend's host-side logic runs without a GPU.
#pragma once

#include <cstddef>
#include <string>

namespace mgdn {
namespace device {

// Make `ordinal` the calling thread's current GPU; throws mgdn::Error when there is none.
void select(int ordinal);
// The GPU as the engine sidecar records it: "NVIDIA Orin (sm_87)" (name and compute capability).
std::string gpu_name(int ordinal);

void* allocate(size_t bytes);  // device memory; throws mgdn::Error(MGDN_E_OUT_OF_MEMORY) on failure
void release(void* pointer) noexcept;
void copy_to_device(void* device, const void* host, size_t bytes, void* stream);
void copy_to_host(void* host, const void* device, size_t bytes, void* stream);

void* create_stream();  // a cudaStream_t, as TensorRT's enqueueV3 takes it
void destroy_stream(void* stream) noexcept;
void synchronize(void* stream);  // waits for the stream; a failure on it is an mgdn::Error

// Device memory freed when it goes out of scope.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t bytes) : data_(bytes ? allocate(bytes) : nullptr), bytes_(bytes) {}
  ~Buffer() { release(data_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept : data_(other.data_), bytes_(other.bytes_) { other.data_ = nullptr; }
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      release(data_);
      data_ = other.data_;
      bytes_ = other.bytes_;
      other.data_ = nullptr;
    }
    return *this;
  }
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace device
}  // namespace mgdn
