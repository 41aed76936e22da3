// The metadata_props of an ONNX file (key -> value), read straight from its protobuf encoding:
// the TensorRT backend needs the exporter's config before TensorRT parses the graph, and the
// runner links no protobuf library.
#pragma once

#include <map>
#include <string>

namespace mgdn {

// Throws mgdn::Error(MGDN_E_FILE) naming `path` when it cannot be read or is not an ONNX model.
std::map<std::string, std::string> onnx_metadata(const std::string& path);

}  // namespace mgdn
