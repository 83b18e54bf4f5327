// The guest's wakeup path and newidle balance as kernel/sched/fair.c (v6.12) has them:
// wake_affine() for WF_SYNC wakeups, the sched_balance_newidle() avg_idle gate and task_hot().
#include <gtest/gtest.h>

#include "sim_test_support.h"

namespace prefcpu::sim::testing {
namespace {

// vCPU 0: a task that computes 50 us and sleeps 20 us, so vCPU 0's avg_idle falls from 1 ms
// toward 20 us. vCPU 1: two tasks sleep at t = 0 and wake at 2 ms onto it (prev), where a third
// computes; vCPU 0 is busy then, so they queue. vCPU 0 next goes idle at 2.01 ms.
std::unique_ptr<Simulation> brief_idler(Ns newidle_lb_cost_ns) {
  VmConfig vm = idle_vm("vm1", 2);
  vm.spec.guest.newidle_lb_cost_ns = newidle_lb_cost_ns;
  auto sim = make_sim(bare_host(2), {vm});
  std::vector<Op> idler;
  for (int i = 0; i < 60; ++i) {
    idler.push_back(compute(50 * kUs));
    idler.push_back(sleep_for(20 * kUs));
  }
  sim->set_workload(0, std::make_unique<ScriptWorkload>(
                           std::vector<std::vector<Op>>{idler,
                                                        {sleep_for(2 * kMs), compute(20 * kMs)},
                                                        {sleep_for(2 * kMs), compute(20 * kMs)},
                                                        {compute(20 * kMs)}}));
  sim->add_task(0, 0, 0);
  for (std::uint32_t i = 1; i <= 3; ++i) sim->add_task(0, i, 1);
  return sim;
}

// sched_balance_newidle(): a vCPU whose average idle period is shorter than the domain's
// max_newidle_lb_cost does not pull. 500 us is the pre-v5.16 gate (sysctl_sched_migration_cost).
TEST(Wakeup, BrieflyIdleVcpuDoesNotNewidlePull) {
  auto sim = brief_idler(500 * kUs);
  ASSERT_TRUE(sim);
  sim->run_until(3900 * kUs);  // before the first tick's periodic balance and nohz kick
  EXPECT_LT(sim->vcpus()[0].avg_idle, 500 * kUs);
  EXPECT_EQ(sim->vcpus()[1].rq.size, 2U);
  EXPECT_EQ(sim->vms()[0].stats.pulls, 0U);
}

// The same schedule with the default (v6.12) gate: avg_idle (~45 us) is above the cost, so
// vCPU 0 pulls the task queued longest the first time it goes idle.
TEST(Wakeup, LongerAvgIdleThanBalanceCostPulls) {
  auto sim = brief_idler(5 * kUs);
  ASSERT_TRUE(sim);
  sim->run_until(2020 * kUs);
  EXPECT_GT(sim->vcpus()[0].avg_idle, 5 * kUs);
  EXPECT_EQ(sim->vms()[0].stats.pulls, 1U);
  EXPECT_EQ(sim->vcpus()[1].rq.size, 1U);
}

// can_migrate_task(): a task that left its vCPU less than sysctl_sched_migration_cost ago is
// cache-hot and stays. vCPU 1 rotates B off at its 4 ms tick (slice 1.5 ms); vCPU 0 goes idle at
// 4.1 ms and finds B queued but hot. It goes idle again at 4.7 ms, when B is cold, and takes it.
TEST(Wakeup, CacheHotTaskIsNotPulled) {
  auto sim = make_sim(bare_host(2), {idle_vm("vm1", 2)});
  ASSERT_TRUE(sim);
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
             {compute(4100 * kUs), sleep_for(500 * kUs), compute(100 * kUs), sleep_for(20 * kMs)},
             {compute(50 * kMs)},
             {compute(50 * kMs)}}));
  sim->add_task(0, 0, 0);
  std::uint32_t b = sim->add_task(0, 1, 1);
  std::uint32_t c = sim->add_task(0, 2, 1);
  sim->run_until(4050 * kUs);
  ASSERT_EQ(sim->vcpus()[1].current, c);
  ASSERT_EQ(sim->tasks()[b].state, TaskState::kRunnable);
  sim->run_until(4200 * kUs);
  EXPECT_EQ(sim->vcpus()[0].current, kNone);
  EXPECT_EQ(sim->tasks()[b].vcpu, 1U);
  EXPECT_EQ(sim->vms()[0].stats.pulls, 0U);
  sim->run_until(4750 * kUs);
  EXPECT_EQ(sim->vcpus()[0].current, b);
  EXPECT_EQ(sim->vms()[0].stats.pulls, 1U);
}

// wake_affine_idle(): a WF_SYNC wakeup (a pipe write) from a vCPU whose only task is the waker
// targets the waker's vCPU; with prev busy and no vCPU idle, select_idle_sibling() keeps it there.
// Without wake_affine the wakee would queue on prev (vCPU 1).
TEST(Wakeup, SyncWakeeJoinsWakerVcpu) {
  auto sim = make_sim(bare_host(2), {idle_vm("vm1", 2)});
  ASSERT_TRUE(sim);
  std::uint32_t p = sim->add_pipe(4, kNone);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(1 * kMs), pipe_write(p), compute(20 * kMs)},
                           {pipe_read(p), compute(1 * kMs)},
                           {compute(50 * kMs)}}));
  sim->add_task(0, 0, 0);
  std::uint32_t reader = sim->add_task(0, 1, 1);
  sim->add_task(0, 2, 1);
  sim->run_until(500 * kUs);
  ASSERT_EQ(sim->tasks()[reader].state, TaskState::kBlocked);
  ASSERT_EQ(sim->tasks()[reader].prev_vcpu, 1U);
  sim->run_until(1 * kMs + 1);
  EXPECT_EQ(sim->tasks()[reader].state, TaskState::kRunnable);
  EXPECT_EQ(sim->tasks()[reader].vcpu, 0U);
}

// select_idle_cpu() under SIS_UTIL: a busy LLC's scan depth is 0, so a wakeup whose target and
// prev are busy stays on the target even though another vCPU is idle. The depth is the one the
// periodic balance computed from the vCPUs' utilisation.
TEST(Wakeup, SisUtilStopsTheScanOnABusyLlc) {
  auto sim = make_sim(bare_host(4), {idle_vm("vm1", 4)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(
                           std::vector<std::vector<Op>>{{compute(300 * kMs)},
                                                        {compute(300 * kMs)},
                                                        {compute(300 * kMs)},
                                                        {compute(150 * kMs)},
                                                        {sleep_for(151 * kMs), compute(1 * kMs)}}));
  std::uint32_t sleeper = sim->add_task(0, 4, 1);  // runs first on vCPU 1, sleeps at once
  for (std::uint32_t i = 0; i < 4; ++i) sim->add_task(0, i, i);
  sim->run_until(150 * kMs + 500 * kUs);
  EXPECT_EQ(sim->vms()[0].nr_idle_scan, 0U);  // every vCPU busy for 150 ms
  ASSERT_EQ(sim->vcpus()[3].current, kNone);  // vCPU 3 idle since 150 ms
  sim->run_until(151 * kMs + 1);
  EXPECT_EQ(sim->tasks()[sleeper].vcpu, 1U);  // prev, although vCPU 3 is idle
}

}  // namespace
}  // namespace prefcpu::sim::testing
