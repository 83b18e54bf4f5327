// Locks that spin then block, vcpu_is_preempted, and bounded pipes.
#include <gtest/gtest.h>

#include "sim_test_support.h"

namespace prefcpu::sim::testing {
namespace {

// The lock tests' shape: an owner on vCPU 0 holds a new mutex around BODY; a waiter on vCPU 1
// takes it after 1 us of work.
struct OwnerAndWaiter {
  std::uint32_t lock = 0;
  std::uint32_t waiter = 0;
};
OwnerAndWaiter owner_and_waiter(Simulation& sim, const std::vector<Op>& body) {
  std::uint32_t l = sim.add_lock();
  std::vector<Op> owner{lock(l)};
  owner.insert(owner.end(), body.begin(), body.end());
  owner.push_back(unlock(l));
  sim.set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                          owner, {compute(1 * kUs), lock(l), compute(1 * kUs), unlock(l)}}));
  sim.add_task(0, 0, 0);
  return {l, sim.add_task(0, 1, 1)};
}

TEST(Lock, WaiterSpinsUntilReleaseWhileHolderRuns) {
  auto sim = make_sim(bare_host(2), {idle_vm("vm1", 2)});
  ASSERT_TRUE(sim);
  std::uint32_t l = owner_and_waiter(*sim, {compute(10 * kUs)}).lock;
  sim->run_until(1 * kMs);
  const VmStats& stats = sim->vms()[0].stats;
  EXPECT_EQ(stats.spin_ns, 9 * kUs);  // 1 us .. 10 us
  EXPECT_EQ(stats.lock_blocks, 0U);
  EXPECT_EQ(sim->vms()[0].tasks_alive, 0U);
  EXPECT_EQ(sim->locks()[l].owner, kNone);
}

// mutex_spin_on_owner() has no time limit: the waiter spins for as long as the owner runs, here
// 199 us, though spin_limit_ns (pv qspinlock's SPIN_THRESHOLD) is 50 us.
TEST(Lock, MutexWaiterSpinsWithoutLimitWhileTheOwnerRuns) {
  VmConfig vm = idle_vm("vm1", 2);
  vm.spec.guest.spin_limit_ns = 50 * kUs;
  auto sim = make_sim(bare_host(2), {vm});
  ASSERT_TRUE(sim);
  std::uint32_t waiter = owner_and_waiter(*sim, {compute(200 * kUs)}).waiter;
  sim->run_until(100 * kUs);
  EXPECT_EQ(sim->tasks()[waiter].state, TaskState::kRunning);
  sim->run_until(1 * kMs);
  EXPECT_EQ(sim->tasks()[waiter].state, TaskState::kDone);
  EXPECT_EQ(sim->vms()[0].stats.spin_ns, 199 * kUs);
  EXPECT_EQ(sim->vms()[0].stats.lock_blocks, 0U);
}

// owner_on_cpu() is false for an owner that sleeps holding the mutex: the waiter blocks at once
// and is woken at the release.
TEST(Lock, MutexWaiterBlocksWhenTheOwnerIsOffCpu) {
  auto sim = make_sim(bare_host(2), {idle_vm("vm1", 2)});
  ASSERT_TRUE(sim);
  std::uint32_t waiter = owner_and_waiter(*sim, {sleep_for(200 * kUs)}).waiter;
  sim->run_until(100 * kUs);
  EXPECT_EQ(sim->tasks()[waiter].state, TaskState::kBlocked);
  EXPECT_EQ(sim->vms()[0].stats.spin_ns, 0);
  EXPECT_EQ(sim->vms()[0].stats.lock_blocks, 1U);
  sim->run_until(1 * kMs);
  EXPECT_EQ(sim->tasks()[waiter].state, TaskState::kDone);
}

