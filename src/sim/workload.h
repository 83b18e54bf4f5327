// What the guest tasks do: hackbench-like message passing, an OLTP-like transaction mix,
// CPU-bound spinners, a spinlock loop, or nothing. Each workload is a per-task program of Ops.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "sim/sim.h"

namespace prefcpu::sim {

class Workload {
 public:
  virtual ~Workload() = default;
  // Creates the workload's locks, pipes and tasks in `vm`, at time 0.
  virtual void setup(Simulation& sim, std::uint32_t vm) = 0;
  virtual Op next(Task& task, Vm& vm) = 0;
  // A finite workload ends the run when it (and every other finite one) is done.
  virtual bool finite() const { return false; }
  // A finite workload's next round (keep_neighbours_busy): its tasks' programs start over.
  virtual void restart() {}
  // The tasks are threads of one process, so a TLB shootdown targets every vCPU running one of
  // them; false: one process per task (hackbench's default), whose shootdowns target nobody else.
  virtual bool shares_mm() const { return true; }
};

// `load`: the VM's load schedule; only oltp and cpu-bound take one (the scenario checks).
std::unique_ptr<Workload> make_workload(const WorkloadParams& params,
                                        const std::vector<LoadPhase>& load);

// The lock-holder-preemption microbenchmark (spinbench.cpp).
std::unique_ptr<Workload> make_spinbench(const WorkloadParams& params);

std::string_view workload_kind_name(WorkloadKind kind);
// "time_s", "tps" or "work".
std::string_view metric_name(WorkloadKind kind);
// The VM's metric over a run that ended at end_ns.
double metric_value(WorkloadKind kind, const Vm& vm, Ns end_ns);
// Per-second throughput in the units of metric_value's rate (messages, transactions, CPU-s).
double throughput(WorkloadKind kind, std::uint64_t units, Ns work_ns, Ns interval_ns);

}  // namespace prefcpu::sim
