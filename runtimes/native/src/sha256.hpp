// SHA-256 of a file, as lowercase hex: the plugin library's fingerprint the engine sidecar keeps
// and the run record's files (hashlib.sha256 on the Python side), computed without a crypto
// library so the runner needs nothing beyond OpenCV and the backend SDK.
#pragma once

#include <string>

namespace mgdn {

// Throws mgdn::Error(MGDN_E_FILE) naming `path` when it cannot be read.
std::string sha256_file(const std::string& path);
std::string sha256_hex(const std::string& bytes);

}  // namespace mgdn
