// The device seam (src/tensorrt_device.hpp) on host memory, for the fake-runtime tests only: the
// "GPU" is named by $MGDN_FAKE_GPU (default "Fake GPU (sm_00)"); $MGDN_FAKE_NO_GPU=1 makes it absent.
#include <cstdlib>
#include <cstring>

#include "../../src/backend.hpp"
#include "../../src/tensorrt_device.hpp"

namespace mgdn {
namespace device {

void select(int ordinal) {
  const char* none = std::getenv("MGDN_FAKE_NO_GPU");
  if (none && *none == '1') throw Error(MGDN_E_BACKEND, "the TensorRT backend needs a CUDA GPU, and CUDA sees none");
  if (ordinal != 0)
    throw Error(MGDN_E_ARGUMENT, "GPU " + std::to_string(ordinal) + " does not exist (this machine has 1)");
}

std::string gpu_name(int) {
  const char* name = std::getenv("MGDN_FAKE_GPU");
  return name ? name : "Fake GPU (sm_00)";
}

void* allocate(size_t bytes) {
  void* pointer = std::malloc(bytes);
  if (!pointer) throw Error(MGDN_E_OUT_OF_MEMORY, "out of (fake) device memory");
  return pointer;
}

void release(void* pointer) noexcept { std::free(pointer); }
void copy_to_device(void* device, const void* host, size_t bytes, void*) { std::memcpy(device, host, bytes); }
void copy_to_host(void* host, const void* device, size_t bytes, void*) { std::memcpy(host, device, bytes); }

void* create_stream() { return new int(0); }
void destroy_stream(void* stream) noexcept { delete static_cast<int*>(stream); }
void synchronize(void*) {}

}  // namespace device
}  // namespace mgdn
