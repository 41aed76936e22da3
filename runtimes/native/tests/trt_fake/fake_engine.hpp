// The fake engine's serialised form and its closed-form computation, shared by the fake runtime
// (which deserialises and runs it) and the fake builder (which writes it from a parsed network).
//
// A text blob, one record a line:
//   MGDN-FAKE-ENGINE
//   plugin NAME                                   the engine holds layers of this plugin creator
//   input NAME C WEIGHT  minN minH minW  optN optH optW  maxN maxH maxW
//   output NAME C BIAS
//   type NAME half                                (optional: the tensor is not float32)
//   fail enqueue                                  (optional: enqueueV3 fails, logging why)
//   end                                           (a blob without it is truncated)
// and out[n, c, h, w] = BIAS + sum over inputs i of WEIGHT_i * in_i[n, c % C_i, h, w].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fake {

struct Tensor {
  std::string name;
  bool input = true;
  int64_t channels = 0;
  float scale = 0.f;           // input weight, or the output's bias
  int64_t lo[3]{}, opt[3]{}, hi[3]{};  // N, H, W of the profile (inputs)
  bool half = false;
};

struct Engine {
  std::vector<Tensor> io;
  std::string plugin;  // "" : none needed
  bool fail_enqueue = false;
};

// False with `why` when the blob is not a complete fake engine.
bool parse_engine(const std::string& blob, Engine& engine, std::string& why);
std::string write_engine(const Engine& engine);

}  // namespace fake
