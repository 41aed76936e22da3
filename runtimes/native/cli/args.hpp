// mgdn-fuse's command line: `mgdn-edge fuse`'s flags where they apply to a native OpenVINO or
// TensorRT run (--plugin as `mgdn-edge build-engine` spells it).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mgdn_cli {

struct Args {
  std::string task, model, runtime = "auto", precision, extension, device, out, raw;
  std::string plugin;  // --plugin: libmgdn_trt.so for --runtime tensorrt
  std::vector<std::string> inputs;
  std::optional<std::vector<double>> exposures;
  int threads = 0;
  int bench = 0;  // --bench N: N timed runs after the first
  bool help = false, version = false;
};

Args parse_args(int argc, char** argv);  // throws UserError with argparse-like messages
extern const char* kUsage;

}  // namespace mgdn_cli
