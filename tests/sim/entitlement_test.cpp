// Entitlement on the dispatch-window host: PowerVM spreads a VM's entitled capacity evenly over
// its virtual processors (HostParams::entitlement_by), so a VM that runs on fewer of them is
// entitled to less; "partition" keeps one budget per VM.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "sim/scenario.h"
#include "sim_test_support.h"

namespace prefcpu::sim {
namespace {

using testing::bare_host;
using testing::compute;
using testing::idle_vm;
using testing::kMs;
using testing::make_sim;
using testing::scenario_error;
using testing::ScriptWorkload;

struct Shares {
  double vm1 = 0;
  double vm2 = 0;
};

// One core of `smt` threads, two VMs each entitled to half of it: vm1 of two virtual processors,
// only the first busy (one thread), vm2 of one, busy (one thread). Each VM's share of the core
// over 1 s.
Shares lone_vp_shares(std::uint32_t smt, EntitlementScope scope) {
  HostParams host = bare_host(1);
  host.scheduler = HostKind::kDispatchWindow;
  host.profile = HostProfile::kPowerVm;
  host.smt = smt;
  host.entitlement_by = scope;
  std::vector<VmConfig> vms;
  for (std::uint32_t vps : {2U, 1U}) {
    VmConfig vm = idle_vm(vms.empty() ? "vm1" : "vm2", vps * smt);
    vm.spec.guest.smt = smt;
    vm.spec.guest.rq_lock = false;
    vm.spec.entitlement = 0.5;
    vms.push_back(vm);
  }
  auto sim = make_sim(host, vms);
  EXPECT_TRUE(sim);
  if (!sim) return {};
  for (std::uint32_t vm = 0; vm < 2; ++vm) {
    sim->set_workload(vm, std::make_unique<ScriptWorkload>(
                              std::vector<std::vector<Op>>{{compute(10'000 * kMs)}}));
    sim->add_task(vm, 0, 0);
  }
  for (Ns t = 10 * kMs; t <= 1'000 * kMs; t += 10 * kMs) {
    sim->run_until(t);
    EXPECT_EQ(sim->check_invariants(), "") << "at " << t;
  }
  return {static_cast<double>(sim->vm_cpu_ns(0)) / (1'000.0 * kMs),
          static_cast<double>(sim->vm_cpu_ns(1)) / (1'000.0 * kMs)};
}

// Per virtual processor, vm1's busy one is entitled to a quarter of the core (2.5 ms a window; its
// idle sibling's quarter goes unused), per partition to vm1's whole half. Each VM gets at least
// its guarantee; the excess goes by window (here to vm2, which holds the core when entitlement
// runs out, so vm1 gets its quarter exactly).
TEST(Entitlement, AVirtualProcessorIsEntitledToItsShareOnly) {
  for (std::uint32_t smt : {1U, 2U}) {
    Shares vp = lone_vp_shares(smt, EntitlementScope::kVirtualProcessor);
    EXPECT_NEAR(vp.vm1, 0.25, 0.02) << "smt " << smt;
    EXPECT_GE(vp.vm2, 0.5 - 0.02) << "smt " << smt;
    EXPECT_NEAR(vp.vm1 + vp.vm2, 1.0, 0.01) << "smt " << smt;
    Shares partition = lone_vp_shares(smt, EntitlementScope::kPartition);
    EXPECT_NEAR(partition.vm1, 0.5, 0.02) << "smt " << smt;
    EXPECT_NEAR(partition.vm2, 0.5, 0.02) << "smt " << smt;
  }
}

// The key reaches the host, and PowerVM's way is the default.
TEST(Entitlement, TheScenarioKeyChoosesTheScope) {
  const std::string base = "name = \"t\"\n[host]\npcpus = 4\nprofile = \"powervm\"\n";
  const std::string vm = "[[vm]]\nvcpus = 2\n";
  auto fallback = parse_scenario(base + vm, "test.toml");
  ASSERT_TRUE(fallback.ok()) << fallback.error().message;
  EXPECT_EQ(fallback->host.entitlement_by, EntitlementScope::kVirtualProcessor);
  for (auto [name, scope] : {std::pair{"partition", EntitlementScope::kPartition},
                             std::pair{"virtual-processor", EntitlementScope::kVirtualProcessor}}) {
    auto parsed = parse_scenario(base + "entitlement_by = \"" + name + "\"\n" + vm, "test.toml");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->host.entitlement_by, scope) << name;
  }
}

TEST(Entitlement, ConfigErrorsNameTheKeys) {
  std::string over = scenario_error(
      "name = \"t\"\n[host]\npcpus = 4\nprofile = \"powervm\"\n[[vm]]\nvcpus = 2\n"
      "entitlement = 2.5\n");
  EXPECT_NE(over.find("entitlement 2.5 over 2 virtual processors: expected at most 2"),
            std::string::npos)
      << over;
  std::string smt_over = scenario_error(
      "name = \"t\"\n[host]\npcpus = 4\nprofile = \"powervm\"\nsmt = 2\n[[vm]]\nvcpus = 4\n"
      "entitlement = 3\n[vm.guest]\nsmt = 2\n");
  EXPECT_NE(smt_over.find("over 2 virtual processors: expected at most 2"), std::string::npos)
      << smt_over;
  std::string scope = scenario_error(
      "name = \"t\"\n[host]\npcpus = 4\nprofile = \"powervm\"\nentitlement_by = \"vm\"\n[[vm]]\n"
      "vcpus = 2\n");
  EXPECT_NE(scope.find("entitlement_by"), std::string::npos) << scope;
  EXPECT_NE(scope.find("virtual-processor"), std::string::npos) << scope;
  EXPECT_NE(scope.find("partition"), std::string::npos) << scope;
  // And a RunConfig built by hand.
  HostParams host = bare_host(4);
  host.scheduler = HostKind::kDispatchWindow;
  VmConfig vm = idle_vm("big", 2);
  vm.spec.entitlement = 3.0;
  RunConfig config;
  config.host = host;
  config.vms = {vm};
  auto sim = Simulation::create(config);
  ASSERT_FALSE(sim.ok());
  EXPECT_NE(sim.error().message.find("vm \"big\": entitlement 3 over 2 virtual processors"),
            std::string::npos)
      << sim.error().message;
}

}  // namespace
}  // namespace prefcpu::sim
