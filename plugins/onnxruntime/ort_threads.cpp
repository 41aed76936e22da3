#include "ort_threads.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace mgdn {
namespace ort {
namespace {

// What the C callback of ParallelFor needs; exceptions stay on our side of the C API.
struct Job {
    const std::function<void(int, int)>* fn;
    int nthr;
    std::mutex mutex;
    std::exception_ptr error;
};

void run_part(void* data, size_t index) {
    Job& job = *static_cast<Job*>(data);
    try {
        (*job.fn)(static_cast<int>(index), job.nthr);
    } catch (...) {
        const std::lock_guard<std::mutex> lock(job.mutex);
        if (!job.error) job.error = std::current_exception();
    }
}

}  // namespace

int IntraOpThreads::max_threads() const {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void IntraOpThreads::run(int nthr, const std::function<void(int, int)>& fn) {
    Job job{&fn, nthr, {}, nullptr};
    if (nthr <= 1) {
        run_part(&job, 0);
    } else if (OrtStatus* status = api_.KernelContext_ParallelFor(context_, run_part, static_cast<size_t>(nthr),
                                                                   0, &job)) {
        const std::string message = api_.GetErrorMessage(status);
        api_.ReleaseStatus(status);
        throw std::runtime_error("ONNX Runtime could not run the op's threads: " + message);
    }
    if (job.error) std::rethrow_exception(job.error);
}

}  // namespace ort
}  // namespace mgdn
