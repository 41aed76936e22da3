// What an image file says about itself before it is decoded (port of mgdn_edge.core.image_headers):
// the size from the header, checked against the pixel budget, and whether the file is whole.
#pragma once

#include <string>

namespace mgdn_cli {

// Refuse, naming the file, what a decoder would read wrongly or at any cost: missing, empty,
// truncated (OpenCV would return a partly grey image) or over $MGDN_EDGE_MAX_MEGAPIXELS.
void check_image_file(const std::string& path);
void check_pixel_budget(const std::string& path, long long width, long long height);

}  // namespace mgdn_cli
