// The few fields the runner reads from the exporter's config JSON and the TensorRT engine sidecar
// (objects written by json.dumps), found by key without a JSON library: keys are unique in both.
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

bool json_has_field(const std::string& json, const std::string& key) {
  return value_start(json, key) != std::string::npos;
}

bool json_is_null(const std::string& json, const std::string& key) {
  size_t at = value_start(json, key);
  return at != std::string::npos && json.compare(at, 4, "null") == 0;
}

std::string json_object_field(const std::string& json, const std::string& key) {
  size_t at = value_start(json, key);
  if (at == std::string::npos || json[at] != '{') return "";
  int depth = 0;
  bool quoted = false;
  for (size_t i = at; i < json.size(); ++i) {
    char ch = json[i];
    if (quoted) {
      if (ch == '\\') ++i;
      else if (ch == '"') quoted = false;
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == '{') {
      ++depth;
    } else if (ch == '}' && --depth == 0) {
      return json.substr(at, i - at + 1);
    }
  }
  return "";
}

std::vector<std::string> json_list_items(const std::string& json, const std::string& key) {
  std::vector<std::string> items;
  size_t at = value_start(json, key);
  if (at == std::string::npos || json[at] != '[') return items;
  size_t end = json.find(']', at);
  if (end == std::string::npos) return items;
  std::string body = json.substr(at + 1, end - at - 1);
  size_t from = 0;
  while (from < body.size()) {
    size_t comma = body.find(',', from);
    std::string item = body.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    size_t first = item.find_first_not_of(" \t\r\n");
    size_t last = item.find_last_not_of(" \t\r\n");
    if (first != std::string::npos) {
      item = item.substr(first, last - first + 1);
      if (item.size() >= 2 && item.front() == '"' && item.back() == '"') item = item.substr(1, item.size() - 2);
      items.push_back(item);
    }
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  return items;
}

}  // namespace mgdn
