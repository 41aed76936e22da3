// Where one run writes (tasks.plan_outputs: checked before the network runs) and how: every
// file under a temporary name first, then all renamed, so all appear or none does.
#pragma once

#include <string>
#include <vector>

#include "tasks.hpp"

namespace mgdn_cli {

struct OutputPlan {
  std::string task;
  std::vector<std::string> images;  // HDR: radiance then tonemapped
  std::string raw;                  // "" : no --raw
  std::vector<std::string> paths() const;
};

OutputPlan plan_outputs(const std::string& task, const std::string& out, const std::string& raw,
                        const std::vector<std::string>& inputs);
// Refuse an output that is (or holds) one of the files read (a scene folder's brackets).
void refuse_overwriting_inputs(const OutputPlan& plan, const std::vector<std::string>& inputs);
// Write the raw network output (HxWxC) and the post-processed image; returns the paths written.
std::vector<std::string> write_fused(const OutputPlan& plan, const Prepared& prepared, const Image& output,
                                     const Image& image);

}  // namespace mgdn_cli
