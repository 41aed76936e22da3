// The run record mgdn-fuse writes with --json: what ran where (device, backend, precision), how
// fast (--bench latencies) and on which files (inputs, model and --raw output with their sha256),
// so the PC can judge a device's raw output against PyTorch (`mgdn-edge report --device`).
// Schema "mgdn-edge.device-run/1"; the fields are documented in docs/jetson.md.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mgdn_edge.hpp"

namespace mgdn_cli {

struct BenchRow {
  int h = 0, w = 0;
  double first_ms = 0;  // the first call at this size (the backend's reshape/compile included)
  int warmup = 0, repeats = 0;
  std::vector<double> times_ms;
  double peak_rss_mb = 0;  // the process's peak resident memory so far (getrusage)
};

struct RunRecord {
  std::string task, runtime = "openvino", backend_device, precision = "fp32", device, runner_version;
  std::string model;
  std::vector<std::string> inputs;  // the files read (a scene folder's brackets, exposure.txt)
  std::optional<std::vector<double>> exposures;
  std::optional<std::pair<int, int>> tile;
  int overlap = 0;
  std::string raw;  // "" : no --raw
  double open_ms = 0, fuse_ms = -1;  // fuse_ms < 0: no files fused
  std::vector<BenchRow> bench;
};

// Time the network at each size on seeded smooth inputs of the model's channel counts.
std::vector<BenchRow> bench_sizes(mgdn::Model& model, const std::vector<std::pair<int, int>>& sizes, int warmup,
                                  int repeats);
// The device's name: /proc/device-tree/model (Jetson, Raspberry Pi), else the CPU's model name,
// else the host name.
std::string default_device_name();
// The record as JSON; paths (model, inputs, raw) are written relative to `json_path`'s folder
// where they lie under it, and every file is hashed.
std::string record_json(const RunRecord& record, const std::string& json_path);
// Write `text` to `path` atomically (a temporary beside it, then rename); "-" prints it.
void write_text_atomic(const std::string& path, const std::string& text);

}  // namespace mgdn_cli
