// ModelProto field 14 is `repeated StringStringEntryProto metadata_props` (key = 1, value = 2);
// every other top-level field is skipped by its wire type.
#include "onnx_metadata.hpp"

#include <cstdint>
#include <fstream>
#include <sstream>

#include "backend.hpp"

namespace mgdn {
namespace {

struct Reader {
  const std::string& bytes;
  size_t at = 0, end = 0;

  bool done() const { return at >= end; }

  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at >= end) throw std::out_of_range("varint");
      auto byte = static_cast<unsigned char>(bytes[at++]);
      value |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return value;
    }
    throw std::out_of_range("varint");
  }

  // The [begin, end) of a length-delimited field's payload, stepping over it.
  std::pair<size_t, size_t> span() {
    uint64_t length = varint();
    if (length > end - at) throw std::out_of_range("length");
    size_t begin = at;
    at += size_t(length);
    return {begin, at};
  }

  void skip(uint32_t wire) {
    if (wire == 0) varint();
    else if (wire == 1) at += 8;
    else if (wire == 2) span();
    else if (wire == 5) at += 4;
    else throw std::out_of_range("wire type");
    if (at > end) throw std::out_of_range("field");
  }
};

std::pair<std::string, std::string> entry(const std::string& bytes, size_t begin, size_t end) {
  Reader reader{bytes, begin, end};
  std::string key, value;
  while (!reader.done()) {
    uint64_t tag = reader.varint();
    if ((tag & 7) == 2 && ((tag >> 3) == 1 || (tag >> 3) == 2)) {
      auto payload = reader.span();
      std::string text = bytes.substr(payload.first, payload.second - payload.first);
      ((tag >> 3) == 1 ? key : value) = text;
    } else {
      reader.skip(uint32_t(tag & 7));
    }
  }
  return {key, value};
}

}  // namespace

std::map<std::string, std::string> onnx_metadata(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(MGDN_E_FILE, "cannot read " + path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  const std::string bytes = buffer.str();
  std::map<std::string, std::string> found;
  try {
    Reader reader{bytes, 0, bytes.size()};
    while (!reader.done()) {
      uint64_t tag = reader.varint();
      if ((tag >> 3) == 14 && (tag & 7) == 2) {
        auto payload = reader.span();
        found.insert(entry(bytes, payload.first, payload.second));
      } else {
        reader.skip(uint32_t(tag & 7));
      }
    }
  } catch (const std::out_of_range&) {
    throw Error(MGDN_E_FILE, path + " is not a readable ONNX model (truncated or another format)");
  }
  return found;
}

}  // namespace mgdn
