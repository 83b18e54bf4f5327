// Host pieces: switch cost and cache refill, halt polling, and the dispatch-window entitlement.
#include <gtest/gtest.h>

#include "sim_test_support.h"

namespace prefcpu::sim::testing {
namespace {

// The flat refill: exec_from = 3 us after dispatch; refill at 50 % speed until 6.7 us of work is
// lost (13.4 us); so 1 ms of work ends at 3 us + 13.4 us + (1 ms - 6.7 us) = 1,009,700 ns.
TEST(Host, SwitchCostAndRefillDelayWork) {
  HostParams host = bare_host(1);
  host.context_switch_ns = 3 * kUs;
  host.refill = RefillKind::kFlat;
  host.refill_penalty_ns = 6700;
  host.refill_speed_pct = 50;
  auto sim = make_sim(host, {idle_vm("vm1", 1)});
  ASSERT_TRUE(sim);
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(1 * kMs)}}));
  std::uint32_t task = sim->add_task(0, 0, 0);
  sim->run_until(1'009'699);
  EXPECT_EQ(sim->tasks()[task].state, TaskState::kRunning);
  sim->run_until(1'009'700);
  EXPECT_EQ(sim->tasks()[task].state, TaskState::kDone);
  EXPECT_EQ(sim->vms()[0].stats.work_ns, 1 * kMs);
  EXPECT_EQ(sim->vms()[0].stats.host_switches, 1U);
}

TEST(Host, HaltPollingKeepsThePcpuAndResumesWithoutSwitch) {
  HostParams host = bare_host(2);
  host.halt_poll_ns = 200 * kUs;
  host.context_switch_ns = 3 * kUs;
  auto sim = make_sim(host, {idle_vm("vm1", 1)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(10 * kUs), sleep_for(50 * kUs), compute(10 * kUs)}}));
  std::uint32_t task = sim->add_task(0, 0, 0);
  sim->run_until(30 * kUs);
  EXPECT_EQ(sim->vcpus()[0].host, HostState::kPolling);  // guest idle, pCPU kept
  sim->run_until(80 * kUs);  // woken at 63 us inside the window, no second switch
  EXPECT_EQ(sim->tasks()[task].state, TaskState::kDone);
  EXPECT_EQ(sim->vms()[0].stats.host_switches, 1U);
  EXPECT_EQ(sim->vms()[0].stats.halts, 0U);
  sim->run_until(400 * kUs);  // the second poll window ran out
  EXPECT_EQ(sim->vcpus()[0].host, HostState::kHalted);
  EXPECT_EQ(sim->vms()[0].stats.halts, 1U);
}

// On the global queue and on per-pCPU queues (single_task_running() on the polling pCPU).
TEST(Host, PollingStopsWhenAnotherVcpuIsRunnable) {
  for (HostQueues queues : {HostQueues::kGlobal, HostQueues::kPerCpu}) {
    HostParams host = bare_host(1);
    host.queues = queues;
    host.halt_poll_ns = 200 * kUs;
    auto sim = make_sim(host, {idle_vm("vm1", 2)});
    ASSERT_TRUE(sim);
    sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                             {compute(10 * kUs)}, {compute(1 * kMs)}}));
    sim->add_task(0, 0, 0);
    sim->run_until(20 * kUs);
    EXPECT_EQ(sim->vcpus()[0].host, HostState::kPolling);
    sim->add_task(0, 1, 1);
    EXPECT_EQ(sim->vcpus()[0].host, HostState::kHalted);
    EXPECT_EQ(sim->vcpus()[1].host, HostState::kRunning);
    EXPECT_EQ(sim->steal_ns(1), 0);
  }
}

// With every pCPU busy, a woken vCPU waits on its previous pCPU's queue (select_idle_sibling()
// returns its target), here pCPU v mod 2 for vCPUs that never ran, not on one shared queue.
TEST(Host, AWokenVcpuWaitsOnItsPreviousPcpu) {
  HostParams host = bare_host(2);
  host.queues = HostQueues::kPerCpu;
  auto sim = make_sim(host, {idle_vm("vm1", 4)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(
                           std::vector<std::vector<Op>>(4, std::vector<Op>{compute(100 * kMs)})));
  for (std::uint32_t i = 0; i < 4; ++i) sim->add_task(0, i, i);
  sim->run_until(1 * kMs);
  EXPECT_EQ(sim->vcpus()[2].queued_on, 0U);
  EXPECT_EQ(sim->vcpus()[3].queued_on, 1U);
  EXPECT_EQ(sim->pcpus()[0].queue.size(), 1U);
  EXPECT_EQ(sim->pcpus()[1].queue.size(), 1U);
}

// Three vCPUs on two pCPUs with per-pCPU queues. vCPU 2 wakes with both pCPUs busy and waits on
// its previous pCPU's queue (select_idle_sibling() falls back to prev), pCPU 0 here. At 1 ms
// vCPU 1 halts: pCPU 1 goes newly idle and pulls vCPU 2, which is cache-cold (it never ran), so
// it waited exactly 1 ms. Without the newidle pull it would wait for pCPU 0's slice, 3 ms.
TEST(Host, NewlyIdlePcpuPullsAWaiterFromABusyQueue) {
  HostParams host = bare_host(2);
  host.queues = HostQueues::kPerCpu;
  auto sim = make_sim(host, {idle_vm("vm1", 3)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(100 * kMs)}, {compute(1 * kMs)}, {compute(100 * kMs)}}));
  for (std::uint32_t i = 0; i < 3; ++i) sim->add_task(0, i, i);
  sim->run_until(500 * kUs);
  EXPECT_EQ(sim->vcpus()[2].host, HostState::kWaiting);
  EXPECT_EQ(sim->vcpus()[2].queued_on, 0U);
  sim->run_until(1 * kMs);
  EXPECT_EQ(sim->vcpus()[1].host, HostState::kHalted);
  EXPECT_EQ(sim->vcpus()[2].pcpu, 1U);
  EXPECT_EQ(sim->steal_ns(2), 1 * kMs);
  EXPECT_EQ(sim->vms()[0].stats.host_migrations, 1U);
}

