// numpy's .npy format (version 1.0), written the way np.save writes float32 arrays and read for
// depth maps of any plain numeric dtype.
#pragma once

#include <string>
#include <vector>

namespace mgdn_cli {

// Write C-ordered float32 `data` of `shape` to `path`; false when the file cannot be written.
bool write_npy(const std::string& path, const float* data, const std::vector<long long>& shape);

// A numeric .npy array as doubles (what np.asarray(x, dtype=np.float64) gives) with its shape;
// throws UserError naming the file for anything else.
std::vector<double> read_npy(const std::string& path, std::vector<long long>& shape);

}  // namespace mgdn_cli
