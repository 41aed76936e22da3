// A small argument parser with argparse's spellings (--flag VALUE, --flag=VALUE, -o), so the
// native runner takes the same command lines as `mgdn-edge fuse`.
#include "args.hpp"

#include <cctype>
#include <cstdlib>
#include <set>

#include "common.hpp"

namespace mgdn_cli {

const char* kUsage =
    "usage: mgdn-fuse --task {mff,mef,hdr,gdsr} --model MODEL [--runtime {openvino,tensorrt}] [--extension PATH]\n"
    "                 [--plugin PATH] [--exposures EV EV EV] [--out OUT] [--raw RAW.npy] [--threads N] [--device D]\n"
    "                 [--tile HxW] [--overlap PX] [--bench HxW[,HxW...]] [--warmup N] [--repeats N]\n"
    "                 [--json FILE] [--device-name LABEL] INPUT [INPUT ...]\n"
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
    "  --tile HxW        run in overlapping tiles of this size (N or HxW), blended as `mgdn-edge fuse --tile`\n"
    "  --overlap PX      pixels shared by neighbouring tiles (default 32, less where a small tile needs it)\n"
    "  --bench SIZES     time the network at each HxW (comma-separated; synthetic inputs, INPUT optional):\n"
    "                    first call, --warmup N untimed (default 1), --repeats N timed (default 5); JSON out\n"
    "  --json FILE       write the run record (timings, device, precision, inputs and --raw with sha256) to\n"
    "                    FILE ('-': stdout) for `mgdn-edge report --device FILE` on the PC\n"
    "  --device-name L   the device in the record (default /proc/device-tree/model, else the CPU's name)\n"
    "  A folder INPUT (A/ + B/, rgb/ + depth/, or HDR scene folders) with --out FOLDER fuses every item in it.\n"
    "Not in this runner: --max-memory tiling, --precision other than fp32.\n";

namespace {

double number(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0') throw UserError("argument " + flag + ": invalid float value: '" + text + "'");
  return v;
}

// Size.parse: "256x384" (HxW), or "256" for a square where `square`; messages as the Python CLI's.
std::pair<int, int> size(const std::string& what, const std::string& text, bool square) {
  std::string lower;
  for (char ch : text) lower += char(std::tolower(static_cast<unsigned char>(ch)));
  size_t x = lower.find('x');
  std::string h = lower.substr(0, x), w = x == std::string::npos ? (square ? h : "") : lower.substr(x + 1);
  auto parse = [](const std::string& part, long& value) {
    char* end = nullptr;
    value = std::strtol(part.c_str(), &end, 10);
    while (end && std::isspace(static_cast<unsigned char>(*end))) ++end;
    return !part.empty() && end && *end == '\0' && part.find('x') == std::string::npos;
  };
  long hv = 0, wv = 0;
  if (!parse(h, hv) || !parse(w, wv))
    throw UserError(what + " must be " + (square ? "N or HxW" : "HxW") + " (e.g. 256x384), got '" + text + "'");
  if (hv < 1 || wv < 1) throw UserError(what + " must have positive sizes, got '" + text + "'");
  return {int(hv), int(wv)};
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
    else if (word == "--bench") {
      std::string list = take();
      for (size_t from = 0; from <= list.size();) {
        size_t comma = list.find(',', from);
        std::string one = list.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
        args.bench.push_back(size("--bench", one, false));
        if (comma == std::string::npos) break;
        from = comma + 1;
      }
    } else if (word == "--warmup") args.warmup = integer(word, take());
    else if (word == "--repeats") args.repeats = integer(word, take());
    else if (word == "--json") args.json = take();
    else if (word == "--device-name") args.device_name = take();
    else if (word == "--tile") args.tile = size("tile size", take(), true);
    else if (word == "--overlap") args.overlap = integer(word, take());
    else if (word == "--quiet") continue;
    else if (word == "--exposures") {
      std::vector<double> evs;
      for (int k = 0; k < 3; ++k) {
        if (i + 1 >= words.size()) throw UserError("argument --exposures: expected 3 arguments");
        evs.push_back(number(word, words[++i]));
      }
      args.exposures = evs;
    } else if (word == "--max-memory") {
      std::string mb = take();
      if (number(word, mb) != 0)
        throw UserError("--max-memory: the native runner tiles only where --tile asks; only --max-memory 0 "
                        "is accepted, or use `mgdn-edge fuse` (Python) for automatic tiling");
    } else
      throw UserError("unrecognized arguments: " + words[i]);
  }
  if (args.help || args.version) return args;
  if (args.task.empty()) throw UserError("the following arguments are required: --task");
  if (args.model.empty()) throw UserError("the following arguments are required: --model");
  if (args.inputs.empty() && args.bench.empty()) throw UserError("the following arguments are required: INPUT");
  if (args.runtime == "ov") args.runtime = "openvino";
  if (args.runtime == "trt") args.runtime = "tensorrt";
  if (args.runtime != "auto" && args.runtime != "openvino" && args.runtime != "tensorrt")
    throw UserError("--runtime " + args.runtime + ": the native runner runs openvino (ov) or tensorrt (trt)");
  if (!args.precision.empty() && args.precision != "fp32")
    throw UserError("--precision " + args.precision + ": the native runner runs a file at fp32 only");
  if (args.threads < 0) throw UserError("--threads must be >= 1, got " + std::to_string(args.threads));
  if (args.warmup < 0) throw UserError("--warmup must be >= 0 runs, got " + std::to_string(args.warmup));
  if (args.repeats < 1) throw UserError("--repeats must be >= 1 timed run, got " + std::to_string(args.repeats));
  return args;
}

}  // namespace mgdn_cli
