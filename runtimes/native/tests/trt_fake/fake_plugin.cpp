// A stand-in plugin library: registers the creator named by MGDN_FAKE_CREATOR with the fake
// TensorRT when it is loaded (dlopen runs this static initialiser), as libmgdn_trt.so does.
extern "C" void mgdn_fake_register_plugin(char const* creator) noexcept;

namespace {

struct Register {
  Register() { mgdn_fake_register_plugin(MGDN_FAKE_CREATOR); }
} g_register;

}  // namespace
