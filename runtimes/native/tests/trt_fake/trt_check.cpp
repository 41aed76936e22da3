// Drives libmgdn_edge's C API on the fake TensorRT runtime for tests/native/test_tensorrt_backend.py:
//   mgdn_trt_check --model M [--plugin P] [--device D] [--threads N] [--out OUT.f32]
//                  [--input FILE.f32:N,C,H,W ...] [--capacity FLOATS] [--reopen PLUGIN]
// prints `status`, `error`, `task`, `inputs` (channels in order), `output` (shape) and `events`
// lines; the output tensor goes to OUT.f32 as raw float32. --reopen opens the model a second time
// in the same process with another plugin library and prints `reopen STATUS MESSAGE`.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "fake_hooks.h"
#include "mgdn_edge.h"

namespace {

struct Input {
  std::vector<float> data;
  mgdn_tensor tensor{};
};

bool read_input(const std::string& spec, Input& input) {
  size_t colon = spec.rfind(':');
  if (colon == std::string::npos) return false;
  long long n, c, h, w;
  if (std::sscanf(spec.c_str() + colon + 1, "%lld,%lld,%lld,%lld", &n, &c, &h, &w) != 4) return false;
  input.data.resize(size_t(n * c * h * w));
  std::ifstream file(spec.substr(0, colon), std::ios::binary);
  file.read(reinterpret_cast<char*>(input.data.data()), std::streamsize(input.data.size() * sizeof(float)));
  input.tensor = {nullptr, n, c, h, w};
  return bool(file);
}

int report(int status, const mgdn_context* context) {
  std::printf("status %s\nerror %s\nevents %s\n", mgdn_status_name(status), mgdn_last_error(context),
              mgdn_fake_events());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, plugin, device, out, reopen;
  std::vector<Input> inputs;
  int threads = 0;
  long long capacity = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--model") model = value;
    else if (flag == "--plugin") plugin = value;
    else if (flag == "--device") device = value;
    else if (flag == "--out") out = value;
    else if (flag == "--reopen") reopen = value;
    else if (flag == "--threads") threads = std::stoi(value);
    else if (flag == "--capacity") capacity = std::stoll(value);
    else if (flag == "--input") {
      inputs.emplace_back();
      if (!read_input(value, inputs.back())) {
        std::fprintf(stderr, "bad --input %s\n", value.c_str());
        return 2;
      }
    }
  }
  mgdn_options options{};
  options.model_path = model.c_str();
  options.extension_path = plugin.empty() ? nullptr : plugin.c_str();
  options.backend = "tensorrt";
  options.device = device.empty() ? nullptr : device.c_str();
  options.threads = threads;
  mgdn_context* context = nullptr;
  int status = mgdn_create(&options, &context);
  if (status != MGDN_OK) return report(status, nullptr);
  int32_t count = 0, channels = 0;
  mgdn_input_count(context, &count);
  std::printf("task %s\ninputs", mgdn_task(context));
  for (int32_t i = 0; i < count; ++i) {
    mgdn_input_channels(context, i, &channels);
    std::printf(" %d", channels);
  }
  std::printf("\n");
  if (!inputs.empty()) {
    std::vector<mgdn_tensor> tensors;
    for (auto& input : inputs) {
      input.tensor.data = input.data.data();
      tensors.push_back(input.tensor);
    }
    mgdn_output_channels(context, &channels);
    const mgdn_tensor& first = tensors[0];
    size_t needed = size_t(first.n * channels * first.h * first.w);
    std::vector<float> result(capacity >= 0 ? size_t(capacity) : needed);
    mgdn_output output{result.data(), result.size(), 0, 0, 0, 0};
    status = mgdn_fuse(context, tensors.data(), int32_t(tensors.size()), &output);
    std::printf("output %lld %lld %lld %lld\n", (long long)output.n, (long long)output.c, (long long)output.h,
                (long long)output.w);
    if (status == MGDN_OK && !out.empty()) {
      std::ofstream file(out, std::ios::binary);
      file.write(reinterpret_cast<const char*>(result.data()), std::streamsize(needed * sizeof(float)));
    }
  }
  if (!reopen.empty()) {
    options.extension_path = reopen.c_str();
    mgdn_context* second = nullptr;
    int again = mgdn_create(&options, &second);
    std::printf("reopen %s %s\n", mgdn_status_name(again), mgdn_last_error(nullptr));
    mgdn_release(second);
  }
  report(status, context);
  mgdn_release(context);
  return 0;
}
