// Port of mgdn_edge/core/image_headers.py: PNG chunks to IEND, JPEG markers to EOI after the last
// scan, TIFF IFD0 strips/tiles inside the file, the Radiance resolution line; same messages.
#include "image_headers.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <vector>

#include "common.hpp"

namespace mgdn_cli {
namespace {

struct Header {
  std::string format;
  long long width = 0, height = 0;
  std::string truncated;  // "" when whole
};

using Bytes = std::vector<unsigned char>;

uint32_t be32(const unsigned char* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint16_t be16(const unsigned char* p) { return uint16_t(p[0] << 8 | p[1]); }

std::optional<Header> png(const Bytes& d) {
  size_t size = d.size();
  size_t got = size > 8 ? std::min<size_t>(16, size - 8) : 0;  // the bytes after the signature
  if (got < 16 || std::string(d.begin() + 12, d.begin() + 16) != "IHDR") {
    if (got >= 8) return std::nullopt;
    return Header{"PNG", 0, 0, "no IHDR chunk: the file ends at byte " + std::to_string(size)};
  }
  long long width = be32(&d[16]), height = be32(&d[20]);
  size_t pos = 8;
  for (;;) {
    if (pos + 8 > size) return Header{"PNG", width, height, "no IEND chunk: the file ends at byte " + std::to_string(size)};
    unsigned long long length = be32(&d[pos]);
    std::string kind(d.begin() + pos + 4, d.begin() + pos + 8);
    for (char ch : kind)
      if (!std::isalpha(static_cast<unsigned char>(ch))) return std::nullopt;
    unsigned long long end = pos + 8 + length + 4;
    if (end > size)
      return Header{"PNG", width, height,
                    "chunk " + kind + " needs " + std::to_string(end) + " bytes, the file has " + std::to_string(size)};
    if (kind == "IEND") return Header{"PNG", width, height, ""};
    pos = size_t(end);
  }
}

Header jpeg(const Bytes& d) {
  static const int sof[] = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF};
  long long width = 0, height = 0;
  size_t pos = 2;
  while (pos + 4 <= d.size() && d[pos] == 0xFF) {
    int marker = d[pos + 1];
    if (marker == 0xFF) {
      pos += 1;
      continue;
    }
    size_t length = be16(&d[pos + 2]);
    bool is_sof = false;
    for (int s : sof) is_sof |= marker == s;
    if (is_sof && pos + 9 <= d.size()) {
      height = be16(&d[pos + 5]);
      width = be16(&d[pos + 7]);
    }
    if (marker == 0xDA) break;
    pos += 2 + length;
  }
  std::string n = std::to_string(d.size());
  long long sos = -1;  // the last start of scan
  for (size_t i = 0; i + 1 < d.size(); ++i)
    if (d[i] == 0xFF && d[i + 1] == 0xDA) sos = (long long)i;
  if (sos < 0) return {"JPEG", width, height, "no start of scan: the file ends at byte " + n};
  for (size_t i = size_t(sos); i + 1 < d.size(); ++i)
    if (d[i] == 0xFF && d[i + 1] == 0xD9) return {"JPEG", width, height, ""};
  return {"JPEG", width, height, "no EOI marker after the last scan, at byte " + n};
}

std::optional<Header> tiff(const Bytes& d, bool little) {
  size_t size = d.size();
  auto u16 = [&](size_t at) -> uint64_t { return little ? d[at] | d[at + 1] << 8 : be16(&d[at]); };
  auto u32 = [&](size_t at) -> uint64_t {
    return little ? uint64_t(d[at]) | uint64_t(d[at + 1]) << 8 | uint64_t(d[at + 2]) << 16 | uint64_t(d[at + 3]) << 24
                  : be32(&d[at]);
  };
  auto u64 = [&](size_t at) -> uint64_t {
    return little ? (u32(at) | u32(at + 4) << 32) : (u32(at) << 32 | u32(at + 4));
  };
  if (size < 8) return std::nullopt;
  uint64_t ifd = u32(4);
  if (ifd < 8 || ifd + 2 > size) return std::nullopt;
  uint64_t count = u16(size_t(ifd));
  if (ifd + 2 + 12 * count > size) return std::nullopt;
  std::map<int, std::vector<uint64_t>> tags;
  for (uint64_t i = 0; i < count; ++i) {
    size_t e = size_t(ifd + 2 + 12 * i);
    int tag = int(u16(e)), kind = int(u16(e + 2));
    uint64_t n = u32(e + 4);
    int width = kind == 3 ? 2 : kind == 4 ? 4 : kind == 16 ? 8 : 0;
    if (!width || !(tag == 256 || tag == 257 || tag == 273 || tag == 279 || tag == 324 || tag == 325)) continue;
    size_t base = e + 8;
    if (n * width > 4) {
      uint64_t offset = u32(e + 8);
      if (offset + n * width > size)
        return Header{"TIFF", 0, 0,
                      "tag " + std::to_string(tag) + "'s values end past the file's " + std::to_string(size) + " bytes"};
      base = size_t(offset);
    }
    std::vector<uint64_t> values;
    for (uint64_t k = 0; k < n; ++k) {
      size_t at = base + size_t(k * width);
      values.push_back(width == 2 ? u16(at) : width == 4 ? u32(at) : u64(at));
    }
    tags[tag] = values;
  }
  long long w = tags.count(256) && !tags[256].empty() ? (long long)tags[256][0] : 0;
  long long h = tags.count(257) && !tags[257].empty() ? (long long)tags[257][0] : 0;
  const std::pair<int, int> groups[] = {{273, 279}, {324, 325}};
  const char* what[] = {"strip", "tile"};
  for (int g = 0; g < 2; ++g) {
    const auto& offsets = tags[groups[g].first];
    const auto& counts = tags[groups[g].second];
    for (size_t k = 0; k < offsets.size() && k < counts.size(); ++k)
      if (offsets[k] + counts[k] > size)
        return Header{"TIFF", w, h,
                      std::string(what[g]) + " " + std::to_string(k) + " ends at byte " +
                          std::to_string(offsets[k] + counts[k]) + ", the file has " + std::to_string(size)};
  }
  return Header{"TIFF", w, h, ""};
}

std::optional<Header> radiance(const Bytes& d) {
  std::string head(d.begin(), d.begin() + std::min<size_t>(d.size(), 4096));
  std::smatch m;
  static const std::regex size_line("(^|\\n)[-+]Y (\\d+) [-+]X (\\d+)(\\n|$)");
  if (!std::regex_search(head, m, size_line)) return std::nullopt;
  return Header{"Radiance", std::atoll(m[3].str().c_str()), std::atoll(m[2].str().c_str()), ""};
}

std::optional<Header> read_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read the header of " + path + ": cannot open the file");
  Bytes d((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto starts = [&](const char* magic, size_t n) {
    return d.size() >= n && std::equal(magic, magic + n, reinterpret_cast<const char*>(d.data()));
  };
  if (starts("\x89PNG\r\n\x1a\n", 8)) return png(d);
  if (starts("\xff\xd8\xff", 3)) return jpeg(d);
  if (starts("II*\0", 4)) return tiff(d, true);
  if (starts("MM\0*", 4)) return tiff(d, false);
  if (starts("#?RADIANCE", 10) || starts("#?RGBE", 6)) return radiance(d);
  return std::nullopt;
}

}  // namespace

void check_pixel_budget(const std::string& path, long long width, long long height) {
  const char* env = std::getenv("MGDN_EDGE_MAX_MEGAPIXELS");
  std::string text = env ? env : "";
  double mp = 100.0;
  if (text.find_first_not_of(" \t") != std::string::npos) {
    char* end = nullptr;
    mp = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || std::string(end).find_first_not_of(" \t") != std::string::npos)
      throw UserError("$MGDN_EDGE_MAX_MEGAPIXELS must be a number of megapixels, got '" + text + "'");
    if (!(mp > 0)) throw UserError("$MGDN_EDGE_MAX_MEGAPIXELS must be positive, got '" + text + "'");
  }
  long long limit = (long long)(mp * 1e6);
  if (width * height > limit)
    throw UserError(path + " is " + std::to_string(width) + "x" + std::to_string(height) + " (WxH) = " +
                    format("%.1f", double(width * height) / 1e6) + " MP, over the pixel budget of " +
                    format("%g", double(limit) / 1e6) +
                    " MP (a decompression bomb or a huge image; set $MGDN_EDGE_MAX_MEGAPIXELS to raise it)");
}

void check_image_file(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw UserError("image not found: " + path);
  if (st.st_size == 0) throw UserError(path + " is empty (0 bytes)");
  std::optional<Header> header = read_header(path);
  if (!header) return;
  if (header->width && header->height) check_pixel_budget(path, header->width, header->height);
  if (!header->truncated.empty())
    throw UserError(path + " is truncated (" + header->format + ": " + header->truncated + ")");
}

}  // namespace mgdn_cli
