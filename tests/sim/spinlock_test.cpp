// Kernel spinlocks under each host profile's policy: native qspinlock spins without limit and
// hands over in FIFO order (a preempted queue head stalls the lock), virt_spin_lock's
// test-and-set gives the lock to whoever runs, pv qspinlock halts after SPIN_THRESHOLD and is
// kicked, PLE yields to a preempted vCPU in the kernel, H_CONFER to a preempted owner.
#include <gtest/gtest.h>

#include "sim_test_support.h"

namespace prefcpu::sim::testing {
namespace {

VmConfig spin_vm(const std::string& name, std::uint32_t vcpus, SpinlockKind kind) {
  VmConfig vm = idle_vm(name, vcpus);
  vm.spec.guest.spinlock = kind;
  vm.spec.guest.spin_limit_ns = 50 * kUs;
  return vm;
}

// Two pCPUs, no preemption: the holder holds for 10 ms, the waiter asks at 1 us.
struct Uncontended {
  Ns spin_ns = 0;
  std::uint64_t pv_waits = 0;
  std::uint64_t pv_kicks = 0;
  bool halted_at_100us = false;
  bool done = false;
};

Uncontended wait_for_a_running_holder(SpinlockKind kind) {
  Uncontended out;
  auto sim = make_sim(bare_host(2), {spin_vm("vm1", 2, kind)});
  if (!sim) return out;
  std::uint32_t l = sim->add_spinlock();
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {lock(l), compute(10 * kMs), unlock(l)},
                           {compute(1 * kUs), lock(l), compute(1 * kUs), unlock(l)}}));
  sim->add_task(0, 0, 0);
  std::uint32_t waiter = sim->add_task(0, 1, 1);
  sim->run_until(100 * kUs);
  out.halted_at_100us =
      sim->tasks()[waiter].pv_halted && sim->vcpus()[1].host == HostState::kHalted;
  sim->run_until(20 * kMs);
  const VmStats& stats = sim->vms()[0].stats;
  out.spin_ns = stats.spin_ns;
  out.pv_waits = stats.pv_waits;
  out.pv_kicks = stats.pv_kicks;
  out.done = sim->vms()[0].tasks_alive == 0 && sim->fault().empty();
  EXPECT_EQ(stats.lock_blocks, 0U);  // a spinlock never sleeps in the guest
  return out;
}

TEST(Spinlock, NativeSpinsTheWholeWaitWhereAMutexWouldBlock) {
  Uncontended q = wait_for_a_running_holder(SpinlockKind::kQueued);
  EXPECT_EQ(q.spin_ns, 10 * kMs - 1 * kUs);  // spin_limit_ns (50 us) does not apply
  EXPECT_EQ(q.pv_waits, 0U);
  EXPECT_FALSE(q.halted_at_100us);
  EXPECT_TRUE(q.done);
  Uncontended tas = wait_for_a_running_holder(SpinlockKind::kTestAndSet);
  EXPECT_EQ(tas.spin_ns, 10 * kMs - 1 * kUs);
  EXPECT_TRUE(tas.done);
}

TEST(Spinlock, ParavirtHaltsAfterTheThresholdAndIsKickedAtUnlock) {
  Uncontended pv = wait_for_a_running_holder(SpinlockKind::kParavirt);
  EXPECT_EQ(pv.spin_ns, 50 * kUs);  // SPIN_THRESHOLD, then pv_wait()
  EXPECT_TRUE(pv.halted_at_100us);
  EXPECT_EQ(pv.pv_waits, 1U);
  EXPECT_EQ(pv.pv_kicks, 1U);
  EXPECT_TRUE(pv.done);
}

// Two pCPUs, slice 3 ms, vm1 with three vCPUs. W1 (vCPU 0, from 0) asks for the lock at 1 ms; H
// (vCPU 1, from 0.5 ms) holds it from 0.5 to 3.3 ms; W2 (vCPU 2) becomes runnable at 1 ms and
// takes vCPU 0's pCPU at 3 ms, where it queues behind W1. At 3.3 ms H releases. Native qspinlock
// hands the lock to W1, whose vCPU waits until 3.5 ms (H's slice): W2 spins 3.0 .. 3.501 ms.
// Test-and-set gives it to W2 at once (3.0 .. 3.3 ms). W1 spins 1 .. 3 ms either way.
struct WaiterPreemption {
  Ns spin_ns = 0;
  std::uint32_t owner_at_3400us = kNone;
  HostState w1_vcpu_at_3400us = HostState::kHalted;
  std::uint32_t w1 = kNone;
  std::uint32_t w2 = kNone;
};

