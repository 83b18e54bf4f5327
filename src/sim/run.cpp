#include "sim/run.h"

#include <cmath>

#include "sim/oracle.h"
#include "sim/workload.h"

namespace prefcpu::sim {

namespace {

Result<Knobs> resolve_knobs(const Scenario& scenario, const VmSpec& vm, const RunOptions& options) {
  Knobs knobs = scenario.knobs;
  if (options.interval_ms) knobs.interval_ms = *options.interval_ms;
  if (options.high_threshold) knobs.high_threshold = *options.high_threshold;
  if (options.low_threshold) knobs.low_threshold = *options.low_threshold;
  // A VM's own knobs in the scenario win, as its own governor does.
  if (vm.interval_ms) knobs.interval_ms = *vm.interval_ms;
  if (vm.high_threshold) knobs.high_threshold = *vm.high_threshold;
  if (vm.low_threshold) knobs.low_threshold = *vm.low_threshold;
  if (auto status = validate_knobs(knobs); !status) {
    return make_error("vm \"{}\": {}", vm.name, status.error().message);
  }
  return knobs;
}

WorkloadParams scaled(WorkloadParams params, double scale) {
  if (scale < 1.0) {
    params.loops = std::max(1U, static_cast<std::uint32_t>(std::ceil(params.loops * scale)));
    params.iterations =
        std::max(1U, static_cast<std::uint32_t>(std::ceil(params.iterations * scale)));
  }
  return params;
}

}  // namespace

Result<CaseResult> run_case(const Scenario& scenario, const CaseSpec& spec,
                            const RunOptions& options, bool baseline) {
  RunConfig config;
  config.host = scenario.host;
  config.seed = options.seed.value_or(scenario.seed);
  config.check_invariants = options.check_invariants;
  config.random_governor_phase = scenario.random_governor_phase;
  config.keep_neighbours_busy = scenario.keep_neighbours_busy;
  double scale = options.scale > 0 && options.scale < 1.0 ? options.scale : 1.0;
  config.duration_ns =
      std::max<Ns>(1, static_cast<Ns>(static_cast<double>(scenario.duration_ns) * scale));
  for (const VmSpec& vm : spec.vms) {
    auto knobs = resolve_knobs(scenario, vm, options);
    if (!knobs) return knobs.error();
    VmConfig cfg{vm, baseline ? "none" : vm.governor.value_or(options.governor), *knobs};
    cfg.spec.workload = scaled(vm.workload, scale);
    // The schedule shrinks with the run, so that a step keeps its place in it.
    for (LoadPhase& phase : cfg.spec.load) {
      phase.at_ns = static_cast<Ns>(static_cast<double>(phase.at_ns) * scale);
      phase.ramp_ns = static_cast<Ns>(static_cast<double>(phase.ramp_ns) * scale);
    }
    config.vms.push_back(std::move(cfg));
  }
  auto sim = Simulation::create(config);
  if (!sim) return sim.error();
  Ns end = (*sim)->run();
  if (!(*sim)->fault().empty()) return make_error("the model broke: {}", (*sim)->fault());
  CaseResult result;
  result.name = spec.name;
  result.governor = baseline ? "none" : options.governor;
  result.end_ns = end;
  result.events = (*sim)->events();
  result.timeseries = (*sim)->timeseries();
  const auto& vms = (*sim)->vms();
  // A VM is measured until its workload's first round ends (finite) or the run ends; it loads
  // the host until then, or to the end of the run when kept busy.
  auto measured_until = [&](const Vm& vm) {
    return vm.finite && vm.done_at >= 0 ? vm.done_at : end;
  };
  auto busy_until = [&](const Vm& vm) {
    return scenario.keep_neighbours_busy ? end : measured_until(vm);
  };
  result.pcpus = scenario.host.pcpus;
  Ns useful = 0;
  for (const Vm& vm : vms) useful += vm.stats.work_ns;
  result.host_useful_per_pcpu_s =
      end > 0 ? static_cast<double>(useful) / (static_cast<double>(end) * scenario.host.pcpus)
              : 0.0;
  for (std::uint32_t i = 0; i < vms.size(); ++i) {
    const Vm& vm = vms[i];
    VmResult r;
    r.name = vm.name;
    r.governor = vm.governor;
    r.knobs = vm.knobs;
    r.metric = std::string(metric_name(vm.kind));
    r.value = metric_value(vm.kind, vm, end);
    r.finished = !vm.finite || vm.done_at >= 0;
    r.vcpus = vm.vcpus;
    r.steal_pct = end > 0 ? static_cast<double>((*sim)->vm_steal_ns(i)) * 100.0 /
                                (static_cast<double>(end) * vm.vcpus)
                          : 0.0;
    r.mean_preferred = (*sim)->mean_preferred(i);
    r.stats = vm.stats;
    r.cpu_ns = (*sim)->vm_cpu_ns(i);
    r.rounds = vm.rounds;
    Ns mine = measured_until(vm);
    for (std::uint32_t j = 0; j < vms.size(); ++j) {
      if (j != i) r.solo_tail_ns = std::max(r.solo_tail_ns, mine - busy_until(vms[j]));
    }
    Ns interval = static_cast<Ns>(vm.knobs.interval_ms) * 1'000'000;
    if (mine > vm.governor_phase_ns) {
      r.governor_intervals = static_cast<std::uint64_t>((mine - vm.governor_phase_ns) / interval);
    }
    result.vms.push_back(std::move(r));
  }
  return result;
}

Result<Report> run_scenario(const Scenario& scenario, const RunOptions& options) {
  if (auto governor = make_sim_governor(options.governor); !governor) {
    return make_error("--governor: {}", governor.error().message);
  }
  Knobs knobs = scenario.knobs;
  if (options.interval_ms) knobs.interval_ms = *options.interval_ms;
  if (options.high_threshold) knobs.high_threshold = *options.high_threshold;
  if (options.low_threshold) knobs.low_threshold = *options.low_threshold;
  if (auto status = validate_knobs(knobs); !status) {
    return make_error("--interval-ms/--high/--low on scenario {}: {}", scenario.name,
                      status.error().message);
  }
  Report report;
  report.scenario = scenario.name;
  report.seed = options.seed.value_or(scenario.seed);
  report.governor = options.governor;
  for (const CaseSpec& spec : scenario.cases) {
    for (bool baseline : {true, false}) {
      auto result = run_case(scenario, spec, options, baseline);
      if (!result) return make_error("case \"{}\": {}", spec.name, result.error().message);
      report.results.push_back(std::move(*result));
    }
  }
  return report;
}

}  // namespace prefcpu::sim
