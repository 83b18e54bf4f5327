// Runs a scenario the way `prefcpu-sim run` does: every case twice on the same seed, once with
// governor "none" (the baseline) and once with the chosen governor.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "sim/params.h"
#include "sim/sim.h"

namespace prefcpu::sim {

struct RunOptions {
  std::string governor = "kernel";
  std::optional<std::uint32_t> interval_ms;
  std::optional<std::uint32_t> high_threshold;
  std::optional<std::uint32_t> low_threshold;
  std::optional<std::uint64_t> seed;
  // Shrinks every case (hackbench loops, run length) for quick runs; 1.0 is the scenario as is.
  double scale = 1.0;
  // Check the model's invariants after every event (slow; on in test builds).
  bool check_invariants = kCheckInvariantsByDefault;
};

struct VmResult {
  std::string name;
  std::string governor;
  Knobs knobs;
  std::string metric;
  double value = 0;
  bool finished = true;
  double steal_pct = 0;
  double mean_preferred = 0;
  std::uint32_t vcpus = 0;
  Ns cpu_ns = 0;
  // Time the VM ran after the first of its neighbours had finished (finite workloads): its result
  // is partly a solo run. 0 when every neighbour stayed busy until it finished.
  Ns solo_tail_ns = 0;
  // Governor intervals completed while the VM's workload ran (30 or more for a converged
  // governor, docs/simulator.md).
  std::uint64_t governor_intervals = 0;
  // Rounds of a finite workload completed: more than 1 when keep_neighbours_busy restarted it.
  std::uint32_t rounds = 0;
  VmStats stats;
};

struct CaseResult {
  std::string name;
  std::string governor;  // "none" for the baseline, else the chosen governor
  Ns end_ns = 0;
  std::uint64_t events = 0;
  std::uint32_t pcpus = 0;
  // Useful task work of every VM per pCPU-second of the run: waste removed raises it; capacity
  // moved from one VM to another does not.
  double host_useful_per_pcpu_s = 0;
  std::vector<VmResult> vms;
  std::vector<TimeseriesRow> timeseries;
};

struct Report {
  std::string scenario;
  std::uint64_t seed = 0;
  std::string governor;
  std::vector<CaseResult> results;  // per case: baseline, then the governor
};

// One case with one governor for every VM that does not pin its own (baseline: "none" for all).
Result<CaseResult> run_case(const Scenario& scenario, const CaseSpec& spec,
                            const RunOptions& options, bool baseline);

Result<Report> run_scenario(const Scenario& scenario, const RunOptions& options);

}  // namespace prefcpu::sim