WaiterPreemption preempted_queue_head(SpinlockKind kind) {
  WaiterPreemption out;
  auto sim = make_sim(bare_host(2), {spin_vm("vm1", 3, kind)});
  if (!sim) return out;
  std::uint32_t l = sim->add_spinlock();
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(1 * kMs), lock(l), compute(1 * kUs), unlock(l)},
                           {lock(l), compute(2800 * kUs), unlock(l), compute(10 * kMs)},
                           {lock(l), compute(1 * kUs), unlock(l)}}));
  out.w1 = sim->add_task(0, 0, 0);
  sim->run_until(500 * kUs);
  sim->add_task(0, 1, 1);
  sim->run_until(1 * kMs);
  out.w2 = sim->add_task(0, 2, 2);
  sim->run_until(3400 * kUs);
  out.owner_at_3400us = sim->locks()[l].owner;
  out.w1_vcpu_at_3400us = sim->vcpus()[0].host;
  sim->run_until(20 * kMs);
  out.spin_ns = sim->vms()[0].stats.spin_ns;
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
  EXPECT_EQ(sim->tasks()[out.w1].state, TaskState::kDone);
  EXPECT_EQ(sim->tasks()[out.w2].state, TaskState::kDone);
  return out;
}

TEST(Spinlock, PreemptedQueueHeadStallsFifoHandoff) {
  WaiterPreemption q = preempted_queue_head(SpinlockKind::kQueued);
  EXPECT_EQ(q.owner_at_3400us, q.w1);  // handed to W1, whose vCPU is not running
  EXPECT_EQ(q.w1_vcpu_at_3400us, HostState::kWaiting);
  EXPECT_EQ(q.spin_ns, 2000 * kUs + 501 * kUs);
  WaiterPreemption tas = preempted_queue_head(SpinlockKind::kTestAndSet);
  EXPECT_NE(tas.owner_at_3400us, tas.w1);  // W2 took it and is done with it
  EXPECT_EQ(tas.spin_ns, 2000 * kUs + 300 * kUs);
}

// The holder's vCPU runs from 0, the waiter's from 0.5 ms; vm2's vCPU becomes runnable at 1 ms
// and takes the holder's pCPU at 3 ms.
struct Yield {
  HostState holder_vcpu = HostState::kHalted;
  std::uint32_t holder_pcpu = kNone;
  std::uint64_t yields = 0;
  std::uint64_t ple_exits = 0;
};

Yield holder_preempted(bool ple, bool confer, Ns look_at) {
  Yield out;
  HostParams host = bare_host(2);
  host.ple = ple;
  host.ple_window_ns = 2600 * kUs;  // one exit, at 3.1 ms
  VmConfig vm = spin_vm("vm1", 2, SpinlockKind::kQueued);
  vm.spec.guest.confer = confer;
  auto sim = make_sim(host, {vm, idle_vm("vm2", 1)});
  if (!sim) return out;
  std::uint32_t l = sim->add_spinlock();
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
             {lock(l), compute(10 * kMs), unlock(l)}, {lock(l), compute(1 * kUs), unlock(l)}}));
  sim->set_workload(
      1, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(100 * kMs)}}));
  sim->add_task(0, 0, 0);
  sim->run_until(500 * kUs);
  sim->add_task(0, 1, 1);
  sim->run_until(1 * kMs);
  sim->add_task(1, 0, 0);
  sim->run_until(look_at);
  out.holder_vcpu = sim->vcpus()[0].host;
  out.holder_pcpu = sim->vcpus()[0].pcpu;
  out.yields = sim->vms()[0].stats.yields;
  out.ple_exits = sim->vms()[0].stats.ple_exits;
  sim->run_until(30 * kMs);
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
  EXPECT_EQ(sim->vms()[0].tasks_alive, 0U);
  return out;
}

TEST(Spinlock, PauseLoopExitYieldsToThePreemptedHoldersVcpu) {
  Yield with = holder_preempted(true, false, 3200 * kUs);
  EXPECT_EQ(with.ple_exits, 1U);
  EXPECT_EQ(with.yields, 1U);
  EXPECT_EQ(with.holder_vcpu, HostState::kRunning);
  EXPECT_EQ(with.holder_pcpu, 1U);  // the spinner's pCPU
  Yield without = holder_preempted(false, false, 3200 * kUs);
  EXPECT_EQ(without.ple_exits, 0U);
  EXPECT_EQ(without.holder_vcpu, HostState::kWaiting);
}

