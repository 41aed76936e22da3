// The C API: contexts, status codes and one-line messages around a Backend. Every extern "C"
// body catches everything, so no C++ exception ever crosses into a C caller.
#include <cmath>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "backend.hpp"
#include "mgdn_edge.h"

struct mgdn_context {
  std::unique_ptr<mgdn::Backend> backend;
  std::string error;
};

namespace mgdn {

std::vector<std::string> task_input_names(const std::string& task) {
  if (task == "mff") return {"a", "b"};
  if (task == "mef") return {"under", "over"};
  if (task == "hdr") return {"under", "ref", "over"};
  if (task == "gdsr") return {"rgb", "depth"};
  return {};
}

}  // namespace mgdn

namespace {

thread_local std::string g_create_error;  // mgdn_last_error(NULL): the thread's last failed create

// The task's input names (for messages), or input0, input1, ... when the task is unknown.
std::vector<std::string> input_names(const std::string& task, size_t count) {
  std::vector<std::string> names = mgdn::task_input_names(task);
  if (!names.empty()) return names;
  for (size_t i = 0; i < count; ++i) names.push_back("input" + std::to_string(i));
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& n : names) text += (text.empty() ? "" : ", ") + n;
  return text;
}

std::string dims(int64_t a, int64_t b, int64_t c) {
  return std::to_string(a) + "x" + std::to_string(b) + "x" + std::to_string(c);
}

bool all_finite(const float* data, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (!std::isfinite(data[i])) return false;
  return true;
}

// The checks of mgdn_edge.model.inputs.validate_inputs, with its messages.
void validate(const mgdn::ModelInfo& info, const mgdn_tensor* inputs, int32_t n_inputs) {
  using mgdn::Error;
  size_t expected = info.input_channels.size();
  std::string task = info.task.empty() ? "this model" : "task '" + info.task + "'";
  auto names = input_names(info.task, expected);
  if (n_inputs < 0 || size_t(n_inputs) != expected)
    throw Error(MGDN_E_INPUT, task + " takes " + std::to_string(expected) + " inputs (" + joined(names) +
                                  "), got " + std::to_string(n_inputs));
  if (expected > 0 && inputs == nullptr) throw Error(MGDN_E_ARGUMENT, "inputs is NULL");
  const mgdn_tensor& first = inputs[0];
  for (size_t i = 0; i < expected; ++i) {
    const mgdn_tensor& x = inputs[i];
    std::string name = "'" + names[i] + "'";
    if (x.data == nullptr) throw Error(MGDN_E_ARGUMENT, "input " + name + " has no data (NULL)");
    if (x.n < 1 || x.c < 1 || x.h < 1 || x.w < 1)
      throw Error(MGDN_E_INPUT, "input " + name + " must be [N, C, H, W] with every size >= 1, got " +
                                    dims(x.n, x.c, x.h) + "x" + std::to_string(x.w));
    if (x.c != info.input_channels[i])
      throw Error(MGDN_E_INPUT, "input " + name + " must have " + std::to_string(info.input_channels[i]) +
                                    " channels for " + task + ", got " + std::to_string(x.c));
    if (x.n != first.n || x.h != first.h || x.w != first.w)
      throw Error(MGDN_E_INPUT, "inputs must share batch and size: '" + names[0] + "' is " +
                                    dims(first.n, first.h, first.w) + ", " + name + " is " +
                                    dims(x.n, x.h, x.w) + " (NxHxW)");
    if (!all_finite(x.data, size_t(x.n * x.c * x.h * x.w)))
      throw Error(MGDN_E_INPUT, "input " + name + " contains NaN or Inf values");
  }
  if (info.window_size > 0) {
    const char* axis[] = {"height", "width"};
    int64_t sizes[] = {first.h, first.w};
    for (int k = 0; k < 2; ++k) {
      int64_t ws = info.window_size, pad = (ws - sizes[k] % ws) % ws;
      if (pad >= sizes[k])
        throw Error(MGDN_E_INPUT, std::string("image ") + axis[k] + " " + std::to_string(sizes[k]) +
                                      " is too small: it must exceed the reflect padding (" +
                                      std::to_string(pad) + ") to a multiple of the window size " +
                                      std::to_string(ws));
    }
  }
  if (info.static_h > 0 && (first.h != info.static_h || first.w != info.static_w))
    throw Error(MGDN_E_INPUT, "this model was exported for a fixed size " + std::to_string(info.static_h) +
                                  "x" + std::to_string(info.static_w) + " (HxW), got " +
                                  std::to_string(first.h) + "x" + std::to_string(first.w) +
                                  "; re-export without --static for any size");
}

