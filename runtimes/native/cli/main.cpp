// mgdn-fuse: fuse image files with an exported MGDN model through libmgdn_edge.so, with the
// same checks, outputs and `error:` lines (status 2) as `mgdn-edge fuse --runtime openvino`
// (or tensorrt); --tile blends overlapping tiles as `mgdn-edge fuse --tile` does, --bench times
// the network at given sizes and --json writes a run record the PC judges (`mgdn-edge report --device`).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "args.hpp"
#include "batch.hpp"
#include "common.hpp"
#include "mgdn_edge.hpp"
#include "outputs.hpp"
#include "run_record.hpp"
#include "tasks.hpp"
#include "tiling.hpp"

namespace {

using Clock = std::chrono::steady_clock;
const int kDefaultOverlap = 32;  // tiling.DEFAULT_OVERLAP

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// --extension, else $MGDN_OPENVINO_EXTENSION; a folder means the library inside it.
std::string extension_path(const std::string& given, std::string& source) {
  const char* env = std::getenv("MGDN_OPENVINO_EXTENSION");
  std::string chosen = !given.empty() ? given : env ? env : "";
  source = !given.empty() ? "--extension option" : "$MGDN_OPENVINO_EXTENSION";
  if (chosen.empty()) return "";
  if (mgdn_cli::is_dir(chosen)) chosen += (chosen.back() == '/' ? "" : "/") + std::string("libmgdn_openvino.so");
  if (!mgdn_cli::is_file(chosen))
    throw mgdn_cli::UserError("OpenVINO extension not found: " + chosen + " (from the " + source +
                              "); build it with `mgdn-edge build-plugins --openvino`");
  return chosen;
}

void check_task(const std::string& model_task, const mgdn_cli::Args& args) {
  bool compatible = model_task.empty() || model_task == args.task ||
                    (model_task == "mff" && args.task == "mef") || (model_task == "mef" && args.task == "mff");
  if (compatible) return;
  std::string upper = model_task;
  for (char& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  throw mgdn_cli::UserError(args.model + " is a " + upper + " model, not usable for task '" + args.task + "'");
}

// One network call on NCHW tensors (a whole image or one tile).
std::vector<float> fuse_once(mgdn::Model& model, const std::vector<mgdn_cli::Tensor>& tensors,
                             std::vector<long long>& shape) {
  std::vector<mgdn_tensor> inputs;
  for (const auto& t : tensors) inputs.push_back({t.data.data(), t.n, t.c, t.h, t.w});
  std::vector<float> out;
  std::vector<int64_t> got = model.fuse(inputs, out);
  shape.assign(got.begin(), got.end());
  return out;
}

// fuse_cli._runner for an explicit --tile: whole, or tiles blended as tiling.run_tiled does.
std::vector<float> fuse_prepared(mgdn::Model& model, const mgdn_cli::Args& args, const mgdn_cli::Prepared& prepared,
                                 std::vector<long long>& shape, int& overlap) {
  using namespace mgdn_cli;
  const Tensor& first = prepared.inputs[0];
  if (!args.tile) return fuse_once(model, prepared.inputs, shape);
  auto [tile_h, tile_w] = *args.tile;
  overlap = args.overlap ? *args.overlap : std::min(kDefaultOverlap, std::max(0, (std::min(tile_h, tile_w) - 2) / 3));
  bool whole = false;
  TileGrid grid = plan_tiles(int(first.h), int(first.w), tile_h, tile_w, overlap, whole);
  if (whole) return fuse_once(model, prepared.inputs, shape);
  std::fprintf(stderr,
               "tiling: %zux%zu tiles of %dx%d (HxW), overlap %d px (--tile); MGCA attention is global, so tiles "
               "differ slightly from a whole-image run\n",
               grid.ys().size(), grid.xs().size(), std::min(tile_h, grid.height), std::min(tile_w, grid.width),
               overlap);
  auto run = [&](const std::vector<Tensor>& tiles, std::vector<long long>& got) { return fuse_once(model, tiles, got); };
  return run_tiled(run, prepared.inputs, grid, shape);
}

// --json must name a file of its own: not an output of this run, nor a file it reads.
void refuse_json_clash(const mgdn_cli::Args& args, const std::vector<std::string>& outputs,
                       std::vector<std::string> inputs) {
  if (args.json.empty() || args.json == "-") return;
  std::error_code ec;
  auto same = [&](const std::string& other) {
    auto full = [&](const std::string& p) {
      return std::filesystem::weakly_canonical(std::filesystem::absolute(p, ec), ec);
    };
    return full(args.json) == full(other);
  };
  for (const auto& path : outputs)
    if (same(path)) throw mgdn_cli::UserError("--json " + args.json + " and an output both name " + path);
  inputs.push_back(args.model);
  for (const auto& path : inputs)
    if (same(path)) throw mgdn_cli::UserError("--json " + args.json + " would overwrite the input " + path);
}

// --runtime auto: TensorRT for an engine file, as `mgdn-edge fuse` picks by suffix; the library
// flag of the other runtime is refused rather than ignored.
std::string runtime_for(const mgdn_cli::Args& args) {
  auto ends_with = [&](const char* tail) {
    std::string t = tail;
    return args.model.size() >= t.size() && args.model.compare(args.model.size() - t.size(), t.size(), t) == 0;
  };
  std::string runtime = args.runtime;
  if (runtime == "auto") runtime = ends_with(".engine") || ends_with(".plan") ? "tensorrt" : "openvino";
  if (runtime == "tensorrt" && !args.extension.empty())
    throw mgdn_cli::UserError("--extension is OpenVINO's; the TensorRT plugin library is given with --plugin");
  if (runtime == "openvino" && !args.plugin.empty())
    throw mgdn_cli::UserError("--plugin is TensorRT's (--runtime tensorrt); OpenVINO's extension is --extension");
  return runtime;
}

// --plugin; a folder means libmgdn_trt.so inside it. "" : the one the engine's sidecar names.
std::string plugin_path(const mgdn_cli::Args& args) {
  std::string chosen = args.plugin;
  if (!chosen.empty() && mgdn_cli::is_dir(chosen)) chosen += (chosen.back() == '/' ? "" : "/") + std::string("libmgdn_trt.so");
  return chosen;
}

// fuse_cli.run's folder branch: every item of one folder, with one opened model.
int run_folder(const mgdn_cli::Args& args) {
  using namespace mgdn_cli;
  if (!args.raw.empty() || args.exposures || args.out.empty())
    throw UserError(
        "a folder input takes --out FOLDER only (one output per item; HDR exposures come from each scene's "
        "exposure.txt)");
  if (!args.json.empty() || !args.bench.empty())
    throw UserError("--json and --bench record one run; give them without a folder input");
  std::string source, runtime = runtime_for(args);
  std::string library = runtime == "tensorrt" ? plugin_path(args) : extension_path(args.extension, source);
  mgdn::Model model(args.model, library, args.threads, args.device, runtime);
  check_task(model.task(), args);
  auto run = [&](const Prepared& prepared) {
    std::vector<long long> shape;
    int overlap = 0;
    std::vector<float> out = fuse_prepared(model, args, prepared, shape, overlap);
    return to_hwc(out.data(), shape[1], shape[2], shape[3]);
  };
  return fuse_folder(args.task, args.inputs[0], args.out, run);
}

int run(const mgdn_cli::Args& args) {
  using namespace mgdn_cli;
  if (args.out.empty() && args.raw.empty() && args.bench.empty())
    throw UserError("nothing to write: give -o OUT (--out, the image) and/or --raw OUT.npy");
  if (is_batch_folder(args.task, args.inputs)) return run_folder(args);
  if (args.inputs.empty() && !(args.out.empty() && args.raw.empty()))
    throw UserError("the following arguments are required: INPUT (the files --out/--raw fuse)");
  RunRecord record;
  std::optional<OutputPlan> plan;
  std::optional<Prepared> prepared;
  if (!args.inputs.empty() && !(args.out.empty() && args.raw.empty())) {
    std::vector<std::string> sources = args.inputs;
    sources.push_back(args.model);
    plan = plan_outputs(args.task, args.out, args.raw, sources);
    prepared = prepare_inputs(args.task, args.inputs, args.exposures);
    refuse_overwriting_inputs(*plan, prepared->sources);
  }
  refuse_json_clash(args, plan ? plan->paths() : std::vector<std::string>{}, prepared ? prepared->sources : args.inputs);
  std::string runtime = runtime_for(args);
  std::string source;
  std::string library = runtime == "tensorrt" ? plugin_path(args) : extension_path(args.extension, source);

  auto opened = Clock::now();
  mgdn::Model model(args.model, library, args.threads, args.device, runtime);
  record.open_ms = ms_since(opened);
  check_task(model.task(), args);
  record.bench = bench_sizes(model, args.bench, args.warmup, args.repeats);
  if (prepared) {
    std::vector<long long> shape;
    auto start = Clock::now();
    std::vector<float> out = fuse_prepared(model, args, *prepared, shape, record.overlap);
    record.fuse_ms = ms_since(start);
    Image output = to_hwc(out.data(), shape[1], shape[2], shape[3]);
    Image image = args.out.empty() ? Image{} : postprocess(*prepared, output);
    std::vector<std::string> written = write_fused(*plan, *prepared, output, image);
    std::string shown;
    for (const auto& p : written) shown += (shown.empty() ? "" : " + ") + p;
    std::printf("wrote %s (%lldx%lld, runtime %s)\n", shown.c_str(), shape[3], shape[2], runtime.c_str());
    record.inputs = prepared->sources;
    record.exposures = prepared->exposures;
    record.tile = args.tile;
    record.raw = plan->raw;
  }
  if (args.json.empty() && args.bench.empty()) return 0;
  record.task = args.task;
  record.runtime = runtime;
  record.model = args.model;
  record.backend_device = args.device;
  record.device = args.device_name.empty() ? default_device_name() : args.device_name;
  record.runner_version = mgdn_version();
  std::string json = record_json(record, args.json.empty() ? "-" : args.json);
  write_text_atomic(args.json.empty() ? "-" : args.json, json);
  if (!args.json.empty() && args.json != "-") std::printf("wrote %s (run record)\n", args.json.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    mgdn_cli::Args args = mgdn_cli::parse_args(argc, argv);
    if (args.help) {
      std::fputs(mgdn_cli::kUsage, stdout);
      return 0;
    }
    if (args.version) {
      std::printf("mgdn-fuse %s\n", mgdn_version());
      return 0;
    }
    return run(args);
  } catch (const mgdn_cli::UserError& exc) {
    std::fprintf(stderr, "error: %s\n", exc.what());
    return 2;
  } catch (const mgdn::Failure& exc) {
    std::fprintf(stderr, "error: %s\n", exc.what());
    return exc.status() == MGDN_E_INTERNAL || exc.status() == MGDN_E_OUT_OF_MEMORY ? 1 : 2;
  } catch (const std::exception& exc) {
    std::fprintf(stderr, "error: internal error: %s\n", exc.what());
    return 1;
  }
}
