// A small argument parser with argparse's spellings (--flag VALUE, --flag=VALUE, -o), so the
// native runner takes the same command lines as `mgdn-edge fuse`.
#include "args.hpp"

#include <cstdlib>
#include <set>

#include "common.hpp"

namespace mgdn_cli {

const char* kUsage =
    "usage: mgdn-fuse --task {mff,mef,hdr,gdsr} --model MODEL [--runtime {openvino,tensorrt}] [--extension PATH]\n"
    "                 [--plugin PATH] [--exposures EV EV EV] [--out OUT] [--raw RAW.npy] [--threads N] [--device D]\n"
    "                 [--bench N] INPUT [INPUT ...]\n"
    "\n"
    "Fuse images with an exported MGDN model (model.onnx or an OpenVINO IR .xml) without Python.\n"
    "  mff/mef: A B | hdr: UNDER REF OVER (+ --exposures) or one Kalantari scene folder | gdsr: RGB DEPTH\n"
    "  --extension PATH  libmgdn_openvino.so (default $MGDN_OPENVINO_EXTENSION); a folder holding it works too\n"
    "  --runtime R       openvino (ov) or tensorrt (trt; an .engine/.plan, or model.trt.onnx built into one\n"
    "                    beside it); auto (default): tensorrt for .engine/.plan, else openvino\n"
    "  --plugin PATH     TensorRT: libmgdn_trt.so (default: the one the engine's sidecar names); a folder works too\n"
    "  --device D        OpenVINO device (default CPU) or TensorRT GPU index (default 0)\n"
    "  --out OUT         .png/.jpg/.tif/.bmp (GDSR also .npy); HDR writes OUT.hdr and OUT.png (mu-law)\n"
    "  --raw RAW.npy     the network's float32 HxWxC output\n"
    "  --bench N         after the first run, N more; prints JSON latencies (first, p50, p90 in ms)\n"
    "Not in this runner: --tile/--overlap (tiling), folder batches, --precision other than fp32.\n";

namespace {

double number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') throw UserError("argument " + flag + ": invalid float value: '" + text + "'");
  return v;
}

int integer(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') throw UserError("argument " + flag + ": invalid int value: '" + text + "'");
  return int(v);
}

}  // namespace

Args parse_args(int argc, char** argv) {
  Args args;
  std::vector<std::string> words(argv + 1, argv + argc);
  const std::set<std::string> tasks = {"mff", "mef", "hdr", "gdsr"};
  bool only_positional = false;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string word = words[i], value;
    if (only_positional || word.size() < 2 || word[0] != '-' || word == "-") {
      args.inputs.push_back(word);
      continue;
    }
    if (word == "--") {
      only_positional = true;
      continue;
    }
    size_t eq = word.find('=');
    bool inline_value = word.rfind("--", 0) == 0 && eq != std::string::npos;
    if (inline_value) {
      value = word.substr(eq + 1);
      word = word.substr(0, eq);
    }
    auto take = [&]() -> std::string {
      if (inline_value) return value;
      if (i + 1 >= words.size() || (words[i + 1].size() > 1 && words[i + 1][0] == '-' &&
                                    !(words[i + 1].size() > 1 && (isdigit(words[i + 1][1]) || words[i + 1][1] == '.'))))
        throw UserError("argument " + word + ": expected one argument");
      return words[++i];
    };
    if (word == "-h" || word == "--help") args.help = true;
    else if (word == "--version") args.version = true;
    else if (word == "--task") {
      args.task = take();
      if (!tasks.count(args.task))
        throw UserError("argument --task: invalid choice: '" + args.task + "' (choose from 'mff', 'mef', 'hdr', 'gdsr')");
    } else if (word == "--model") args.model = take();
    else if (word == "--runtime") args.runtime = take();
    else if (word == "--precision") args.precision = take();
    else if (word == "--extension") args.extension = take();
    else if (word == "--plugin") args.plugin = take();
    else if (word == "--device") args.device = take();
    else if (word == "--out" || word == "-o" || word == "--output") args.out = take();
    else if (word == "--raw") args.raw = take();
    else if (word == "--threads") args.threads = integer(word, take());
    else if (word == "--bench") args.bench = integer(word, take());
    else if (word == "--quiet") continue;
    else if (word == "--exposures") {
      std::vector<double> evs;
      for (int k = 0; k < 3; ++k) {
        if (i + 1 >= words.size()) throw UserError("argument --exposures: expected 3 arguments");
        evs.push_back(number(word, words[++i]));
      }
      args.exposures = evs;
    } else if (word == "--tile" || word == "--overlap")
      throw UserError(word + ": tiled inference is not in the native runner yet; run whole images, or use "
                             "`mgdn-edge fuse --tile` (Python)");
    else if (word == "--max-memory") {
      std::string mb = take();
      if (number(word, mb) != 0)
        throw UserError("--max-memory: the native runner never tiles (it runs whole images); only --max-memory 0 "
                        "is accepted, or use `mgdn-edge fuse` (Python) for automatic tiling");
    } else
      throw UserError("unrecognized arguments: " + words[i]);
  }
  if (args.help || args.version) return args;
  if (args.task.empty()) throw UserError("the following arguments are required: --task");
  if (args.model.empty()) throw UserError("the following arguments are required: --model");
  if (args.inputs.empty()) throw UserError("the following arguments are required: INPUT");
  if (args.runtime == "ov") args.runtime = "openvino";
  if (args.runtime == "trt") args.runtime = "tensorrt";
  if (args.runtime != "auto" && args.runtime != "openvino" && args.runtime != "tensorrt")
    throw UserError("--runtime " + args.runtime + ": the native runner runs openvino (ov) or tensorrt (trt)");
  if (!args.precision.empty() && args.precision != "fp32")
    throw UserError("--precision " + args.precision + ": the native runner runs a file at fp32 only");
  if (args.threads < 0) throw UserError("--threads must be >= 1, got " + std::to_string(args.threads));
  if (args.bench < 0) throw UserError("--bench must be >= 0 runs, got " + std::to_string(args.bench));
  return args;
}

}  // namespace mgdn_cli
