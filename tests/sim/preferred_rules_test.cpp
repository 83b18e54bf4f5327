// The merged kernel's preferred-CPU rules (kernel-spec.md §3), one test each.
#include <gtest/gtest.h>

#include "sim_test_support.h"

namespace prefcpu::sim::testing {
namespace {

std::uint32_t vcpu_of(const Simulation& sim, std::uint32_t task) {
  return sim.tasks()[task].vcpu;
}

// §3.1: a wakeup that would land on a non-preferred vCPU falls back to the lowest-numbered
// allowed preferred vCPU.
TEST(PreferredRules, WakeupFallsBackToLowestAllowedPreferred) {
  auto sim = make_sim(bare_host(4), {idle_vm("vm1", 4)});
  ASSERT_TRUE(sim);
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
             {sleep_for(1 * kMs), compute(10 * kMs)}, {sleep_for(1 * kMs), compute(10 * kMs)}}));
  std::uint32_t any = sim->add_task(0, 0, 3);
  std::uint32_t not_zero = sim->add_task(0, 1, 3, sim->add_affinity(0, mask_of(4, {1, 2, 3})));
  sim->set_preferred(0, mask_of(4, {0, 1}));
  sim->run_until(1 * kMs + 1);
  EXPECT_EQ(vcpu_of(*sim, any), 0U);       // prev (3) is idle but not preferred
  EXPECT_EQ(vcpu_of(*sim, not_zero), 1U);  // lowest allowed preferred
}

// §3.1: a task whose affinity holds no preferred vCPU keeps running where it may.
TEST(PreferredRules, TaskPinnedToNonPreferredStays) {
  auto sim = make_sim(bare_host(4), {idle_vm("vm1", 4)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(
                           std::vector<std::vector<Op>>{{sleep_for(1 * kMs), compute(20 * kMs)}}));
  std::uint32_t pinned = sim->add_task(0, 0, 3, sim->add_affinity(0, mask_of(4, {3})));
  sim->set_preferred(0, mask_of(4, {0, 1}));
  sim->run_until(15 * kMs);  // woken at 1 ms, then three ticks on a non-preferred vCPU
  EXPECT_EQ(vcpu_of(*sim, pinned), 3U);
  EXPECT_EQ(sim->tasks()[pinned].state, TaskState::kRunning);
  EXPECT_EQ(sim->vms()[0].stats.pushes, 0U);
}

// §3.4: the running task leaves a non-preferred vCPU at that vCPU's next tick (HZ 250: 4 ms).
TEST(PreferredRules, RunningTaskPushedAtNextTick) {
  auto sim = make_sim(bare_host(4), {idle_vm("vm1", 4)});
  ASSERT_TRUE(sim);
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(50 * kMs)}}));
  std::uint32_t task = sim->add_task(0, 0, 3);
  sim->run_until(1 * kMs);
  sim->set_preferred(0, mask_of(4, {0, 1}));
  sim->run_until(4 * kMs - 1);
  EXPECT_EQ(vcpu_of(*sim, task), 3U);
  sim->run_until(4 * kMs + 1);
  EXPECT_EQ(vcpu_of(*sim, task), 0U);
  EXPECT_EQ(sim->vms()[0].stats.pushes, 1U);
}

// §3.4: a preempted vCPU does not tick; its pending tick runs when it gets a pCPU back.
// One pCPU, slice 10 ms: vCPU 3 runs 0-10 ms, vCPU 0 runs 10-15 ms (its task then exits). The
// tick due on vCPU 3 at 12 ms is not delivered while it waits; the mask changes at 11 ms; the
// push happens when vCPU 3 runs again at 15 ms, not at 12 ms.
TEST(PreferredRules, PreemptedVcpuDoesNotTick) {
  auto sim = make_sim(bare_host(1, 10 * kMs), {idle_vm("vm1", 4)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(
                           std::vector<std::vector<Op>>{{compute(50 * kMs)}, {compute(5 * kMs)}}));
  std::uint32_t task = sim->add_task(0, 0, 3);
  sim->add_task(0, 1, 0);
  sim->run_until(11 * kMs);
  EXPECT_EQ(sim->vcpus()[3].host, HostState::kWaiting);
  sim->set_preferred(0, mask_of(4, {0, 1, 2}));
  sim->run_until(15 * kMs - 1);
  EXPECT_EQ(sim->vcpus()[3].host, HostState::kWaiting);
  EXPECT_TRUE(sim->vcpus()[3].tick_pending);
  EXPECT_EQ(vcpu_of(*sim, task), 3U);
  EXPECT_EQ(sim->vms()[0].stats.pushes, 0U);
  sim->run_until(15 * kMs);
  EXPECT_EQ(sim->vms()[0].stats.pushes, 1U);
  EXPECT_EQ(vcpu_of(*sim, task), 0U);  // select_fallback_rq(): lowest allowed preferred
}

// §3.3: newly idle balance pulls only from preferred vCPUs, and only from one with more than
// one runnable task.
TEST(PreferredRules, BalanceOnlyAmongPreferred) {
  auto sim = make_sim(bare_host(4), {idle_vm("vm1", 4)});
  ASSERT_TRUE(sim);
  std::vector<std::vector<Op>> ops(7, {compute(100 * kMs)});
  ops[0] = {compute(1 * kMs)};
  sim->set_workload(0, std::make_unique<ScriptWorkload>(ops));
  sim->set_preferred(0, mask_of(4, {0, 1}));
  sim->add_task(0, 0, 0);  // vCPU 0: done at 1 ms, then newly idle
  for (std::uint32_t i = 1; i <= 3; ++i) sim->add_task(0, i, 2);  // non-preferred, 3 tasks
  for (std::uint32_t i = 4; i <= 6; ++i) sim->add_task(0, i, 1);  // preferred, 3 tasks
  sim->run_until(2 * kMs);
  std::uint32_t current = sim->vcpus()[0].current;
  ASSERT_NE(current, kNone);
  EXPECT_GE(sim->tasks()[current].local, 4U);  // came from vCPU 1, not vCPU 2
  EXPECT_EQ(sim->vcpus()[2].rq.size, 2U);
  EXPECT_EQ(sim->vms()[0].stats.pulls, 1U);
}

// A non-preferred vCPU that goes idle does not pull (sched_balance_newidle returns early).
TEST(PreferredRules, NonPreferredVcpuDoesNotPull) {
  auto sim = make_sim(bare_host(4), {idle_vm("vm1", 4)});
  ASSERT_TRUE(sim);
  std::vector<std::vector<Op>> ops(4, {compute(100 * kMs)});
  ops[0] = {compute(1 * kMs)};
  sim->set_workload(0, std::make_unique<ScriptWorkload>(ops));
  sim->set_preferred(0, mask_of(4, {0, 1}));
  sim->add_task(0, 0, 3);
  for (std::uint32_t i = 1; i <= 3; ++i) sim->add_task(0, i, 1);
  sim->run_until(2 * kMs);
  EXPECT_EQ(sim->vcpus()[3].current, kNone);
  EXPECT_EQ(sim->vcpus()[3].host, HostState::kHalted);
  EXPECT_EQ(sim->vms()[0].stats.pulls, 0U);
}

}  // namespace
}  // namespace prefcpu::sim::testing
