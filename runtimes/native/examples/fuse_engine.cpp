// A minimal application on the C API: fuse one MFF pair with a TensorRT engine.
//
//   fuse_engine ENGINE PLUGIN H W A.bin B.bin OUT.bin
//
// A.bin / B.bin are float32 NCHW (1 x 3 x H x W, RGB in [0, 1]) as raw little-endian floats, the
// files docs/jetson.md writes on the PC for trtexec --loadInputs; OUT.bin gets the fused 1 x 3 x H x W.
// ENGINE is model.engine from `mgdn-edge build-engine` (its .json sidecar beside it) or
// model.trt.onnx, which the library builds into model.trt.engine beside it on first use.
// Build (libmgdn_edge.so built with -DMGDN_WITH_TENSORRT=ON in build/):
//   g++ -std=c++17 fuse_engine.cpp -I../include -L../build -lmgdn_edge -Wl,-rpath,../build -o fuse_engine
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "mgdn_edge.h"

namespace {

bool read_floats(const char* path, std::vector<float>& data) {
  std::ifstream file(path, std::ios::binary);
  file.read(reinterpret_cast<char*>(data.data()), std::streamsize(data.size() * sizeof(float)));
  return bool(file) && file.peek() == EOF;  // exactly the size the shape says
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: %s ENGINE PLUGIN H W A.bin B.bin OUT.bin\n", argv[0]);
    return 2;
  }
  const long long h = std::atoll(argv[3]), w = std::atoll(argv[4]);
  if (h < 1 || w < 1) {
    std::fprintf(stderr, "error: H and W must be positive, got %s x %s\n", argv[3], argv[4]);
    return 2;
  }
  std::vector<float> a(size_t(3 * h * w)), b(a.size()), fused(a.size());
  for (auto [path, data] : {std::pair{argv[5], &a}, std::pair{argv[6], &b}})
    if (!read_floats(path, *data)) {
      std::fprintf(stderr, "error: %s is not 3 x %lld x %lld float32 values\n", path, h, w);
      return 2;
    }

  mgdn_options options = {};      // zero-initialised: every option at its default
  options.model_path = argv[1];
  options.extension_path = argv[2];  // libmgdn_trt.so: registered before the engine is read
  options.backend = "tensorrt";      // device NULL: GPU 0
  mgdn_context* ctx = nullptr;
  if (mgdn_create(&options, &ctx) != MGDN_OK) {
    std::fprintf(stderr, "error: %s\n", mgdn_last_error(nullptr));  // one line: the file or the mismatch
    return 2;
  }
  mgdn_tensor inputs[2] = {{a.data(), 1, 3, h, w}, {b.data(), 1, 3, h, w}};  // in the task's order: a, b
  mgdn_output out = {fused.data(), fused.size(), 0, 0, 0, 0};
  int status = mgdn_fuse(ctx, inputs, 2, &out);
  if (status != MGDN_OK) {
    std::fprintf(stderr, "error: %s (%s)\n", mgdn_last_error(ctx), mgdn_status_name(status));
    mgdn_release(ctx);
    return 2;
  }
  mgdn_release(ctx);
  std::ofstream file(argv[7], std::ios::binary);
  file.write(reinterpret_cast<const char*>(fused.data()), std::streamsize(fused.size() * sizeof(float)));
  if (!file) {
    std::fprintf(stderr, "error: cannot write %s\n", argv[7]);
    return 2;
  }
  std::printf("fused %lldx%lldx%lld -> %s\n", (long long)out.c, (long long)out.h, (long long)out.w, argv[7]);
  return 0;
}
