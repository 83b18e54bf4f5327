// The guest scheduler of each VM: per-vCPU run queues, wakeup placement, newidle and periodic
// balance, the guest tick and slice, and the merged kernel's preferred-CPU rules
// (kernel-spec.md §3): fallback at wakeup, balance among preferred only, push at tick.
#pragma once

#include "sim/state.h"

namespace prefcpu::sim {

class HostScheduler;
class TaskExecutor;

class GuestScheduler {
 public:
  GuestScheduler(World& world, HostScheduler& host, TaskExecutor& exec)
      : w_(world), host_(host), exec_(exec) {}

  const VcpuMask& allowed(const Task& t) const;
  // Queues a runnable task on v and gets v going if it is not. `waker` pays the IPI, if any.
  void enqueue_task(std::uint32_t v, std::uint32_t t, std::uint32_t waker);
  // A blocked task becomes runnable on the vCPU select_task_rq() picks. `sync`: WF_SYNC, the
  // waker is about to sleep (pipe wakeups, wake_up_interruptible_sync_poll()).
  void wake_task(std::uint32_t t, std::uint32_t waker, bool sync = false);
  // try_to_wake_up() in two steps, so the waker can take the target's rq lock in between:
  // select_task_rq() for blocked task t, then the rq lock the activation takes there.
  std::uint32_t ttwu_select(std::uint32_t t, std::uint32_t waker, bool sync) {
    return select_vcpu(t, waker, sync);
  }
  std::uint32_t ttwu_rq_lock(std::uint32_t target, std::uint32_t waker) const;
  // ttwu_do_activate(): closes v's idle period (avg_idle), then queues t there.
  void ttwu_activate(std::uint32_t v, std::uint32_t t, std::uint32_t waker);
  // Runs the guest on an executing vCPU until its current task needs time, or it goes idle.
  void run(std::uint32_t v);
  // sched_tick() on an executing vCPU: push off a non-preferred vCPU, slice expiry, balance.
  void tick(std::uint32_t v);
  void arm_tick(std::uint32_t v);

  // Events.
  void on_tick(std::uint32_t v, std::uint32_t gen);
  void on_task_wake(std::uint32_t t, std::uint32_t gen);

 private:
  // Who runs a balance: sched_balance_newidle(), the nohz idle balancer, the periodic balance.
  enum class Balance : std::uint8_t { kNewIdle, kIdle, kBusy };

  bool vcpu_idle(const Vcpu& v) const;
  bool available_idle(const Vm& vm, std::uint32_t local) const;
  std::uint32_t select_vcpu(std::uint32_t t, std::uint32_t waker, bool sync);
  void record_wakee(Task& waker, std::uint32_t wakee);
  bool wake_wide(const Task& waker, const Task& wakee, const Vm& vm) const;
  std::uint32_t wake_affine(const Vm& vm, std::uint32_t this_cpu, std::uint32_t prev,
                            bool sync) const;
  std::uint32_t select_idle_sibling(Task& t, std::uint32_t prev, std::uint32_t target);
  std::uint32_t select_idle_cpu(const Task& t, std::uint32_t target) const;
  std::uint32_t fallback_vcpu(const Task& t) const;
  void update_util(Vcpu& vc) const;
  void update_idle_cpu_scan(Vm& vm);
  void update_avg_idle(Vcpu& vc) const;
  bool task_hot(const Task& t, const Vm& vm) const;
  bool idle_balance(std::uint32_t v, bool kicked);
  void rq_push_tail(std::uint32_t v, std::uint32_t t);
  void rq_remove(std::uint32_t v, std::uint32_t t);
  std::uint32_t rq_pop_head(std::uint32_t v);
  void update_masks(std::uint32_t v);
  bool pull_tasks(std::uint32_t v, std::uint32_t want, Balance kind);
  void nohz_kick(std::uint32_t v);
  void drop_current(std::uint32_t v);

  World& w_;
  HostScheduler& host_;
  TaskExecutor& exec_;
};

}  // namespace prefcpu::sim
