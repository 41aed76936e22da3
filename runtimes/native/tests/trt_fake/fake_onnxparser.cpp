// A CPU stand-in for libnvonnxparser.so (tests only). parseFromFile(X.onnx) reads X.onnx.fake, a
// fake engine description (fake_engine.hpp, profiles ignored), into the fake builder's network;
// a description that needs a plugin creator nobody registered fails as TensorRT's parser does
// ("Plugin not found").
#include <fstream>
#include <sstream>
#include <vector>

#include "fake_internal.hpp"
#include "fake_parser_stubs.hpp"

namespace {

class FakeError : public nvonnxparser::StubIParserError {
 public:
  explicit FakeError(std::string text) : text_(std::move(text)) {}
  char const* desc() const noexcept override { return text_.c_str(); }

 private:
  std::string text_;
};

class FakeParser : public nvonnxparser::StubIParser {
 public:
  explicit FakeParser(nvinfer1::INetworkDefinition* network) : network_(network) {}

  bool parseFromFile(char const* path, int) noexcept override {
    fake::event("parse");
    std::ifstream file(std::string(path) + ".fake");
    std::stringstream text;
    text << file.rdbuf();
    std::string why;
    if (!file) why = std::string("fake parser: no description ") + path + ".fake";
    else if (mgdn_fake_load_network(network_, text.str().c_str(), &why)) return true;
    errors_.emplace_back(why);
    return false;
  }
  int32_t getNbErrors() const noexcept override { return int32_t(errors_.size()); }
  nvonnxparser::IParserError const* getError(int32_t index) const noexcept override {
    return &errors_.at(size_t(index));
  }

 private:
  nvinfer1::INetworkDefinition* network_;
  std::vector<FakeError> errors_;
};

}  // namespace

FAKE_API void* createNvOnnxParser_INTERNAL(void* network, void* logger, int) noexcept {
  fake::set_logger(logger);
  return static_cast<nvonnxparser::IParser*>(new FakeParser(static_cast<nvinfer1::INetworkDefinition*>(network)));
}
