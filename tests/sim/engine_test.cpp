// Event ordering, the VM-sized mask, and steal accounting on a schedule computed by hand.
#include <gtest/gtest.h>

#include "sim/event_queue.h"
#include "sim_test_support.h"

namespace prefcpu::sim::testing {
namespace {

TEST(EventQueue, OrdersByTimeThenBySchedulingOrder) {
  EventQueue queue;
  queue.schedule(30, EventKind::kTick, 1, 0);
  queue.schedule(10, EventKind::kTick, 2, 0);
  queue.schedule(30, EventKind::kTick, 3, 0);
  queue.schedule(10, EventKind::kTick, 4, 0);
  queue.schedule(20, EventKind::kTick, 5, 0);
  std::vector<std::uint32_t> order;
  std::vector<Ns> times;
  while (!queue.empty()) {
    Event event = queue.pop();
    order.push_back(event.target);
    times.push_back(queue.now());
  }
  EXPECT_EQ(order, (std::vector<std::uint32_t>{2, 4, 5, 1, 3}));
  EXPECT_EQ(times, (std::vector<Ns>{10, 10, 20, 30, 30}));
}

TEST(EventQueue, EqualTimesStayFifoAcrossInterleavedPops) {
  EventQueue queue;
  queue.schedule(5, EventKind::kProgress, 1, 0);
  queue.schedule(5, EventKind::kProgress, 2, 0);
  EXPECT_EQ(queue.pop().target, 1U);
  queue.schedule(5, EventKind::kProgress, 3, 0);  // scheduled later at the same time: runs last
  EXPECT_EQ(queue.pop().target, 2U);
  EXPECT_EQ(queue.pop().target, 3U);
}

TEST(VcpuMask, WrapsAndIntersects) {
  VcpuMask all(70, true);
  EXPECT_EQ(all.count(), 70U);
  VcpuMask some = mask_of(70, {3, 65, 69});
  EXPECT_EQ(some.first_wrap_and(4, all, all), 65U);
  EXPECT_EQ(some.first_wrap_and(66, all, all), 69U);
  EXPECT_EQ(some.first_wrap_and(69, all, all), 69U);
  VcpuMask low = mask_of(70, {3});
  EXPECT_EQ(some.first_wrap_and(66, low, all), 3U);  // wraps past the end
  std::vector<std::uint32_t> seen;
  some.for_each_and(all, [&](std::uint32_t i) { seen.push_back(i); });
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{3, 65, 69}));
  EXPECT_EQ(VcpuMask::from_cpu_set(some.to_cpu_set(), 70).count(), 3U);
  EXPECT_EQ(format_cpulist(some.to_cpu_set()), "3,65,69");
}

// One pCPU, slice 3 ms, two vCPUs each with one task computing 10 ms. By hand (fair queue,
// ties to the lower vCPU id):
//   0-3 v0 | 3-6 v1 | 6-9 v0 | 9-12 v1 | 12-15 v0 | 15-18 v1 | 18-19 v0 (done) | 19-20 v1 (done)
// Steal (runnable, not running): v0 = 3-6, 9-12, 15-18 = 9 ms; v1 = 0-3, 6-9, 12-15, 18-19 = 10 ms.
TEST(StealAccounting, MatchesHandComputedSchedule) {
  auto sim = make_sim(bare_host(1), {idle_vm("vm1", 2, "none", 100)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(
                           std::vector<std::vector<Op>>{{compute(10 * kMs)}, {compute(10 * kMs)}}));
  sim->add_task(0, 0, 0);
  sim->add_task(0, 1, 1);
  sim->run_until(4 * kMs);
  EXPECT_EQ(sim->steal_ns(0), 1 * kMs);  // open wait since 3 ms
  EXPECT_EQ(sim->steal_ns(1), 3 * kMs);
  sim->run_until(21 * kMs);
  EXPECT_EQ(sim->steal_ns(0), 9 * kMs);
  EXPECT_EQ(sim->steal_ns(1), 10 * kMs);
  EXPECT_EQ(sim->vm_steal_ns(0), 19 * kMs);
  EXPECT_EQ(sim->vms()[0].stats.work_ns, 20 * kMs);
  EXPECT_EQ(sim->vms()[0].tasks_alive, 0U);
  // The governor sees /proc/stat ticks: 19 ms -> 1 tick of 10 ms over 100 ms x 2 vCPUs = 500 bp.
  sim->run_until(100 * kMs);
  ASSERT_FALSE(sim->timeseries().empty());
  EXPECT_DOUBLE_EQ(sim->timeseries().front().steal_pct, 5.0);
}

// A halted vCPU accrues no steal, whatever the host load.
TEST(StealAccounting, HaltedVcpuHasNoSteal) {
  auto sim = make_sim(bare_host(1), {idle_vm("vm1", 2)});
  ASSERT_TRUE(sim);
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(50 * kMs)}}));
  sim->add_task(0, 0, 0);
  sim->run_until(40 * kMs);
  EXPECT_EQ(sim->steal_ns(0), 0);
  EXPECT_EQ(sim->steal_ns(1), 0);
}

}  // namespace
}  // namespace prefcpu::sim::testing