// The owner runs 50 us, then sleeps holding the mutex: the waiter, spinning since 1 us, stops at
// once and blocks (49 us spun) instead of spinning until the release at 250 us.
TEST(Lock, MutexSpinnerBlocksWhenTheOwnerFallsAsleep) {
  auto sim = make_sim(bare_host(2), {idle_vm("vm1", 2)});
  ASSERT_TRUE(sim);
  std::uint32_t waiter = owner_and_waiter(*sim, {compute(50 * kUs), sleep_for(200 * kUs)}).waiter;
  sim->run_until(100 * kUs);
  EXPECT_EQ(sim->tasks()[waiter].state, TaskState::kBlocked);
  EXPECT_EQ(sim->vms()[0].stats.spin_ns, 49 * kUs);
  EXPECT_EQ(sim->vms()[0].stats.lock_blocks, 1U);
  sim->run_until(1 * kMs);
  EXPECT_EQ(sim->tasks()[waiter].state, TaskState::kDone);
}

// Two pCPUs, slice 3 ms. The holder's vCPU runs from 0; the waiter's from 0.5 ms; a second VM's
// vCPU becomes runnable at 1 ms and preempts the holder's vCPU at 3 ms (lowest vruntime).
// With vcpu_is_preempted the waiter stops spinning at 3 ms (2.5 ms spun); without it, it spins
// on until its own vCPU is preempted at 3.5 ms (3 ms spun).
Ns spin_with_holder_preempted(bool pv, std::uint64_t* holder_preemptions,
                              std::uint64_t* lock_blocks) {
  VmConfig vm = idle_vm("vm1", 2);
  vm.spec.guest.spin_limit_ns = 20 * kMs;
  vm.spec.guest.pv_preempted = pv;
  auto sim = make_sim(bare_host(2), {vm, idle_vm("vm2", 1)});
  if (!sim) return -1;
  std::uint32_t l = sim->add_lock();
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
  sim->run_until(3600 * kUs);
  *holder_preemptions = sim->vms()[0].stats.holder_preemptions;
  *lock_blocks = sim->vms()[0].stats.lock_blocks;
  return sim->vms()[0].stats.spin_ns;
}

TEST(Lock, VcpuIsPreemptedStopsSpinning) {
  std::uint64_t preemptions = 0;
  std::uint64_t blocks = 0;
  EXPECT_EQ(spin_with_holder_preempted(true, &preemptions, &blocks), 2500 * kUs);
  EXPECT_EQ(preemptions, 1U);
  EXPECT_EQ(blocks, 1U);
  EXPECT_EQ(spin_with_holder_preempted(false, &preemptions, &blocks), 3000 * kUs);
  EXPECT_EQ(preemptions, 1U);
  EXPECT_EQ(blocks, 0U);
}

TEST(Pipe, WriterBlocksWhenFullAndReaderWhenEmpty) {
  auto sim = make_sim(bare_host(2), {idle_vm("vm1", 2)});
  ASSERT_TRUE(sim);
  std::uint32_t p = sim->add_pipe(2, kNone);
  std::vector<Op> writer;
  for (int i = 0; i < 5; ++i) {
    writer.push_back(compute(1 * kUs));
    writer.push_back(pipe_write(p));
  }
  std::vector<Op> reader{sleep_for(1 * kMs)};
  for (int i = 0; i < 6; ++i) {
    reader.push_back(pipe_read(p));
    reader.push_back(compute(1 * kUs));
  }
  sim->set_workload(0,
                    std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{writer, reader}));
  std::uint32_t w = sim->add_task(0, 0, 0);
  std::uint32_t r = sim->add_task(0, 1, 1);
  sim->run_until(500 * kUs);
  EXPECT_EQ(sim->pipes()[p].count, 2U);  // full
  EXPECT_EQ(sim->tasks()[w].state, TaskState::kBlocked);
  EXPECT_EQ(sim->pipes()[p].writers.size, 1U);
  sim->run_until(5 * kMs);
  EXPECT_EQ(sim->tasks()[w].state, TaskState::kDone);
  EXPECT_EQ(sim->vms()[0].stats.units, 5U);               // five messages read
  EXPECT_EQ(sim->tasks()[r].state, TaskState::kBlocked);  // the sixth read waits forever
  EXPECT_EQ(sim->pipes()[p].readers.size, 1U);
  EXPECT_EQ(sim->pipes()[p].count, 0U);
}

}  // namespace
}  // namespace prefcpu::sim::testing