TEST(Spinlock, HConferGivesTheSpinnersPcpuToThePreemptedOwner) {
  Yield with = holder_preempted(false, true, 3010 * kUs);
  EXPECT_EQ(with.yields, 1U);
  EXPECT_EQ(with.holder_vcpu, HostState::kRunning);
  EXPECT_EQ(with.holder_pcpu, 1U);
  Yield without = holder_preempted(false, false, 3010 * kUs);
  EXPECT_EQ(without.yields, 0U);
  EXPECT_EQ(without.holder_vcpu, HostState::kWaiting);
}

// spin_lock() disables preemption: a waiter on a non-preferred vCPU is not pushed at the tick
// while it waits (nor while it holds the lock), only once it has released it.
TEST(Spinlock, WaiterIsNotPushedOffANonPreferredVcpu) {
  auto sim = make_sim(bare_host(2), {spin_vm("vm1", 2, SpinlockKind::kQueued)});
  ASSERT_TRUE(sim);
  std::uint32_t l = sim->add_spinlock();
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
             {lock(l), compute(20 * kMs), unlock(l)},
             {compute(1 * kUs), lock(l), compute(10 * kMs), unlock(l), compute(10 * kMs)}}));
  sim->add_task(0, 0, 0);
  std::uint32_t waiter = sim->add_task(0, 1, 1);
  sim->run_until(1 * kMs);
  sim->set_preferred(0, mask_of(2, {0}));
  sim->run_until(25 * kMs);  // ticks at 4, 8, ... ms: spinning, then holding
  EXPECT_EQ(sim->vms()[0].stats.pushes, 0U);
  EXPECT_EQ(sim->tasks()[waiter].vcpu, 1U);
  sim->run_until(35 * kMs);  // released at 30 ms, pushed at the 32 ms tick
  EXPECT_EQ(sim->vms()[0].stats.pushes, 1U);
  EXPECT_EQ(sim->tasks()[waiter].vcpu, 0U);
}

// A small overcommitted hackbench (wakeups under the wait-queue spinlocks) under every policy,
// with the invariants checked after every event: spinner queues, pv-halted vCPUs, yields.
TEST(Spinlock, HackbenchUnderEveryPolicyKeepsTheInvariants) {
  struct Policy {
    SpinlockKind kind;
    bool ple;
    bool confer;
  };
  for (Policy policy :
       {Policy{SpinlockKind::kQueued, false, false},
        Policy{SpinlockKind::kTestAndSet, false, false},
        Policy{SpinlockKind::kParavirt, true, false}, Policy{SpinlockKind::kQueued, false, true}}) {
    HostParams host = bare_host(2, 1 * kMs);
    host.ple = policy.ple;
    host.ple_window_ns = 2 * kUs;
    host.exit_ns = 500;
    host.ipi_ns = 1 * kUs;
    host.halt_poll_ns = policy.ple ? 20 * kUs : 0;
    std::vector<VmConfig> vms;
    for (const char* name : {"vm1", "vm2"}) {
      VmConfig vm = spin_vm(name, 4, policy.kind);
      vm.spec.guest.confer = policy.confer;
      vm.spec.guest.pv_preempted = policy.ple;
      vm.spec.workload.kind = WorkloadKind::kHackbench;
      vm.spec.workload.groups = 1;
      vm.spec.workload.fds = 4;
      vm.spec.workload.loops = 20;
      vm.spec.workload.pipe_capacity = 4;
      vms.push_back(vm);
    }
    RunConfig config;
    config.host = host;
    config.vms = vms;
    config.duration_ns = 10'000 * kMs;
    config.check_invariants = true;
    auto sim = Simulation::create(config);
    ASSERT_TRUE(sim.ok()) << sim.error().message;
    (*sim)->run();
    SCOPED_TRACE(static_cast<int>(policy.kind));
    EXPECT_TRUE((*sim)->fault().empty()) << (*sim)->fault();
    for (const Vm& vm : (*sim)->vms()) {
      EXPECT_EQ(vm.tasks_alive, 0U) << vm.name;
      EXPECT_EQ(vm.stats.units, 4U * 4U * 20U) << vm.name;  // every message read
    }
  }
}

}  // namespace
}  // namespace prefcpu::sim::testing
