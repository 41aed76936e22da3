// mgdn-fuse on a folder of items (mgdn_edge/cli/fuse_batch.py): A/ + B/ pairs matched by name
// (under/ + over/ for MEF, rgb/ + depth/ for GDSR) or one Kalantari scene folder per HDR item,
// fused with one opened model into one output folder; finished items are skipped, failed ones
// named, and the same summary lines and exit status as `mgdn-edge fuse FOLDER --out FOLDER`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tasks.hpp"

namespace mgdn_cli {

struct BatchItem {
  std::string name;
  std::vector<std::string> paths;  // what fuse takes for it (a pair, or a scene folder)
};

// fuse_batch.is_batch_folder: one folder holding items (not a single HDR scene).
bool is_batch_folder(const std::string& task, const std::vector<std::string>& inputs);
// fuse_batch.batch_items: the layout checked as PairSource / KalantariSource check it.
std::vector<BatchItem> batch_items(const std::string& task, const std::string& root);

// Prepared inputs -> HxWxC network output (whole or tiled: the caller's runner).
using ItemRunner = std::function<Image(const Prepared&)>;
// fuse_batch.fuse_folder + its summary lines on stdout; returns the exit status (2: an item failed).
int fuse_folder(const std::string& task, const std::string& root, const std::string& out_dir, const ItemRunner& run);

}  // namespace mgdn_cli
