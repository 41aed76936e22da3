/* A plain C program exercising the C API: create (failing, then working), the model's
 * description, fuse (failing on bad input, then working), the error messages, release.
 * Usage: c_api_check MODEL EXTENSION; prints "ok" and exits 0 when every check holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgdn_edge.h"

static int failures = 0;

#define CHECK(cond, what)                                          \
  do {                                                             \
    if (!(cond)) {                                                 \
      fprintf(stderr, "FAILED: %s (line %d)\n", what, __LINE__); \
      failures++;                                                  \
    }                                                              \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL EXTENSION\n", argv[0]);
    return 2;
  }
  mgdn_options options;
  memset(&options, 0, sizeof options);
  mgdn_context* ctx = NULL;

  /* a missing model: a status, a message naming the file, no context */
  options.model_path = "/nonexistent/model.onnx";
  options.extension_path = argv[2];
  CHECK(mgdn_create(&options, &ctx) == MGDN_E_FILE, "missing model gives MGDN_E_FILE");
  CHECK(ctx == NULL, "no context after a failed create");
  CHECK(strstr(mgdn_last_error(NULL), "/nonexistent/model.onnx") != NULL, "the message names the model");
  CHECK(mgdn_create(NULL, &ctx) == MGDN_E_ARGUMENT, "NULL options give MGDN_E_ARGUMENT");

  /* a missing extension library is named too */
  options.model_path = argv[1];
  options.extension_path = "/nonexistent/libmgdn_openvino.so";
  CHECK(mgdn_create(&options, &ctx) == MGDN_E_FILE, "missing extension gives MGDN_E_FILE");
  CHECK(strstr(mgdn_last_error(NULL), "/nonexistent/libmgdn_openvino.so") != NULL, "the message names the library");

  options.extension_path = argv[2];
  int status = mgdn_create(&options, &ctx);
  CHECK(status == MGDN_OK && ctx != NULL, "create");
  if (status != MGDN_OK) {
    fprintf(stderr, "%s\n", mgdn_last_error(NULL));
    return 1;
  }
  int32_t count = 0, in_c = 0, out_c = 0;
  CHECK(mgdn_input_count(ctx, &count) == MGDN_OK && count == 2, "two inputs");
  CHECK(mgdn_input_channels(ctx, 0, &in_c) == MGDN_OK && in_c == 3, "three input channels");
  CHECK(mgdn_input_channels(ctx, 5, &in_c) == MGDN_E_ARGUMENT, "an input index out of range");
  CHECK(mgdn_output_channels(ctx, &out_c) == MGDN_OK && out_c == 3, "three output channels");
  CHECK(strcmp(mgdn_task(ctx), "mff") == 0, "the task from the model's metadata");

  enum { H = 32, W = 40 };
  float* a = malloc(sizeof(float) * 3 * H * W);
  float* b = malloc(sizeof(float) * 3 * H * W);
  float* out = malloc(sizeof(float) * 3 * H * W);
  for (int i = 0; i < 3 * H * W; ++i) {
    a[i] = (float)(i % 97) / 96.0f;
    b[i] = (float)(i % 89) / 88.0f;
  }
  mgdn_tensor inputs[2] = {{a, 1, 3, H, W}, {b, 1, 3, H, W}};
  mgdn_output result = {out, (size_t)3 * H * W, 0, 0, 0, 0};

  /* wrong count, wrong channels, mismatched sizes, NaN, too small a buffer */
  CHECK(mgdn_fuse(ctx, inputs, 1, &result) == MGDN_E_INPUT, "one input of two");
  CHECK(strstr(mgdn_last_error(ctx), "takes 2 inputs") != NULL, "the count message");
  inputs[1].c = 1;
  CHECK(mgdn_fuse(ctx, inputs, 2, &result) == MGDN_E_INPUT, "wrong channels");
  CHECK(strstr(mgdn_last_error(ctx), "channels") != NULL, "the channels message");
  inputs[1].c = 3;
  inputs[1].w = W - 8;
  CHECK(mgdn_fuse(ctx, inputs, 2, &result) == MGDN_E_INPUT, "mismatched sizes");
  CHECK(strstr(mgdn_last_error(ctx), "share batch and size") != NULL, "the size message");
  inputs[1].w = W;
  a[5] = NAN;
  CHECK(mgdn_fuse(ctx, inputs, 2, &result) == MGDN_E_INPUT, "NaN input");
  CHECK(strstr(mgdn_last_error(ctx), "NaN or Inf") != NULL, "the NaN message");
  a[5] = 0.5f;
  result.capacity = 10;
  CHECK(mgdn_fuse(ctx, inputs, 2, &result) == MGDN_E_BUFFER, "too small a buffer");
  CHECK(result.c == 3 && result.h == H && result.w == W, "the shape needed");
  CHECK(mgdn_fuse(ctx, NULL, 2, &result) == MGDN_E_ARGUMENT, "NULL inputs");

  /* the real thing */
  result.capacity = (size_t)3 * H * W;
  CHECK(mgdn_fuse(ctx, inputs, 2, &result) == MGDN_OK, "fuse");
  CHECK(strcmp(mgdn_last_error(ctx), "") == 0, "no message after success");
  int finite = 1;
  for (int i = 0; i < 3 * H * W; ++i) finite &= isfinite(out[i]) != 0;
  CHECK(finite && result.n == 1 && result.c == 3, "a finite 1x3xHxW output");
  CHECK(mgdn_fuse(NULL, inputs, 2, &result) == MGDN_E_ARGUMENT, "NULL context");

  mgdn_release(ctx);
  mgdn_release(NULL); /* releasing nothing is fine */
  free(a);
  free(b);
  free(out);
  if (failures == 0) printf("ok\n");
  return failures == 0 ? 0 : 1;
}
