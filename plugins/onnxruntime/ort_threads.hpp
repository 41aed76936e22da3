// Threads for the shared CPU kernel inside ONNX Runtime.
#pragma once

#include <onnxruntime_c_api.h>

#include <functional>

#include "dynamic_filter_cpu.hpp"

namespace mgdn {
namespace ort {

// The session's own intra-op thread pool, through OrtApi::KernelContext_ParallelFor. Sharing
// it keeps the op on the threads ONNX Runtime already runs (and spins) for the session, sized by
// its intra_op_num_threads, instead of a second pool competing with them for the cores. (A
// persistent std::thread pool measured the same on the op alone and on the MFF model at 256x256,
// 2 cores, within the machine's noise; sharing needs no threads of our own.)
// max_threads() is the machine's hardware concurrency: parts beyond the pool's size simply run
// one after another on its threads.
class IntraOpThreads final : public cpu::ThreadTeam {
public:
    IntraOpThreads(const OrtApi& api, const OrtKernelContext* context) : api_(api), context_(context) {}
    int max_threads() const override;
    // Throws std::runtime_error with ONNX Runtime's message when ParallelFor fails, and rethrows
    // the first exception a part threw (after every part has finished).
    void run(int nthr, const std::function<void(int, int)>& fn) override;

private:
    const OrtApi& api_;
    const OrtKernelContext* context_;
};

}  // namespace ort
}  // namespace mgdn
