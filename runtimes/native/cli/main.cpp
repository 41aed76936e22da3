// mgdn-fuse: fuse image files with an exported MGDN model through libmgdn_edge.so, with the
// same checks, outputs and `error:` lines (status 2) as `mgdn-edge fuse --runtime openvino`
// (or tensorrt).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "args.hpp"
#include "common.hpp"
#include "mgdn_edge.hpp"
#include "outputs.hpp"
#include "tasks.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// numpy's default (linear) percentile of sorted values.
double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  double at = q / 100.0 * double(values.size() - 1);
  size_t below = size_t(std::floor(at));
  size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (values[above] - values[below]) * (at - double(below));
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

int run(const mgdn_cli::Args& args) {
  using namespace mgdn_cli;
  if (args.out.empty() && args.raw.empty() && args.bench == 0)
    throw UserError("nothing to write: give -o OUT (--out, the image) and/or --raw OUT.npy");
  std::vector<std::string> sources = args.inputs;
  sources.push_back(args.model);
  OutputPlan plan = plan_outputs(args.task, args.out, args.raw, sources);
  Prepared prepared = prepare_inputs(args.task, args.inputs, args.exposures);
  refuse_overwriting_inputs(plan, prepared.sources);
  std::string runtime = runtime_for(args);
  std::string source;
  std::string library = runtime == "tensorrt" ? plugin_path(args) : extension_path(args.extension, source);

  auto opened = Clock::now();
  mgdn::Model model(args.model, library, args.threads, args.device, runtime);
  double open_ms = ms_since(opened);
  std::string model_task = model.task();
  bool compatible = model_task.empty() || model_task == args.task ||
                    (model_task == "mff" && args.task == "mef") || (model_task == "mef" && args.task == "mff");
  if (!compatible) {
    std::string upper = model_task;
    for (char& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    throw UserError(args.model + " is a " + upper + " model, not usable for task '" + args.task + "'");
  }
  std::vector<mgdn_tensor> inputs;
  for (const auto& t : prepared.inputs) inputs.push_back({t.data.data(), t.n, t.c, t.h, t.w});
  std::vector<float> out;
  auto first = Clock::now();
  std::vector<int64_t> shape = model.fuse(inputs, out);
  double first_ms = ms_since(first);
  if (args.bench > 0) {
    std::vector<double> times;
    for (int i = 0; i < args.bench; ++i) {
      auto start = Clock::now();
      model.fuse(inputs, out);
      times.push_back(ms_since(start));
    }
    std::printf(
        "{\"runtime\": \"%s\", \"size\": \"%lldx%lld\", \"open_ms\": %.3f, \"first_ms\": %.3f, "
        "\"runs\": %d, \"p50_ms\": %.3f, \"p90_ms\": %.3f}\n",
        runtime.c_str(), (long long)shape[2], (long long)shape[3], open_ms, first_ms, args.bench, percentile(times, 50),
        percentile(times, 90));
  }
  if (plan.paths().empty()) return 0;
  Image output = to_hwc(out.data(), shape[1], shape[2], shape[3]);
  Image image = args.out.empty() ? Image{} : postprocess(prepared, output);
  std::vector<std::string> written = write_fused(plan, prepared, output, image);
  std::string shown;
  for (const auto& p : written) shown += (shown.empty() ? "" : " + ") + p;
  std::printf("wrote %s (%lldx%lld, runtime %s)\n", shown.c_str(), (long long)shape[3], (long long)shape[2],
              runtime.c_str());
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
