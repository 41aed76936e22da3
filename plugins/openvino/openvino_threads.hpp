// The shared kernels' threads: OpenVINO's own pool (TBB or OpenMP, whatever this OpenVINO was
// built with), so an op shares the cores the CPU plugin schedules instead of competing with it.
#pragma once

#include <functional>

#include <openvino/core/parallel.hpp>

#include "dynamic_filter_cpu.hpp"

namespace mgdn {

class OpenVinoThreads final : public cpu::ThreadTeam {
public:
    int max_threads() const override { return parallel_get_max_threads(); }
    void run(int nthr, const std::function<void(int, int)>& fn) override { ov::parallel_nt(nthr, fn); }
};

}  // namespace mgdn
