// What the runner's parts share: the user-error type (printed as one `error:` line, status 2),
// float32 HxWxC images and small path helpers that follow Python's pathlib where messages use them.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace mgdn_cli {

// Input a user can fix: the runner prints "error: <message>" and exits with status 2.
class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

// float32 HxWxC, channels in RGB order (as mgdn_edge.core.imageio returns them).
struct Image {
  int h = 0, w = 0, c = 0;
  std::vector<float> data;
  float* at(int y, int x) { return data.data() + (size_t(y) * w + x) * c; }
  const float* at(int y, int x) const { return data.data() + (size_t(y) * w + x) * c; }
};

std::string suffix_lower(const std::string& path);  // ".png" (pathlib's suffix, lower-cased)
std::string file_name(const std::string& path);     // pathlib's name
std::string with_suffix(const std::string& path, const std::string& suffix);
std::string parent_dir(const std::string& path);    // "." for a bare name
bool is_file(const std::string& path);
bool is_dir(const std::string& path);
std::string format(const char* fmt, double value);  // printf of one number ("%.3g")
std::string py_float(double value);                 // Python's repr of a float: 2.0, -0.5, 1e-05

}  // namespace mgdn_cli
