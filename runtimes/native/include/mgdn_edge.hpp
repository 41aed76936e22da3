// mgdn_edge.hpp: a header-only C++ wrapper of the C API (mgdn_edge.h). A Model owns one context
// and releases it; failures become mgdn::Failure exceptions carrying the status and the
// one-line message (exceptions stay on the caller's side of the C boundary).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "mgdn_edge.h"

namespace mgdn {

class Failure : public std::runtime_error {
 public:
  Failure(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

class Model {
 public:
  // extension_path: the OpenVINO extension, or TensorRT's plugin library; "" device or backend:
  // the library's default (OpenVINO on "CPU" where it is built in, TensorRT on GPU 0).
  explicit Model(const std::string& model_path, const std::string& extension_path = "", int threads = 0,
                 const std::string& device = "", const std::string& backend = "") {
    mgdn_options options{};
    options.model_path = model_path.c_str();
    options.extension_path = extension_path.empty() ? nullptr : extension_path.c_str();
    options.backend = backend.empty() ? nullptr : backend.c_str();
    options.device = device.empty() ? nullptr : device.c_str();
    options.threads = threads;
    int status = mgdn_create(&options, &ctx_);
    if (status != MGDN_OK) throw Failure(status, mgdn_last_error(nullptr));
  }
  ~Model() { mgdn_release(ctx_); }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  Model(Model&& other) noexcept : ctx_(other.ctx_) { other.ctx_ = nullptr; }
  Model& operator=(Model&& other) noexcept {
    if (this != &other) {
      mgdn_release(ctx_);
      ctx_ = other.ctx_;
      other.ctx_ = nullptr;
    }
    return *this;
  }

  std::string task() const { return mgdn_task(ctx_); }
  int input_count() const {
    int32_t n = 0;
    check(mgdn_input_count(ctx_, &n));
    return n;
  }
  int input_channels(int index) const {
    int32_t c = 0;
    check(mgdn_input_channels(ctx_, index, &c));
    return c;
  }
  int output_channels() const {
    int32_t c = 0;
    check(mgdn_output_channels(ctx_, &c));
    return c;
  }

  // Fuse NCHW inputs into `out` (resized to N x C_out x H x W); returns that shape.
  std::vector<int64_t> fuse(const std::vector<mgdn_tensor>& inputs, std::vector<float>& out) {
    mgdn_output result{};
    if (!inputs.empty()) {
      const mgdn_tensor& first = inputs[0];
      out.resize(size_t(first.n * output_channels() * first.h * first.w));
    }
    result.data = out.data();
    result.capacity = out.size();
    check(mgdn_fuse(ctx_, inputs.data(), int32_t(inputs.size()), &result));
    return {result.n, result.c, result.h, result.w};
  }

  mgdn_context* get() const { return ctx_; }

 private:
  void check(int status) const {
    if (status != MGDN_OK) throw Failure(status, mgdn_last_error(ctx_));
  }
  mgdn_context* ctx_ = nullptr;
};

}  // namespace mgdn
