// mgdn-fuse's command line: `mgdn-edge fuse`'s flags where they apply to a native OpenVINO or
// TensorRT run (--plugin as `mgdn-edge build-engine` spells it).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mgdn_cli {

struct Args {
  std::string task, model, runtime = "auto", precision, extension, device, out, raw;
  std::string plugin;  // --plugin: libmgdn_trt.so for --runtime tensorrt
  std::vector<std::string> inputs;
  std::optional<std::vector<double>> exposures;
  int threads = 0;
  std::optional<std::pair<int, int>> tile;          // --tile N or HxW
  std::optional<int> overlap;                       // --overlap PX (default: tiling.DEFAULT_OVERLAP, reduced)
  std::vector<std::pair<int, int>> bench;           // --bench HxW[,HxW...]: sizes to time
  int warmup = 1, repeats = 5;                      // per --bench size, as `mgdn-edge bench`
  std::string json, device_name;                    // --json FILE: the run record; --device-name LABEL
  bool help = false, version = false;
};

Args parse_args(int argc, char** argv);  // throws UserError with argparse-like messages
extern const char* kUsage;

}  // namespace mgdn_cli
