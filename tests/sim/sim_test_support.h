// Hand-built simulations for unit tests: a host, VMs with idle workloads, and tasks that follow
// a fixed list of Ops.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario.h"
#include "sim/sim.h"
#include "sim/workload.h"

namespace prefcpu::sim::testing {

// Task `local` runs ops[local] in order, then exits.
class ScriptWorkload final : public Workload {
 public:
  explicit ScriptWorkload(std::vector<std::vector<Op>> ops)
      : ops_(std::move(ops)), pc_(ops_.size(), 0) {}
  void setup(Simulation& /*sim*/, std::uint32_t /*vm*/) override {}
  bool finite() const override { return false; }
  Op next(Task& task, Vm& /*vm*/) override {
    const auto& program = ops_.at(task.local);
    std::size_t& pc = pc_.at(task.local);
    if (pc >= program.size()) return Op{OpKind::kExit, 0, 0};
    return program[pc++];
  }

 private:
  std::vector<std::vector<Op>> ops_;
  std::vector<std::size_t> pc_;  // next op, by task.local
};

inline Op compute(Ns ns) {
  return Op{OpKind::kCompute, 0, ns};
}
inline Op lock(std::uint32_t id) {
  return Op{OpKind::kLock, id, 0};
}
inline Op unlock(std::uint32_t id) {
  return Op{OpKind::kUnlock, id, 0};
}
inline Op sleep_for(Ns ns) {
  return Op{OpKind::kSleep, 0, ns};
}
inline Op pipe_write(std::uint32_t id) {
  return Op{OpKind::kPipeWrite, id, 0};
}
inline Op pipe_read(std::uint32_t id) {
  return Op{OpKind::kPipeRead, id, 0};
}

constexpr Ns kUs = 1'000;
constexpr Ns kMs = 1'000'000;

// A host with no switch, refill, polling, IPI or exit costs and no pause-loop exiting, and one
// global (work-conserving) host queue, so schedules can be computed by hand.
inline HostParams bare_host(std::uint32_t pcpus, Ns slice_ns = 3 * kMs) {
  HostParams host;
  host.pcpus = pcpus;
  host.queues = HostQueues::kGlobal;
  host.slice_ns = slice_ns;
  host.context_switch_ns = 0;
  host.refill = RefillKind::kFlat;
  host.refill_penalty_ns = 0;
  host.halt_poll_ns = 0;
  host.ipi_ns = 0;
  host.ple = false;
  host.exit_ns = 0;
  return host;
}

inline VmConfig idle_vm(const std::string& name, std::uint32_t vcpus, std::string governor = "none",
                        std::uint32_t interval_ms = 100) {
  VmConfig vm;
  vm.spec.name = name;
  vm.spec.vcpus = vcpus;
  vm.spec.guest.task_switch_ns = 0;
  vm.spec.workload.kind = WorkloadKind::kIdle;
  vm.governor = std::move(governor);
  vm.knobs.interval_ms = interval_ms;
  return vm;
}

inline std::unique_ptr<Simulation> make_sim(HostParams host, std::vector<VmConfig> vms,
                                            Ns duration_ns = 1'000 * kMs) {
  RunConfig config;
  config.host = host;
  config.vms = std::move(vms);
  config.duration_ns = duration_ns;
  config.check_invariants = true;
  auto sim = Simulation::create(config);
  EXPECT_TRUE(sim.ok()) << (sim.ok() ? "" : sim.error().message);
  return sim.ok() ? std::move(*sim) : nullptr;
}

// The message parse_scenario() rejects TEXT with, or "(no error)" when it accepts it.
inline std::string scenario_error(std::string_view text) {
  auto scenario = parse_scenario(text, "test.toml");
  return scenario.ok() ? std::string("(no error)") : scenario.error().message;
}

inline VcpuMask mask_of(std::uint32_t bits, std::initializer_list<std::uint32_t> members) {
  VcpuMask mask(bits);
  for (auto m : members) mask.set(m);
  return mask;
}

}  // namespace prefcpu::sim::testing
