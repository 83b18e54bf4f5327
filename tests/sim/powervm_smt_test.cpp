// Whole-core dispatch on the dispatch-window host (HostParams::smt > 1): a virtual processor's
// threads go on and off a core together, an idle thread still holds its core, busy threads share
// the core's throughput along HostParams::smt_core_pm, and a spinner never sees its own core's
// holder preempted (so never confers to it).
#include <gtest/gtest.h>

#include <string>

#include "sim/scenario.h"
#include "sim_test_support.h"

namespace prefcpu::sim {
namespace {

using testing::bare_host;
using testing::compute;
using testing::idle_vm;
using testing::kMs;
using testing::kUs;
using testing::make_sim;
using testing::scenario_error;
using testing::ScriptWorkload;

HostParams smt_host(std::uint32_t cores, std::uint32_t smt) {
  HostParams host = bare_host(cores);
  host.scheduler = HostKind::kDispatchWindow;
  host.profile = HostProfile::kPowerVm;
  host.smt = smt;
  return host;
}

VmConfig smt_vm(const std::string& name, std::uint32_t vcpus, std::uint32_t smt,
                double entitlement) {
  VmConfig vm = idle_vm(name, vcpus);
  vm.spec.guest.smt = smt;
  vm.spec.guest.spinlock = SpinlockKind::kQueued;
  vm.spec.guest.confer = true;
  vm.spec.guest.rq_lock = false;
  vm.spec.entitlement = entitlement;
  return vm;
}

bool running(const Simulation& sim, std::uint32_t v) {
  return sim.vcpus()[v].host == HostState::kRunning;
}

// One SMT2 core, two VMs of one virtual processor each. vm1 has work on its first thread only;
// vm2 on both. The core alternates between them whole: vm1's idle thread keeps vm2 off it.
TEST(PowerVmSmt, SiblingsAreDispatchedTogetherAndAnIdleSiblingHoldsTheCore) {
  auto sim = make_sim(smt_host(1, 2), {smt_vm("vm1", 2, 2, 0.5), smt_vm("vm2", 2, 2, 0.5)});
  ASSERT_TRUE(sim);
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(10'000 * kMs)}}));
  sim->add_task(0, 0, 0);
  sim->set_workload(1, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(10'000 * kMs)}, {compute(10'000 * kMs)}}));
  sim->add_task(1, 0, 0);
  sim->add_task(1, 1, 1);
  std::uint32_t vm1_on = 0;
  std::uint32_t vm2_on = 0;
  for (Ns t = 250 * kUs; t <= 1'000 * kMs; t += 250 * kUs) {
    sim->run_until(t);
    ASSERT_EQ(sim->check_invariants(), "");
    // vCPUs 0, 1: vm1; 2, 3: vm2. Never threads of both on the one core.
    bool vm1 = running(*sim, 0) || running(*sim, 1);
    bool vm2 = running(*sim, 2) || running(*sim, 3);
    ASSERT_FALSE(vm1 && vm2) << "at " << t;
    ASSERT_EQ(running(*sim, 2), running(*sim, 3)) << "vm2's threads apart at " << t;
    ASSERT_FALSE(running(*sim, 1));  // vm1's idle thread never runs
    if (vm1) ++vm1_on;
    if (vm2) ++vm2_on;
  }
  EXPECT_EQ(vm1_on + vm2_on, 4'000U);  // the core is never left free
  // Entitlement 0.5 each: half the core each, whole-core time, however many threads are busy.
  EXPECT_NEAR(vm1_on / 4'000.0, 0.5, 0.02);
  EXPECT_NEAR(static_cast<double>(sim->vm_cpu_ns(0)), 500.0 * kMs, 20.0 * kMs);
  EXPECT_NEAR(static_cast<double>(sim->vm_cpu_ns(1)), 2 * 500.0 * kMs, 40.0 * kMs);
  // vm2's threads wait whenever vm1 holds the core, though its second thread slot idles.
  EXPECT_NEAR(static_cast<double>(sim->steal_ns(3)), 500.0 * kMs, 20.0 * kMs);
}

// Uncapped capacity is shared by core time: a virtual processor with two busy threads and one
// with a single busy thread, neither entitled, take the core in turns at window boundaries and
// hold it half the time each (a thread-time order would give the two-thread one a third).
TEST(PowerVmSmt, ExcessIsSharedByCoreTimeNotThreadTime) {
  auto sim = make_sim(smt_host(1, 2), {smt_vm("vm1", 2, 2, 0.0), smt_vm("vm2", 2, 2, 0.0)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(10'000 * kMs)}, {compute(10'000 * kMs)}}));
  sim->add_task(0, 0, 0);
  sim->add_task(0, 1, 1);
  sim->set_workload(
      1, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(10'000 * kMs)}}));
  sim->add_task(1, 0, 0);
  std::uint32_t vm1_on = 0;
  for (Ns t = 500 * kUs; t <= 1'000 * kMs; t += 500 * kUs) {
    sim->run_until(t);
    if (running(*sim, 0)) ++vm1_on;
  }
  EXPECT_NEAR(vm1_on / 2'000.0, 0.5, 0.02);
}

// k busy threads of an SMT4 core each run at smt_core_pm[k] / k per mille: k tasks of 10 ms of
// work end together after 10 ms x k x 1000 / smt_core_pm[k] (10, 12.5, 16.7, 20 ms).
TEST(PowerVmSmt, CoreThroughputFollowsTheCurve) {
  for (std::uint32_t k : {1U, 2U, 3U, 4U}) {
    HostParams host = smt_host(1, 4);
    auto sim = make_sim(host, {smt_vm("vm", 4, 4, 1.0)});
    ASSERT_TRUE(sim);
    std::vector<std::vector<Op>> ops(k, std::vector<Op>{compute(10 * kMs)});
    sim->set_workload(0, std::make_unique<ScriptWorkload>(ops));
    for (std::uint32_t i = 0; i < k; ++i) sim->add_task(0, i, i);
    Ns end = 10 * kMs * k * 1'000 / host.smt_core_pm[k];
    sim->run_until(end - kUs);
    for (std::uint32_t v = 0; v < k; ++v) {
      EXPECT_EQ(sim->vcpus()[v].speed_pm, host.smt_core_pm[k] / k) << "k " << k;
      EXPECT_NE(sim->tasks()[v].state, TaskState::kDone) << "k " << k;
    }
    sim->run_until(end + kUs);
    for (std::uint32_t v = 0; v < k; ++v) {
      EXPECT_EQ(sim->tasks()[v].state, TaskState::kDone) << "k " << k;
    }
  }
}

// A sibling that finishes speeds the other up: two threads at 800 per mille (curve k = 2), then
// one alone. B's 20 ms of work ends at 25 ms; A has done 20 of its 100 ms by then and ends at
// 25 + 80 = 105 ms.
TEST(PowerVmSmt, AThreadSpeedsUpWhenItsSiblingStops) {
  auto sim = make_sim(smt_host(1, 2), {smt_vm("vm", 2, 2, 1.0)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(100 * kMs)}, {compute(20 * kMs)}}));
  std::uint32_t a = sim->add_task(0, 0, 0);
  std::uint32_t b = sim->add_task(0, 1, 1);
  sim->run_until(25 * kMs - kUs);
  EXPECT_NE(sim->tasks()[b].state, TaskState::kDone);
  sim->run_until(25 * kMs + kUs);
  EXPECT_EQ(sim->tasks()[b].state, TaskState::kDone);
  EXPECT_EQ(sim->vcpus()[0].speed_pm, 1'000U);  // alone on the core now
  sim->run_until(105 * kMs - kUs);
  EXPECT_NE(sim->tasks()[a].state, TaskState::kDone);
  sim->run_until(105 * kMs + kUs);
  EXPECT_EQ(sim->tasks()[a].state, TaskState::kDone);
  EXPECT_NEAR(static_cast<double>(sim->vms()[0].stats.work_ns), 120.0 * kMs, 10.0);
}

// vcpu_is_preempted() is false for the caller's own core: a spinner whose lock holder is its
// sibling thread is preempted with it, so it never finds the holder preempted and never confers.
// smt 2: one core shared by vm1's and vm2's virtual processors. smt 1 (the control): two pCPUs,
// vm2 one busy vCPU entitled to one of them, so vm1's two vCPUs take turns on the other, and the
// spinner runs while its holder waits: it confers.
std::uint64_t sibling_confers(std::uint32_t smt) {
  HostParams host = smt_host(smt == 1 ? 2 : 1, smt);
  auto sim = make_sim(host, {smt_vm("vm1", 2, smt, smt == 1 ? 1.0 : 0.5),
                             smt_vm("vm2", smt == 1 ? 1 : 2, smt, smt == 1 ? 1.0 : 0.5)});
  if (!sim) return ~std::uint64_t{0};
  std::uint32_t lk = sim->add_spinlock();
  // The holder computes 3 ms inside the lock, the spinner wants it; repeated for 300 ms.
  std::vector<Op> holder;
  std::vector<Op> spinner;
  for (int i = 0; i < 100; ++i) {
    holder.insert(holder.end(), {testing::lock(lk), compute(3 * kMs), testing::unlock(lk)});
    spinner.insert(spinner.end(),
                   {compute(100 * kUs), testing::lock(lk), compute(10 * kUs), testing::unlock(lk)});
  }
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{holder, spinner}));
  sim->add_task(0, 0, 0);
  sim->add_task(0, 1, 1);
  sim->set_workload(1, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(10'000 * kMs)}, {compute(10'000 * kMs)}}));
  sim->add_task(1, 0, 0);
  if (smt > 1) sim->add_task(1, 1, 1);
  sim->run_until(500 * kMs);
  EXPECT_EQ(sim->check_invariants(), "");
  return sim->vms()[0].stats.yields;
}