// The non-work-conserving window. Slices of 1 ms on two pCPUs: vCPUs 0 and 2 share pCPU 0 and
// swap every slice; vCPU 1 halts at 1.2 ms, 0.2 ms after vCPU 0 was preempted. vCPU 0 is
// cache-hot (sysctl_sched_migration_cost 0.5 ms), so the newly idle pCPU 1 does not pull it and
// idles while vCPUs take turns on pCPU 0, until the host tick at 4 ms (HZ 250) kicks the nohz
// idle balance, which pulls the waiter preempted at 3 ms. The global queue never idles a pCPU.
TEST(Host, PerCpuQueuesLeaveAPcpuIdleUntilTheTickBalance) {
  auto run = [](HostQueues queues, Ns until) {
    HostParams host = bare_host(2, 1 * kMs);
    host.queues = queues;
    auto sim = make_sim(host, {idle_vm("vm1", 3)});
    EXPECT_TRUE(sim);
    sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                             {compute(100 * kMs)}, {compute(1200 * kUs)}, {compute(100 * kMs)}}));
    for (std::uint32_t i = 0; i < 3; ++i) sim->add_task(0, i, i);
    sim->run_until(until);
    return sim;
  };
  auto idle = run(HostQueues::kPerCpu, 3900 * kUs);
  EXPECT_EQ(idle->pcpus()[1].current, kNone);
  EXPECT_EQ(idle->vcpus()[0].host, HostState::kWaiting);
  EXPECT_EQ(idle->vms()[0].stats.host_migrations, 0U);
  auto pulled = run(HostQueues::kPerCpu, 4 * kMs);
  EXPECT_EQ(pulled->vcpus()[0].pcpu, 1U);
  EXPECT_EQ(pulled->steal_ns(0), 2 * kMs);  // waited 1-2 ms and 3-4 ms
  EXPECT_EQ(pulled->vms()[0].stats.host_migrations, 1U);
  auto global = run(HostQueues::kGlobal, 3900 * kUs);  // work-conserving: no pCPU idles
  EXPECT_NE(global->pcpus()[0].current, kNone);
  EXPECT_NE(global->pcpus()[1].current, kNone);
}

// Two pCPUs, 10 ms windows; vm1 is entitled to 1.5 processing units, vm2 to 0.5, and both are
// busy on two vCPUs each: vm1 gets 3/4 of the host.
TEST(Host, DispatchWindowGuaranteesEntitlement) {
  HostParams host = bare_host(2);
  host.scheduler = HostKind::kDispatchWindow;
  VmConfig vm1 = idle_vm("vm1", 2);
  vm1.spec.entitlement = 1.5;
  VmConfig vm2 = idle_vm("vm2", 2);
  vm2.spec.entitlement = 0.5;
  auto sim = make_sim(host, {vm1, vm2});
  ASSERT_TRUE(sim);
  for (std::uint32_t vm = 0; vm < 2; ++vm) {
    sim->set_workload(vm, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                              {compute(10'000 * kMs)}, {compute(10'000 * kMs)}}));
    sim->add_task(vm, 0, 0);
    sim->add_task(vm, 1, 1);
  }
  sim->run_until(1'000 * kMs);
  double vm1_cpu = static_cast<double>(sim->vm_cpu_ns(0));
  double vm2_cpu = static_cast<double>(sim->vm_cpu_ns(1));
  EXPECT_NEAR(vm1_cpu / (vm1_cpu + vm2_cpu), 0.75, 0.01);
  EXPECT_NEAR(vm1_cpu + vm2_cpu, 2.0 * 1'000 * kMs, 1.0 * kMs);
  // And the same host as a fair scheduler splits by runnable vCPUs: half each.
  host.scheduler = HostKind::kFair;
  auto fair = make_sim(host, {vm1, vm2});
  ASSERT_TRUE(fair);
  for (std::uint32_t vm = 0; vm < 2; ++vm) {
    fair->set_workload(vm, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                               {compute(10'000 * kMs)}, {compute(10'000 * kMs)}}));
    fair->add_task(vm, 0, 0);
    fair->add_task(vm, 1, 1);
  }
  fair->run_until(1'000 * kMs);
  EXPECT_NEAR(static_cast<double>(fair->vm_cpu_ns(0)) / (2.0 * 1'000 * kMs), 0.5, 0.01);
}

}  // namespace
}  // namespace prefcpu::sim::testing
