// ModelProto field 14 is `repeated StringStringEntryProto metadata_props` (key = 1, value = 2),
// field 7 its GraphProto, whose field 1 is `repeated NodeProto node` (op_type = 4, domain = 7);
// every other field is skipped by its wire type.
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

// Calls fn(begin, end) for the payload of every length-delimited field `number` in [begin, end).
template <typename Fn>
void each_field(const std::string& bytes, size_t begin, size_t end, uint64_t number, Fn fn) {
  Reader reader{bytes, begin, end};
  while (!reader.done()) {
    uint64_t tag = reader.varint();
    if ((tag >> 3) == number && (tag & 7) == 2) {
      auto payload = reader.span();
      fn(payload.first, payload.second);
    } else {
      reader.skip(uint32_t(tag & 7));
    }
  }
}

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error(MGDN_E_FILE, "cannot read " + path);
  std::stringstream buffer;
  buffer << file.rdbuf();
  return buffer.str();
}

Error not_onnx(const std::string& path) {
  return Error(MGDN_E_FILE, path + " is not a readable ONNX model (truncated or another format)");
}

}  // namespace

std::map<std::string, std::string> onnx_metadata(const std::string& path) {
  const std::string bytes = read_file(path);
  std::map<std::string, std::string> found;
  try {
    each_field(bytes, 0, bytes.size(), 14, [&](size_t begin, size_t end) { found.insert(entry(bytes, begin, end)); });
  } catch (const std::out_of_range&) {
    throw not_onnx(path);
  }
  return found;
}

bool onnx_has_node(const std::string& path, const std::string& domain, const std::string& op_type) {
  const std::string bytes = read_file(path);
  bool found = false;
  try {
    each_field(bytes, 0, bytes.size(), 7, [&](size_t graph_begin, size_t graph_end) {
      each_field(bytes, graph_begin, graph_end, 1, [&](size_t begin, size_t end) {
        std::string op, dom;
        Reader reader{bytes, begin, end};
        while (!reader.done()) {
          uint64_t tag = reader.varint();
          uint64_t number = tag >> 3;
          if ((tag & 7) == 2 && (number == 4 || number == 7)) {
            auto text = reader.span();
            (number == 4 ? op : dom) = bytes.substr(text.first, text.second - text.first);
          } else {
            reader.skip(uint32_t(tag & 7));
          }
        }
        found = found || (op == op_type && dom == domain);
      });
    });
  } catch (const std::out_of_range&) {
    throw not_onnx(path);
  }
  return found;
}

}  // namespace mgdn
