// The few fields the runner reads from the exporter's config JSON (a flat object written by
// json.dumps), found by key without a JSON library.
#include <cstdlib>
#include <string>

#include "backend.hpp"

namespace mgdn {
namespace {

// Index just past `"key":` and any spaces, or npos.
size_t value_start(const std::string& json, const std::string& key) {
  std::string quoted = "\"" + key + "\"";
  size_t at = json.find(quoted);
  if (at == std::string::npos) return at;
  at = json.find_first_not_of(" \t\r\n", at + quoted.size());
  if (at == std::string::npos || json[at] != ':') return std::string::npos;
  return json.find_first_not_of(" \t\r\n", at + 1);
}

}  // namespace

std::string json_string_field(const std::string& json, const std::string& key) {
  size_t at = value_start(json, key);
  if (at == std::string::npos || json[at] != '"') return "";
  size_t end = json.find('"', at + 1);
  return end == std::string::npos ? "" : json.substr(at + 1, end - at - 1);
}

int64_t json_int_field(const std::string& json, const std::string& key) {
  size_t at = value_start(json, key);
  if (at == std::string::npos) return 0;
  return std::strtoll(json.c_str() + at, nullptr, 10);
}

}  // namespace mgdn