// NULL mgdn_options.backend: OpenVINO where it is built in, else TensorRT.
const char* default_backend() {
#ifdef MGDN_WITH_OPENVINO
  return "openvino";
#else
  return "tensorrt";
#endif
}

// The backends this library was built with (MGDN_WITH_OPENVINO / MGDN_WITH_TENSORRT), for messages.
const char* built_backends() {
#if defined(MGDN_WITH_OPENVINO) && defined(MGDN_WITH_TENSORRT)
  return "openvino, tensorrt";
#elif defined(MGDN_WITH_TENSORRT)
  return "tensorrt";
#else
  return "openvino";
#endif
}

std::unique_ptr<mgdn::Backend> open_backend(const std::string& name, mgdn::BackendOptions options) {
  using mgdn::Error;
  if (name == "openvino") {
#ifdef MGDN_WITH_OPENVINO
    if (options.device.empty()) options.device = "CPU";
    return mgdn::open_openvino(options);
#endif
  } else if (name == "tensorrt") {
#ifdef MGDN_WITH_TENSORRT
    if (options.threads > 0)
      throw Error(MGDN_E_ARGUMENT, "threads do not apply to the tensorrt backend (it runs on the GPU)");
    return mgdn::open_tensorrt(options);
#endif
  } else {
    throw Error(MGDN_E_ARGUMENT, "unknown backend '" + name + "'; expected " + built_backends());
  }
  throw Error(MGDN_E_ARGUMENT, "this libmgdn_edge was built without the " + name + " backend (it has: " +
                                   built_backends() + "); rebuild it with -DMGDN_WITH_" +
                                   (name == "openvino" ? "OPENVINO" : "TENSORRT") + "=ON");
}

// Run `body`, turning any exception into a status and the message into `error`.
template <typename Body>
int guarded(std::string& error, Body body) {
  try {
    error.clear();
    body();
    return MGDN_OK;
  } catch (const mgdn::Error& exc) {
    error = exc.what();
    return exc.status();
  } catch (const std::bad_alloc&) {
    error = "out of memory";
    return MGDN_E_OUT_OF_MEMORY;
  } catch (const std::exception& exc) {
    error = std::string("internal error: ") + exc.what();
    return MGDN_E_INTERNAL;
  } catch (...) {
    error = "internal error: unknown exception";
    return MGDN_E_INTERNAL;
  }
}

std::string& error_of(const mgdn_context* context) {
  return context ? const_cast<mgdn_context*>(context)->error : g_create_error;
}

}  // namespace

