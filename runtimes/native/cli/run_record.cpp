// mgdn-fuse --bench and --json: latencies at synthetic sizes and the run record's JSON.
#include "run_record.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common.hpp"
#include "backend.hpp"
#include "sha256.hpp"

namespace mgdn_cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

// numpy's default (linear) percentile.
double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  double at = q / 100.0 * double(values.size() - 1);
  size_t below = size_t(std::floor(at));
  size_t above = std::min(below + 1, values.size() - 1);
  return values[below] + (values[above] - values[below]) * (at - double(below));
}

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (unsigned char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\', out += char(ch);
    else if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else if (ch < 0x20) {
      char code[8];
      std::snprintf(code, sizeof code, "\\u%04x", ch);
      out += code;
    } else
      out += char(ch);
  }
  return out + "\"";
}

std::string number(double value) {
  if (!std::isfinite(value)) return "null";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

// `path` relative to `folder` when it lies under it (both as given, no symlinks resolved).
std::string relative_to(const std::string& path, const std::string& folder) {
  if (folder.empty() || folder == ".") return path;
  std::string prefix = folder.back() == '/' ? folder : folder + "/";
  return path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : path;
}

std::string file_entry(const std::string& path, const std::string& folder) {
  std::string digest;
  try {
    digest = mgdn::sha256_file(path);
  } catch (const mgdn::Error& e) {
    throw UserError(e.what());
  }
  return "{\"path\": " + quoted(relative_to(path, folder)) + ", \"sha256\": " + quoted(digest) + "}";
}

std::string first_line(const std::string& path, const std::string& key = "") {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (key.empty()) return std::string(line.c_str());  // device-tree strings end in NUL
    if (line.rfind(key, 0) == 0) {
      size_t colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "";
}

std::string bench_json(const BenchRow& row) {
  std::ostringstream out;
  out << "{\"size\": [" << row.h << ", " << row.w << "], \"first_ms\": " << number(row.first_ms)
      << ", \"warmup\": " << row.warmup << ", \"repeats\": " << row.repeats << ", \"times_ms\": [";
  for (size_t i = 0; i < row.times_ms.size(); ++i) out << (i ? ", " : "") << number(row.times_ms[i]);
  out << "], \"p50_ms\": " << number(percentile(row.times_ms, 50))
      << ", \"p90_ms\": " << number(percentile(row.times_ms, 90)) << ", \"peak_rss_mb\": " << number(row.peak_rss_mb)
      << ", \"peak_device_mb\": null}";  // no backend reports device memory yet
  return out.str();
}

}  // namespace

std::vector<BenchRow> bench_sizes(mgdn::Model& model, const std::vector<std::pair<int, int>>& sizes, int warmup,
                                  int repeats) {
  std::vector<BenchRow> rows;
  std::vector<float> out;
  for (auto [h, w] : sizes) {
    std::vector<std::vector<float>> data;
    std::vector<mgdn_tensor> inputs;
    for (int i = 0; i < model.input_count(); ++i) {
      int c = model.input_channels(i);
      std::vector<float> x(size_t(c) * h * w);
      for (size_t k = 0; k < x.size(); ++k)  // smooth, in [0.1, 0.9]: latency does not depend on content
        x[k] = 0.5f + 0.4f * float(std::sin(0.05 * double(k % size_t(w)) + 0.07 * double(k / size_t(w)) + i));
      data.push_back(std::move(x));
      inputs.push_back({data.back().data(), 1, c, h, w});
    }
    BenchRow row{h, w, 0, warmup, repeats, {}, 0};
    auto first = Clock::now();
    model.fuse(inputs, out);
    row.first_ms = ms_since(first);
    for (int i = 0; i < warmup; ++i) model.fuse(inputs, out);
    for (int i = 0; i < repeats; ++i) {
      auto start = Clock::now();
      model.fuse(inputs, out);
      row.times_ms.push_back(ms_since(start));
    }
    row.peak_rss_mb = peak_rss_mb();
    rows.push_back(row);
  }
  return rows;
}

std::string default_device_name() {
  std::string name = first_line("/proc/device-tree/model");
  if (name.empty()) name = first_line("/proc/cpuinfo", "model name");
  if (name.empty()) {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) == 0) name = host;
  }
  return name.empty() ? "unknown device" : name;
}

std::string record_json(const RunRecord& r, const std::string& json_path) {
  std::string folder = json_path == "-" ? "" : parent_dir(json_path);
  std::ostringstream out;
  out << "{\"schema\": \"mgdn-edge.device-run/1\", \"runner\": " << quoted("mgdn-fuse " + r.runner_version)
      << ", \"device\": " << quoted(r.device) << ", \"runtime\": " << quoted(r.runtime)
      << ", \"backend_device\": " << quoted(r.backend_device) << ", \"precision\": " << quoted(r.precision)
      << ", \"task\": " << quoted(r.task) << ", \"model\": " << file_entry(r.model, folder) << ", \"inputs\": [";
  for (size_t i = 0; i < r.inputs.size(); ++i) out << (i ? ", " : "") << file_entry(r.inputs[i], folder);
  out << "], \"exposures\": ";
  if (r.exposures) {
    out << "[";
    for (size_t i = 0; i < r.exposures->size(); ++i) out << (i ? ", " : "") << py_float((*r.exposures)[i]);
    out << "]";
  } else
    out << "null";
  out << ", \"tile\": ";
  if (r.tile) out << "[" << r.tile->first << ", " << r.tile->second << "], \"overlap\": " << r.overlap;
  else out << "null, \"overlap\": null";
  out << ", \"raw\": " << (r.raw.empty() ? "null" : file_entry(r.raw, folder))
      << ", \"open_ms\": " << number(r.open_ms) << ", \"fuse_ms\": " << (r.fuse_ms < 0 ? "null" : number(r.fuse_ms))
      << ", \"bench\": [";
  for (size_t i = 0; i < r.bench.size(); ++i) out << (i ? ", " : "") << bench_json(r.bench[i]);
  out << "]}\n";
  return out.str();
}

void write_text_atomic(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::fputs(text.c_str(), stdout);
    return;
  }
  if (is_dir(path)) throw UserError("--json " + path + " is a folder; give a file name (e.g. run.json)");
  std::string temp = parent_dir(path) + "/.mgdn-tmp-" + std::to_string(getpid()) + "-" + file_name(path);
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  bool ok = f && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (f) ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    throw UserError("cannot write --json " + path + " (" + why + ")");
  }
}

}  // namespace mgdn_cli