TEST(PowerVmSmt, ASpinnerNeverConfersToItsOwnCore) {
  EXPECT_EQ(sibling_confers(2), 0U);
  EXPECT_GT(sibling_confers(1), 0U);  // the same pair on separate pCPUs confers
}

TEST(PowerVmSmt, ConfigErrorsNameTheKeys) {
  // smt on the fair host.
  std::string fair = scenario_error(
      "name = \"t\"\n[host]\npcpus = 2\nsmt = 2\n[[vm]]\nvcpus = 4\n[vm.guest]\nsmt = 2\n");
  EXPECT_NE(fair.find("smt 2 with scheduler \"fair\""), std::string::npos) << fair;
  // A guest whose threads per core differ from the host's.
  std::string mismatch = scenario_error(
      "name = \"t\"\n[host]\npcpus = 2\nprofile = \"powervm\"\nsmt = 4\n[[vm]]\nvcpus = 4\n"
      "[vm.guest]\nsmt = 2\n");
  EXPECT_NE(mismatch.find("smt 2 on a host with smt 4: expected 4"), std::string::npos) << mismatch;
  // And a RunConfig built by hand.
  RunConfig config;
  config.host = smt_host(1, 2);
  config.vms = {smt_vm("vm", 3, 1, 1.0)};
  auto sim = Simulation::create(config);
  ASSERT_FALSE(sim.ok());
  EXPECT_NE(sim.error().message.find("vm \"vm\": [guest] smt 1 on a host with smt 2: expected 2"),
            std::string::npos)
      << sim.error().message;
  // A powervm scenario with smt parses and runs.
  auto good = parse_scenario(
      "name = \"t\"\nduration_s = 0.05\n[host]\npcpus = 1\nprofile = \"powervm\"\nsmt = 2\n"
      "[[vm]]\nvcpus = 4\n[vm.guest]\nsmt = 2\n[vm.workload]\nkind = \"cpu-bound\"\n",
      "test.toml");
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->host.smt, 2U);
}

}  // namespace
}  // namespace prefcpu::sim
