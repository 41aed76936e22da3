// Port of mgdn_edge/cli/fuse_batch.py with the folder checks of calibration/pairs.py and
// calibration/hdr_scenes.py, in the same words (paths shown as pathlib shows them).
#include "batch.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>

#include "mgdn_edge.hpp"
#include "outputs.hpp"

namespace mgdn_cli {
namespace {

using Clock = std::chrono::steady_clock;
const std::set<std::string> kImageSuffixes = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"};
const char* kLayout = "one folder per scene with three LDR .tif brackets, exposure.txt and optional HDRImg.hdr";

// Path(text) as pathlib prints it: no trailing slash, no "./" components.
std::string normalised(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  while (path.rfind("./", 0) == 0 && path.size() > 2) path = path.substr(2);
  return path;
}

std::string join(const std::string& folder, const std::string& name) {
  return folder == "." ? name : folder + (folder.back() == '/' ? "" : "/") + name;
}

// Entries of a folder, sorted by name (pathlib's sorted(iterdir()) for one folder).
std::vector<std::string> entries(const std::string& folder) {
  std::vector<std::string> names;
  if (DIR* dir = opendir(folder.c_str())) {
    while (dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(dir);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string lower(std::string text) {
  for (char& ch : text) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return text;
}

// errors.listing: at most five names, with a count of the rest.
std::string listing(const std::vector<std::string>& items, size_t most = 5) {
  std::string shown;
  for (size_t i = 0; i < items.size() && i < most; ++i) shown += (i ? ", " : "") + items[i];
  if (items.size() > most) shown += " (+" + std::to_string(items.size() - most) + " more)";
  return shown;
}

// pairs._find_folder: the one sub-folder named (case-insensitively) one of `names`, or "".
std::string find_folder(const std::string& root, const std::vector<std::string>& names, bool required) {
  std::vector<std::string> found;
  for (const auto& name : entries(root))
    if (is_dir(join(root, name)) && std::count(names.begin(), names.end(), lower(name))) found.push_back(join(root, name));
  if (found.size() > 1)
    throw UserError(root + " holds " + std::to_string(found.size()) + " candidate folders for one input: " +
                    listing(found));
  if (found.empty() && required) {
    std::string wanted;
    for (size_t i = 0; i < names.size(); ++i) wanted += (i ? " or " : "") + names[i] + "/";
    throw UserError(root + " has no " + wanted + " folder (pairs are matched by file name across folders)");
  }
  return found.empty() ? "" : found[0];
}

// pairs.files_by_stem: image files by stem; two with one stem are an error.
std::map<std::string, std::string> files_by_stem(const std::string& folder, bool depth) {
  std::map<std::string, std::string> files;
  for (const auto& name : entries(folder)) {
    std::string path = join(folder, name), suffix = suffix_lower(name);
    if (!is_file(path) || name[0] == '.' || !(kImageSuffixes.count(suffix) || (depth && suffix == ".npy"))) continue;
    std::string stem = name.substr(0, name.size() - suffix.size());
    auto seen = files.find(stem);
    if (seen != files.end())
      throw UserError(folder + " holds two files named '" + stem + "': " + file_name(seen->second) + ", " + name);
    files[stem] = path;
  }
  return files;
}

std::vector<BatchItem> pair_items(const std::string& task, const std::string& root) {
  std::vector<std::vector<std::string>> names = {{"a"}, {"b"}};
  if (task == "mef") names = {{"a", "under"}, {"b", "over"}};
  if (task == "gdsr") names = {{"rgb"}, {"depth"}};
  std::vector<std::string> dirs = {find_folder(root, names[0], true), find_folder(root, names[1], true)};
  std::string gt = find_folder(root, {"gt"}, false);
  std::vector<std::map<std::string, std::string>> tables = {files_by_stem(dirs[0], false),
                                                            files_by_stem(dirs[1], task == "gdsr")};
  if (!gt.empty()) {
    dirs.push_back(gt);
    tables.push_back(files_by_stem(gt, task == "gdsr"));
  }
  for (size_t i = 0; i < dirs.size(); ++i)
    if (tables[i].empty()) throw UserError("folder " + dirs[i] + " is empty: no image files");
  std::set<std::string> stems;
  for (const auto& [stem, path] : tables[0])
    if (std::all_of(tables.begin() + 1, tables.end(), [&](const auto& t) { return t.count(stem) > 0; }))
      stems.insert(stem);
  std::vector<std::string> problems;
  for (size_t i = 0; i < dirs.size(); ++i) {
    std::vector<std::string> alone;
    for (const auto& [stem, path] : tables[i])
      if (!stems.count(stem)) alone.push_back(path);
    if (alone.empty()) continue;
    std::string others;
    for (size_t j = 0; j < dirs.size(); ++j)
      if (j != i) others += (others.empty() ? "" : ", ") + file_name(dirs[j]) + "/";
    problems.push_back(listing(alone) + " (no file of that name in " + others + ")");
  }
  if (!problems.empty()) {
    std::string text;
    for (const auto& p : problems) text += (text.empty() ? "" : "; ") + p;
    throw UserError("unmatched pair names in " + root + ": " + text);
  }
  std::vector<BatchItem> items;
  for (const auto& stem : stems) items.push_back({stem, {tables[0][stem], tables[1][stem]}});
  return items;
}

std::vector<BatchItem> scene_items(const std::string& root) {
  std::vector<BatchItem> items;
  for (const auto& name : entries(root))
    if (name[0] != '.' && is_dir(join(root, name))) items.push_back({name, {join(root, name)}});
  if (items.empty())
    throw UserError("HDR data folder " + root + " holds no scene folders (Kalantari layout: " + kLayout + ")");
  std::vector<double> evs;
  for (const auto& item : items) kalantari_scene(item.paths[0], evs);  // checks brackets and exposure.txt
  return items;
}

bool all_exist(const std::vector<std::string>& paths) {
  return std::all_of(paths.begin(), paths.end(), [](const std::string& p) { return is_file(p); });
}

}  // namespace

bool is_batch_folder(const std::string& task, const std::vector<std::string>& inputs) {
  if (inputs.size() != 1 || !is_dir(inputs[0])) return false;
  return task != "hdr" || !is_file(join(inputs[0], "exposure.txt"));
}

std::vector<BatchItem> batch_items(const std::string& task, const std::string& root) {
  return task == "hdr" ? scene_items(normalised(root)) : pair_items(task, normalised(root));
}

int fuse_folder(const std::string& task, const std::string& root, const std::string& out_dir, const ItemRunner& run) {
  std::string out = normalised(out_dir);
  if (access(out.c_str(), F_OK) == 0 && !is_dir(out))
    throw UserError("--out " + out + " is a file: a folder input writes one output per item into a folder");
  std::vector<BatchItem> items = batch_items(task, root);
  const std::string suffix = task == "hdr" ? ".hdr" : ".png";
  size_t written = 0, skipped = 0;
  std::vector<std::pair<std::string, std::string>> failed;
  double network_s = 0;
  auto start = Clock::now();
  for (const auto& item : items) {
    try {
      std::vector<std::string> sources = item.paths;
      sources.push_back(normalised(root));
      OutputPlan plan = plan_outputs(task, join(out, item.name + suffix), "", sources);
      if (all_exist(plan.paths())) {
        ++skipped;
        continue;
      }
      Prepared prepared = prepare_inputs(task, item.paths, std::nullopt);
      auto t0 = Clock::now();
      Image output = run(prepared);
      network_s += std::chrono::duration<double>(Clock::now() - t0).count();
      write_fused(plan, prepared, output, postprocess(prepared, output));
      ++written;
    } catch (const UserError& exc) {
      failed.emplace_back(item.name, exc.what());
    } catch (const mgdn::Failure& exc) {
      if (exc.status() == MGDN_E_INTERNAL || exc.status() == MGDN_E_OUT_OF_MEMORY) throw;
      failed.emplace_back(item.name, exc.what());
    }
  }
  double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%zu fused, %zu already there, %zu failed\n", written, skipped, failed.size());
  if (written)
    std::printf("throughput %.2f items/s: %.0f ms/item wall, %.0f ms/item in the network\n", double(written) / wall_s,
                1000 * wall_s / double(written), 1000 * network_s / double(written));
  for (const auto& [item, reason] : failed) std::printf("failed: %s: %s\n", item.c_str(), reason.c_str());
  return failed.empty() ? 0 : 2;
}

}  // namespace mgdn_cli