extern "C" {

const char* mgdn_version(void) { return "0.1.0"; }

const char* mgdn_status_name(int status) {
  switch (status) {
    case MGDN_OK: return "MGDN_OK";
    case MGDN_E_ARGUMENT: return "MGDN_E_ARGUMENT";
    case MGDN_E_INPUT: return "MGDN_E_INPUT";
    case MGDN_E_FILE: return "MGDN_E_FILE";
    case MGDN_E_BACKEND: return "MGDN_E_BACKEND";
    case MGDN_E_BUFFER: return "MGDN_E_BUFFER";
    case MGDN_E_OUT_OF_MEMORY: return "MGDN_E_OUT_OF_MEMORY";
    case MGDN_E_INTERNAL: return "MGDN_E_INTERNAL";
    default: return "MGDN_E_UNKNOWN";
  }
}

int mgdn_create(const mgdn_options* options, mgdn_context** context) {
  return guarded(g_create_error, [&] {
    if (context == nullptr) throw mgdn::Error(MGDN_E_ARGUMENT, "context (the out-pointer) is NULL");
    *context = nullptr;
    if (options == nullptr || options->model_path == nullptr || !*options->model_path)
      throw mgdn::Error(MGDN_E_ARGUMENT, "no model path given (mgdn_options.model_path)");
    std::string backend = options->backend ? options->backend : default_backend();
    if (options->threads < 0)
      throw mgdn::Error(MGDN_E_ARGUMENT, "threads must be >= 0 (0: the backend's default), got " +
                                             std::to_string(options->threads));
    mgdn::BackendOptions opened;
    opened.model_path = options->model_path;
    opened.extension_path = options->extension_path ? options->extension_path : "";
    opened.device = options->device ? options->device : "";
    opened.threads = options->threads;
    auto ctx = std::make_unique<mgdn_context>();
    ctx->backend = open_backend(backend, opened);
    *context = ctx.release();
  });
}

void mgdn_release(mgdn_context* context) {
  try {
    delete context;
  } catch (...) {
    // a destructor that throws has nowhere to report to; the memory is gone either way
  }
}

const char* mgdn_task(const mgdn_context* context) {
  try {
    return context ? context->backend->info().task.c_str() : "";
  } catch (...) {
    return "";
  }
}

int mgdn_input_count(const mgdn_context* context, int32_t* count) {
  std::string& error = error_of(context);
  return guarded(error, [&] {
    if (!context || !count) throw mgdn::Error(MGDN_E_ARGUMENT, "context or count is NULL");
    *count = int32_t(context->backend->info().input_channels.size());
  });
}

int mgdn_input_channels(const mgdn_context* context, int32_t index, int32_t* channels) {
  std::string& error = error_of(context);
  return guarded(error, [&] {
    if (!context || !channels) throw mgdn::Error(MGDN_E_ARGUMENT, "context or channels is NULL");
    const auto& all = context->backend->info().input_channels;
    if (index < 0 || size_t(index) >= all.size())
      throw mgdn::Error(MGDN_E_ARGUMENT, "input index " + std::to_string(index) + " is out of range (the model has " +
                                             std::to_string(all.size()) + " inputs)");
    *channels = int32_t(all[size_t(index)]);
  });
}

int mgdn_output_channels(const mgdn_context* context, int32_t* channels) {
  std::string& error = error_of(context);
  return guarded(error, [&] {
    if (!context || !channels) throw mgdn::Error(MGDN_E_ARGUMENT, "context or channels is NULL");
    *channels = int32_t(context->backend->info().output_channels);
  });
}

int mgdn_fuse(mgdn_context* context, const mgdn_tensor* inputs, int32_t n_inputs, mgdn_output* out) {
  if (context == nullptr) {
    g_create_error = "mgdn_fuse: context is NULL";
    return MGDN_E_ARGUMENT;
  }
  return guarded(context->error, [&] {
    if (out == nullptr) throw mgdn::Error(MGDN_E_ARGUMENT, "out (the output buffer) is NULL");
    const mgdn::ModelInfo& info = context->backend->info();
    validate(info, inputs, n_inputs);
    const mgdn_tensor& first = inputs[0];
    out->n = first.n;
    out->c = info.output_channels;
    out->h = first.h;
    out->w = first.w;
    size_t needed = size_t(out->n * out->c * out->h * out->w);
    if (out->data == nullptr || out->capacity < needed)
      throw mgdn::Error(MGDN_E_BUFFER, "the output buffer holds " + std::to_string(out->capacity) +
                                           " floats; this output needs " + std::to_string(needed) + " (" +
                                           dims(out->n, out->c, out->h) + "x" + std::to_string(out->w) + ")");
    std::vector<const float*> data;
    std::vector<mgdn::Shape> shapes;
    for (int32_t i = 0; i < n_inputs; ++i) {
      data.push_back(inputs[i].data);
      shapes.push_back({inputs[i].n, inputs[i].c, inputs[i].h, inputs[i].w});
    }
    context->backend->run(data, shapes, out->data);
  });
}

const char* mgdn_last_error(const mgdn_context* context) {
  try {
    return error_of(context).c_str();
  } catch (...) {
    return "";
  }
}

}  // extern "C"
