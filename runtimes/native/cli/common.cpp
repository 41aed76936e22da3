// Path and number formatting helpers that follow pathlib and Python's float repr, so messages
// read the same as the Python CLI's.
#include "common.hpp"

#include <sys/stat.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace mgdn_cli {

std::string file_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string suffix_lower(const std::string& path) {
  std::string name = file_name(path);
  size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == name.size()) return "";
  std::string suffix = name.substr(dot);
  for (char& ch : suffix) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return suffix;
}

std::string with_suffix(const std::string& path, const std::string& suffix) {
  std::string name = file_name(path);
  size_t dot = name.rfind('.');
  bool has = dot != std::string::npos && dot != 0 && dot + 1 != name.size();
  std::string stem = has ? name.substr(0, dot) : name;
  std::string dir = path.substr(0, path.size() - name.size());
  return dir + stem + suffix;
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool is_file(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_dir(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string format(const char* fmt, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), fmt, value);
  return buffer;
}

std::string py_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string text;
  for (int digits = 1; digits <= 17; ++digits) {  // the shortest text that reads back the same
    text = format(("%." + std::to_string(digits) + "g").c_str(), value);
    if (std::strtod(text.c_str(), nullptr) == value) break;
  }
  size_t e = text.find('e');
  if (e != std::string::npos) {  // Python writes 1e-05 and 1e+16 with at least two exponent digits
    std::string mantissa = text.substr(0, e), exponent = text.substr(e + 1);
    char sign = exponent[0];
    std::string digits = exponent.substr(1);
    while (digits.size() > 2 && digits[0] == '0') digits.erase(0, 1);
    return mantissa + "e" + sign + digits;
  }
  if (text.find('.') == std::string::npos) text += ".0";
  return text;
}

}  // namespace mgdn_cli
