// Image files in and out through OpenCV, as mgdn_edge.core.imageio does: float32 HxWxC RGB, 8-bit
// / 255, 16-bit / 65535, HDR files as linear float; written 8-bit, 16-bit (.tif) or float (.hdr).
#pragma once

#include <string>

#include "common.hpp"

namespace mgdn_cli {

// channels 0: as stored; 3: grayscale repeated; 1: colour turned into luma.
Image read_image(const std::string& path, int channels);
// HxW depth (c = 1) from an image's luma or a .npy array.
Image read_depth(const std::string& path);
// Values in [0, 1] (or linear radiance for .hdr); throws UserError when OpenCV cannot write it.
void write_image(const std::string& path, const Image& image);
bool is_hdr_suffix(const std::string& suffix);  // .hdr .pic .exr

}  // namespace mgdn_cli
