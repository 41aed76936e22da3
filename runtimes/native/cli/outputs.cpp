// Port of tasks.plan_outputs / write_fused / save_output with the Python CLI's messages.
#include "outputs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <opencv2/imgcodecs.hpp>
#include <set>

#include "image_io.hpp"
#include "npy.hpp"

namespace mgdn_cli {
namespace {

const std::set<std::string> kImageSuffixes = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".npy",
                                              ".hdr", ".pic", ".exr"};
const std::set<std::string> kToneSuffixes = {".png", ".jpg", ".jpeg", ".tif", ".tiff"};

std::string listing(const std::set<std::string>& items) {
  std::string text;
  for (const auto& s : items) text += (text.empty() ? "" : ", ") + s;
  return text;
}

// (linear radiance file, tonemapped file) of an HDR --out: the other gets the same stem.
std::vector<std::string> hdr_output_paths(const std::string& path) {
  std::string suffix = suffix_lower(path);
  if (is_hdr_suffix(suffix) || suffix == ".npy") return {path, with_suffix(path, ".png")};
  if (kToneSuffixes.count(suffix)) return {with_suffix(path, ".hdr"), path};
  std::set<std::string> known = kToneSuffixes;
  known.insert({".hdr", ".pic", ".exr", ".npy"});
  throw UserError("HDR output " + path + " needs one of the suffixes " + listing(known) + " (e.g. out.hdr)");
}

// Absolute, with symlinks and .. resolved as far as the path exists (pathlib's resolve()).
std::string resolved(const std::string& path) {
  std::string head = path, tail;
  for (;;) {
    char buffer[PATH_MAX];
    if (realpath(head.empty() ? "." : head.c_str(), buffer)) return std::string(buffer) + tail;
    size_t slash = head.rfind('/');
    if (slash == std::string::npos) {
      tail = "/" + head + tail;
      head = ".";
    } else {
      tail = head.substr(slash) + tail;
      head = head.substr(0, slash);
    }
  }
}

void check_writable(const std::string& path, const std::string& flag) {
  if (is_dir(path)) throw UserError(flag + " " + path + " is a folder; give a file name (e.g. " + path + "/fused.png)");
  std::string folder = parent_dir(path);
  struct stat st {};
  while (stat(folder.c_str(), &st) != 0) folder = parent_dir(folder);
  if (!S_ISDIR(st.st_mode)) throw UserError(flag + " " + path + ": " + folder + " is a file, not a folder");
  if (access(folder.c_str(), W_OK | X_OK) != 0)
    throw UserError(flag + " " + path + ": the folder " + folder + " is not writable");
}

void make_parents(const std::string& path) {
  std::string folder = parent_dir(path);
  if (folder == "." || folder == "/" || is_dir(folder)) return;
  make_parents(folder);
  mkdir(folder.c_str(), 0777);
}

void save_output(const std::string& task, const std::string& path, const Image& image, const Prepared& prepared) {
  std::string suffix = suffix_lower(path);
  if (suffix == ".npy") {
    if (!write_npy(path, image.data.data(), {image.h, image.w, image.c}))
      throw UserError("cannot write " + path);
  } else if (task == "hdr" && !is_hdr_suffix(suffix)) {
    write_image(path, mu_law(image));
  } else if (task == "gdsr" && prepared.has_depth_range) {
    Image scaled = image;  // back to [0, 1] for an 8/16-bit file: (image - lo) / (hi - lo)
    float lo = float(prepared.lo), span = float(prepared.hi - prepared.lo);
    for (float& v : scaled.data) v = (v - lo) / span;
    write_image(path, scaled);
  } else {
    write_image(path, image);
  }
}

}  // namespace

std::vector<std::string> OutputPlan::paths() const {
  std::vector<std::string> all = images;
  if (!raw.empty()) all.push_back(raw);
  return all;
}

OutputPlan plan_outputs(const std::string& task, const std::string& out, const std::string& raw,
                        const std::vector<std::string>& inputs) {
  for (auto [flag, given] : {std::pair<std::string, std::string>{"--out", out}, {"--raw", raw}})
    if (!given.empty() && is_dir(given))
      throw UserError(flag + " " + given + " is a folder; give a file name (e.g. " + given + "/fused.png)");
  OutputPlan plan{task, {}, raw};
  if (!out.empty()) {
    if (task == "hdr") {
      plan.images = hdr_output_paths(out);
    } else {
      if (!kImageSuffixes.count(suffix_lower(out)))
        throw UserError("--out " + out + " needs one of the suffixes " + listing(kImageSuffixes) + " (e.g. fused.png)");
      plan.images = {out};
    }
  }
  if (!raw.empty() && suffix_lower(raw) != ".npy")
    throw UserError("--raw " + raw + " must end in .npy (it is a numpy array file)");
  std::set<std::string> seen;
  for (const auto& path : plan.paths()) {
    std::string flag = path == raw ? "--raw" : "--out";
    check_writable(path, flag);
    if (!seen.insert(resolved(path)).second)
      throw UserError("--out and --raw both name " + path + "; give them different files");
    std::string suffix = suffix_lower(path);
    if (suffix != ".npy" && !cv::haveImageWriter(path))
      throw UserError(flag + " " + path + ": this OpenCV cannot write " + suffix + " files" +
                      (suffix == ".exr" ? " (EXR needs OPENCV_IO_ENABLE_OPENEXR=1 and an OpenCV built with OpenEXR; "
                                          "or write .hdr)"
                                        : ""));
  }
  refuse_overwriting_inputs(plan, inputs);
  return plan;
}

void refuse_overwriting_inputs(const OutputPlan& plan, const std::vector<std::string>& inputs) {
  for (const auto& out : plan.paths()) {
    std::string flag = out == plan.raw ? "--raw" : "--out", dest = resolved(out);
    for (const auto& input : inputs) {
      std::string src = resolved(input);
      bool same = dest == src, holds = src.compare(0, dest.size() + 1, dest + "/") == 0;
      if (same || holds)
        throw UserError(flag + " " + out + " " + (same ? "is" : "holds") + " the input " + src +
                        " of this command; write the output elsewhere (inputs are never overwritten)");
    }
  }
}

std::vector<std::string> write_fused(const OutputPlan& plan, const Prepared& prepared, const Image& output,
                                     const Image& image) {
  std::vector<std::string> paths = plan.paths(), temps;
  try {
    for (const auto& path : paths) {
      make_parents(path);
      // keeps the suffix: OpenCV picks the encoder by it
      std::string temp = parent_dir(path) + "/.mgdn-tmp-" + std::to_string(getpid()) + "-" + file_name(path);
      temps.push_back(temp);
      if (path == plan.raw) {
        if (!write_npy(temp, output.data.data(), {output.h, output.w, output.c}))
          throw UserError("cannot write " + path);
      } else {
        save_output(plan.task, temp, image, prepared);
      }
    }
    for (size_t i = 0; i < paths.size(); ++i)
      if (std::rename(temps[i].c_str(), paths[i].c_str()) != 0)
        throw UserError("cannot write " + paths[i] + " (" + std::strerror(errno) + ")");
  } catch (...) {
    for (const auto& temp : temps) std::remove(temp.c_str());
    throw;
  }
  return paths;
}

}  // namespace mgdn_cli
