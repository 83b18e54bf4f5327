// The guest's run-queue lock (rq->__lock): __schedule() holds it across a task switch, and a waker
// activating a task on a busy vCPU takes that vCPU's lock (ttwu_queue()). A vCPU preempted inside
// its switch therefore stalls every waker that targets it: lock-holder preemption on the rq lock.
#include <gtest/gtest.h>

#include "sim_test_support.h"

namespace prefcpu::sim::testing {
namespace {

Op wake_select(std::uint32_t i) {
  return Op{OpKind::kWakeSelect, i, 0};
}
Op wake_up(std::uint32_t i) {
  return Op{OpKind::kWakeUp, i, 0};
}

VmConfig tcg_vm(std::uint32_t vcpus, Ns task_switch_ns, bool rq_lock) {
  VmConfig vm = idle_vm("vm1", vcpus);
  vm.spec.guest.spinlock = SpinlockKind::kTestAndSet;
  vm.spec.guest.pv_preempted = false;
  vm.spec.guest.task_switch_ns = task_switch_ns;
  vm.spec.guest.rq_lock = rq_lock;
  return vm;
}

TEST(RqLock, TheTaskSwitchHoldsTheVcpusRunQueueLock) {
  for (bool rq_lock : {true, false}) {
    auto sim = make_sim(bare_host(1), {tcg_vm(1, 10 * kUs, rq_lock)});
    ASSERT_NE(sim, nullptr);
    sim->set_workload(
        0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(1 * kMs)}}));
    std::uint32_t t = sim->add_task(0, 0, 0);
    std::uint32_t lock = sim->vcpus()[0].rq_lock;
    ASSERT_EQ(lock == kNone, !rq_lock);
    sim->run_until(5 * kUs);
    if (rq_lock) {
      EXPECT_EQ(sim->locks()[lock].owner, t);
    }
    sim->run_until(20 * kUs);
    if (rq_lock) {
      EXPECT_EQ(sim->locks()[lock].owner, kNone);
    }
    // The switch is overhead either way, and the work starts after it.
    sim->run_until(1'005 * kUs);
    EXPECT_EQ(sim->tasks()[t].state, TaskState::kRunning);
    sim->run_until(2 * kMs);
    EXPECT_EQ(sim->tasks()[t].state, TaskState::kDone);
    EXPECT_EQ(sim->vms()[0].stats.overhead_ns, 10 * kUs);
    EXPECT_EQ(sim->vms()[0].stats.work_ns, 1 * kMs);
    EXPECT_TRUE(sim->fault().empty()) << sim->fault();
  }
}

// Two tasks share one vCPU; the guest slice rotates them at ticks, and every switch back in runs
// its rq-lock section before the task's interrupted compute resumes with what it had left.
TEST(RqLock, AnInterruptedComputeResumesAfterTheSwitch) {
  auto sim = make_sim(bare_host(1), {tcg_vm(1, 10 * kUs, true)});
  ASSERT_NE(sim, nullptr);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(
                           std::vector<std::vector<Op>>{{compute(10 * kMs)}, {compute(10 * kMs)}}));
  sim->add_task(0, 0, 0);
  sim->add_task(0, 1, 0);
  sim->run_until(100 * kMs);
  const VmStats& stats = sim->vms()[0].stats;
  EXPECT_EQ(sim->vms()[0].tasks_alive, 0U);
  EXPECT_EQ(stats.work_ns, 20 * kMs);
  EXPECT_GE(stats.overhead_ns, 4 * 10 * kUs);  // rotated at least twice each way
  EXPECT_EQ(stats.overhead_ns % (10 * kUs), 0);
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
}

// One pCPU, slice 1 ms, two vCPUs (A = 0, B = 1), task switch 400 us. W on A computes, then writes
// to a pipe whose reader R blocked on B; B's second task X is switching in when B's slice ends at
// 2 ms, so B is preempted holding its rq lock. W wakes R at 2.2 ms: select_task_rq() picks B (R's
// previous vCPU and the only one it may use), B is busy, so W needs B's rq lock and spins, holding
// the pipe's wait-queue lock, until its own slice ends at 3 ms. Without the rq lock W never spins.
struct PreemptedSwitch {
  Ns w_spin_ns = 0;
  bool w_spins_on_b_at_2500us = false;
  std::uint32_t b_lock_owner_at_2500us = kNone;
  HostState b_at_2500us = HostState::kHalted;
  std::uint32_t x = kNone;
  std::uint8_t w_held_at_2500us = 0;
  bool r_woken = false;
};

PreemptedSwitch wake_onto_a_vcpu_preempted_in_its_switch(bool rq_lock) {
  PreemptedSwitch out;
  auto sim = make_sim(bare_host(1, 1 * kMs), {tcg_vm(2, 400 * kUs, rq_lock)});
  if (!sim) return out;
  std::uint32_t rd_wait = sim->add_spinlock();
  std::uint32_t pipe = sim->add_pipe(1, kNone, rd_wait, kNone);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(800 * kUs), pipe_write(pipe), lock(rd_wait), wake_select(0),
                            compute(1 * kUs), wake_up(0), unlock(rd_wait), compute(10 * kMs)},
                           {compute(300 * kUs), pipe_read(pipe), compute(10 * kMs)},
                           {compute(10 * kMs)}}));
  std::uint32_t w = sim->add_task(0, 0, 0);
  // R may run on B only: a WF_SYNC wakeup would otherwise go to W's vCPU (wake_affine()).
  std::uint32_t r = sim->add_task(0, 1, 1, sim->add_affinity(0, mask_of(2, {1})));
  out.x = sim->add_task(0, 2, 1);
  std::uint32_t b_lock = sim->vcpus()[1].rq_lock;
  sim->run_until(2'500 * kUs);
  const Task& wt = sim->tasks()[w];
  out.w_spins_on_b_at_2500us =
      rq_lock && wt.spinning && wt.op.kind == OpKind::kLock && wt.op.object == b_lock;
  if (rq_lock) out.b_lock_owner_at_2500us = sim->locks()[b_lock].owner;
  out.b_at_2500us = sim->vcpus()[1].host;
  out.w_held_at_2500us = wt.held.n;
  sim->run_until(6 * kMs);
  out.w_spin_ns = sim->vms()[0].stats.spin_ns;
  out.r_woken = sim->tasks()[r].state != TaskState::kBlocked;
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
  return out;
}

TEST(RqLock, AWakerSpinsOnTheRunQueueLockOfAVcpuPreemptedInItsSwitch) {
  PreemptedSwitch with = wake_onto_a_vcpu_preempted_in_its_switch(true);
  EXPECT_EQ(with.b_at_2500us, HostState::kWaiting);
  EXPECT_EQ(with.b_lock_owner_at_2500us, with.x);
  EXPECT_TRUE(with.w_spins_on_b_at_2500us);
  EXPECT_EQ(with.w_held_at_2500us, 1U);  // the wait-queue lock, with the rq lock still to come
  EXPECT_EQ(with.w_spin_ns, 800 * kUs);  // 2.2 ms to the end of its slice at 3 ms
  EXPECT_TRUE(with.r_woken);
  PreemptedSwitch without = wake_onto_a_vcpu_preempted_in_its_switch(false);
  EXPECT_EQ(without.w_spin_ns, 0);
  EXPECT_TRUE(without.r_woken);
}

}  // namespace
}  // namespace prefcpu::sim::testing
