// SHA-256 of a file (FIPS 180-4), so a device run records exactly which inputs, model and raw
// output it used and the PC can check that the files it judges are those (hashlib's hexdigest).
#pragma once

#include <string>

namespace mgdn_cli {

// Lower-case hex digest of the file's bytes; throws UserError naming an unreadable file.
std::string sha256_file(const std::string& path);

}  // namespace mgdn_cli
