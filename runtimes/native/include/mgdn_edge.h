/* mgdn_edge.h: the C API of the native MGDN runner (libmgdn_edge.so).
 *
 * One context holds one model opened on one backend: OpenVINO (CPU) or TensorRT (NVIDIA GPU),
 * whichever the library was built with (MGDN_WITH_OPENVINO / MGDN_WITH_TENSORRT).
 * Inputs and the output are float32 NCHW tensors with explicit shapes; pre- and
 * post-processing of image files is the runner's (mgdn-fuse) business, not this library's.
 *
 * Every function returns a status (MGDN_OK = 0) and never aborts or throws: a failure leaves a
 * one-line message, naming the file or the mismatch, in mgdn_last_error(context). A failed
 * mgdn_create leaves its message in mgdn_last_error(NULL), per thread.
 *
 * A context is not thread-safe: use one per thread, or serialise calls to mgdn_fuse. TensorRT's
 * plugin library is registered once per process: every TensorRT context must use the same one.
 *
 *   mgdn_options options = {0};
 *   options.model_path = "model.onnx";
 *   options.extension_path = "libmgdn_openvino.so";
 *   mgdn_context* ctx = NULL;
 *   if (mgdn_create(&options, &ctx) != MGDN_OK) { puts(mgdn_last_error(NULL)); return 1; }
 *   mgdn_tensor in[2] = {{a, 1, 3, h, w}, {b, 1, 3, h, w}};
 *   mgdn_output out = {fused, (size_t)3 * h * w};
 *   if (mgdn_fuse(ctx, in, 2, &out) != MGDN_OK) puts(mgdn_last_error(ctx));
 *   mgdn_release(ctx);
 */
#ifndef MGDN_EDGE_H
#define MGDN_EDGE_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define MGDN_API __declspec(dllexport)
#else
#define MGDN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define MGDN_API_VERSION 1

typedef enum mgdn_status {
  MGDN_OK = 0,
  MGDN_E_ARGUMENT = 1,      /* a NULL pointer or an option the API cannot use */
  MGDN_E_INPUT = 2,         /* the caller's tensors: count, channels, sizes, NaN/Inf */
  MGDN_E_FILE = 3,          /* the model or the extension library is missing or unreadable */
  MGDN_E_BACKEND = 4,       /* the runtime could not read, compile or run the model */
  MGDN_E_BUFFER = 5,        /* the output buffer is too small: mgdn_output holds the shape needed */
  MGDN_E_OUT_OF_MEMORY = 6,
  MGDN_E_INTERNAL = 7       /* a bug: please report the message */
} mgdn_status;

typedef struct mgdn_context mgdn_context;

/* What to open. Zero-initialise it, then set what you need. */
typedef struct mgdn_options {
  const char* model_path;     /* OpenVINO: model.onnx or an IR .xml (its .bin beside it);
                                 TensorRT: an .engine/.plan (X.engine.json beside it is checked), or
                                 model.trt.onnx, built once into model.trt.engine beside it */
  const char* extension_path; /* OpenVINO: libmgdn_openvino.so; TensorRT: libmgdn_trt.so (NULL: the one
                                 the engine's sidecar names); NULL: none (only a model without the op) */
  const char* backend;        /* "openvino" or "tensorrt", as built in; NULL: openvino where built in */
  const char* device;         /* OpenVINO device (NULL: "CPU"); TensorRT GPU "0" / "cuda:N" (NULL: 0) */
  int32_t threads;            /* OpenVINO inference threads; 0: the backend's default (TensorRT: 0) */
} mgdn_options;

/* A read-only float32 NCHW input. */
typedef struct mgdn_tensor {
  const float* data;
  int64_t n, c, h, w;
} mgdn_tensor;

/* The caller's output buffer (capacity in floats); mgdn_fuse writes the NCHW shape it produced,
 * or on MGDN_E_BUFFER the shape it needs. */
typedef struct mgdn_output {
  float* data;
  size_t capacity;
  int64_t n, c, h, w;
} mgdn_output;

MGDN_API const char* mgdn_version(void);
MGDN_API const char* mgdn_status_name(int status);

MGDN_API int mgdn_create(const mgdn_options* options, mgdn_context** context);
MGDN_API void mgdn_release(mgdn_context* context);

/* The model's task ("mff", "mef", "hdr", "gdsr") from its metadata, or "" when it has none. */
MGDN_API const char* mgdn_task(const mgdn_context* context);
MGDN_API int mgdn_input_count(const mgdn_context* context, int32_t* count);
MGDN_API int mgdn_input_channels(const mgdn_context* context, int32_t index, int32_t* channels);
MGDN_API int mgdn_output_channels(const mgdn_context* context, int32_t* channels);

/* Run the network once on n_inputs tensors of equal N, H and W; the output is N x C_out x H x W. */
MGDN_API int mgdn_fuse(mgdn_context* context, const mgdn_tensor* inputs, int32_t n_inputs, mgdn_output* out);

/* The last failure's one-line message ("" after success); NULL context: this thread's last
 * mgdn_create failure. Valid until the next call on the same context (or thread). */
MGDN_API const char* mgdn_last_error(const mgdn_context* context);

#ifdef __cplusplus
}
#endif

#endif /* MGDN_EDGE_H */
