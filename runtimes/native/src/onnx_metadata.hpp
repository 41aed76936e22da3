// The metadata_props of an ONNX file (key -> value) and whether its graph holds an op, read
// straight from its protobuf encoding: the TensorRT backend needs the exporter's config before
// TensorRT parses the graph, the OpenVINO backend must know whether the model needs our extension
// before OpenVINO reads it, and the runner links no protobuf library.
#pragma once

#include <map>
#include <string>

namespace mgdn {

// Throws mgdn::Error(MGDN_E_FILE) naming `path` when it cannot be read or is not an ONNX model.
std::map<std::string, std::string> onnx_metadata(const std::string& path);

// Whether the main graph of the ONNX file at `path` has a node of `domain`::`op_type` (throws as
// onnx_metadata does).
bool onnx_has_node(const std::string& path, const std::string& domain, const std::string& op_type);

}  // namespace mgdn
