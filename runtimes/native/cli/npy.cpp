// .npy files: the header is a Python dict literal padded with spaces so the data starts on a
// 64-byte boundary (numpy's ARRAY_ALIGN), exactly as np.save writes it.
#include "npy.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>

#include "common.hpp"
#include "image_headers.hpp"

namespace mgdn_cli {

bool write_npy(const std::string& path, const float* data, const std::vector<long long>& shape) {
  std::string dims;
  size_t count = 1;
  for (long long s : shape) {
    dims += std::to_string(s) + ", ";
    count *= size_t(s);
  }
  if (shape.size() > 1) dims.resize(dims.size() - 2);  // (2, 3) ; a 1-D shape keeps its comma: (2,)
  else if (shape.size() == 1) dims.resize(dims.size() - 1);
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              static_cast<unsigned char>(header.size() & 0xFF),
                              static_cast<unsigned char>(header.size() >> 8)};
  bool ok = std::fwrite(prefix, 1, 10, f) == 10 && std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
            std::fwrite(data, sizeof(float), count, f) == count;
  return std::fclose(f) == 0 && ok;
}

namespace {

template <typename T>
void convert(const std::vector<char>& raw, size_t count, bool swap, std::vector<double>& out) {
  for (size_t i = 0; i < count; ++i) {
    char bytes[sizeof(T)];
    std::memcpy(bytes, raw.data() + i * sizeof(T), sizeof(T));
    if (swap)
      for (size_t k = 0; k < sizeof(T) / 2; ++k) std::swap(bytes[k], bytes[sizeof(T) - 1 - k]);
    T value;
    std::memcpy(&value, bytes, sizeof(T));
    out[i] = double(value);
  }
}

}  // namespace

std::vector<double> read_npy(const std::string& path, std::vector<long long>& shape) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("depth file not found: " + path);
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw UserError("cannot read depth array " + path + ": not a .npy file");
  size_t header_len = 0;
  unsigned char len[4] = {0, 0, 0, 0};
  if (magic[6] == 1) {
    in.read(reinterpret_cast<char*>(len), 2);
    header_len = len[0] | len[1] << 8;
  } else {
    in.read(reinterpret_cast<char*>(len), 4);
    header_len = size_t(len[0]) | size_t(len[1]) << 8 | size_t(len[2]) << 16 | size_t(len[3]) << 24;
  }
  std::string header(header_len, '\0');
  if (!in || !in.read(&header[0], std::streamsize(header_len)))
    throw UserError("cannot read depth array " + path + ": truncated header");
  std::smatch descr, order, dims;
  if (!std::regex_search(header, descr, std::regex("'descr':\\s*'([<>|=])([a-z])(\\d+)'")) ||
      !std::regex_search(header, dims, std::regex("'shape':\\s*\\(([^)]*)\\)")))
    throw UserError("cannot read depth array " + path + ": unreadable header");
  if (std::regex_search(header, order, std::regex("'fortran_order':\\s*True")))
    throw UserError("cannot read depth array " + path + ": Fortran-ordered arrays are not supported");
  shape.clear();
  size_t count = 1;
  std::string list = dims[1];
  const std::regex digits("\\d+");
  for (std::sregex_iterator it(list.begin(), list.end(), digits), end; it != end; ++it) {
    shape.push_back(std::stoll(it->str()));
    count *= size_t(shape.back());
  }
  char endian = descr[1].str()[0], kind = descr[2].str()[0];
  int bytes = std::stoi(descr[3]);
  bool swap = endian == '>';
  // mgdn_edge.core.imageio.read_depth's budget: rows x everything after them, before reading the data
  long long cols = 1;
  for (size_t i = 1; i < shape.size(); ++i) cols *= shape[i];
  check_pixel_budget(path, cols, shape.empty() ? 1 : shape[0]);
  std::vector<char> raw(count * size_t(bytes));
  if (!in.read(raw.data(), std::streamsize(raw.size())))
    throw UserError("cannot read depth array " + path + ": the file ends before its " + std::to_string(count) +
                    " values");
  std::vector<double> out(count);
  if (kind == 'f' && bytes == 4) convert<float>(raw, count, swap, out);
  else if (kind == 'f' && bytes == 8) convert<double>(raw, count, swap, out);
  else if (kind == 'u' && bytes == 1) convert<uint8_t>(raw, count, false, out);
  else if (kind == 'u' && bytes == 2) convert<uint16_t>(raw, count, swap, out);
  else if (kind == 'u' && bytes == 4) convert<uint32_t>(raw, count, swap, out);
  else if (kind == 'i' && bytes == 1) convert<int8_t>(raw, count, false, out);
  else if (kind == 'i' && bytes == 2) convert<int16_t>(raw, count, swap, out);
  else if (kind == 'i' && bytes == 4) convert<int32_t>(raw, count, swap, out);
  else if (kind == 'i' && bytes == 8) convert<int64_t>(raw, count, swap, out);
  else if (kind == 'b' && bytes == 1) convert<uint8_t>(raw, count, false, out);
  else
    throw UserError("depth array " + path + " must hold numbers, got dtype " + descr[1].str() + descr[2].str() +
                    descr[3].str());
  return out;
}

}  // namespace mgdn_cli
