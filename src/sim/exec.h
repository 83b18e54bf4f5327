// The task executor: guest tasks' programs on vCPUs. Work progresses only while the vCPU holds a
// pCPU (slower during cache refill); locks spin then block; pipes block writers when full and
// readers when empty.
#pragma once

#include <optional>

#include "sim/state.h"

namespace prefcpu::sim {

class GuestScheduler;
class HostScheduler;

class TaskExecutor {
 public:
  TaskExecutor(World& world, GuestScheduler& guest, HostScheduler& host)
      : w_(world), guest_(guest), host_(host) {}

  // The vCPU holds a pCPU and its switch cost is paid: guest code runs.
  bool executing(const Vcpu& v) const {
    return v.host == HostState::kRunning && w_.now() >= v.exec_from;
  }
  // Books the work done since the last call on v's current task.
  void advance(std::uint32_t v);
  // Whole-core dispatch: v's thread now runs at speed_pm per mille (a sibling started or stopped).
  void set_speed(std::uint32_t v, std::uint32_t speed_pm);
  // kPvWait: pv_wait() halts the vCPU with the task still current; kYielded: the vCPU gave its
  // pCPU away (PLE directed yield, H_CONFER) and is waiting on the host; kContinue: the op is
  // done and the program goes on (a lock taken).
  enum class StepResult : std::uint8_t {
    kArmed,
    kBlocked,
    kExited,
    kMoved,
    kPvWait,
    kYielded,
    kContinue
  };
  // Runs task t on v until it needs time (armed), blocks or exits.
  StepResult step(std::uint32_t v, std::uint32_t t);
  void stop_spin(std::uint32_t t, std::uint32_t lock);
  // vcpu_is_preempted() / H_CONFER: the holder t just lost its pCPU.
  void on_holder_preempted(std::uint32_t t);
  // A spinlock waiter that neither spins nor is halted may not be moved by the guest scheduler:
  // spin_lock() runs with preemption disabled, and so does a cross-call's wait (get_cpu()).
  bool in_spinlock(const Task& task) const;
  void note_exit(Task& task);
  // __schedule() switched task t in on v: the switch costs task_switch_ns, paid under v's rq lock
  // (held from rq_lock() in __schedule() to finish_lock_switch()) where the model has one.
  void switch_in(std::uint32_t v, std::uint32_t t);
  // cross_call.cpp: the host dispatched v; it runs the cross-call handlers it has pending.
  void csd_dispatched(std::uint32_t v);

 private:
  // spinlock.cpp: the kernel spinlock slowpaths of the host profile.
  StepResult spin_lock_step(std::uint32_t v, std::uint32_t t, std::uint32_t lock);
  void spin_unlock(std::uint32_t t, std::uint32_t lock);
  void take(std::uint32_t t, std::uint32_t lock);
  void pv_kick(std::uint32_t unlocker, std::uint32_t head);
  std::uint32_t on_spin_target(std::uint32_t v);
  StepResult arm_spin(std::uint32_t v, Task& task, Ns need);

  // cross_call.cpp: synchronous cross-calls.
  std::optional<Op> due_cross_call(const Task& task);
  bool cross_call_target(CrossCallKind kind, std::uint32_t target) const;
  StepResult cross_call_step(std::uint32_t v, std::uint32_t t);
  void cross_call_send(std::uint32_t initiator, std::uint32_t target);
  void cross_call_done(std::uint32_t initiator, Ns at, bool queued);

  Ns work_between(const Vcpu& v, Ns from, Ns to) const;
  Ns time_to_do(const Vcpu& v, Ns from, Ns work) const;
  void poke(std::uint32_t v);
  void next_op(Task& task);
  void block_task(std::uint32_t t);
  void list_push(List& list, std::uint32_t t);
  void list_remove(List& list, std::uint32_t t);
  std::uint32_t list_pop(List& list);
  bool try_lock(std::uint32_t t, std::uint32_t lock);
  void start_spin(std::uint32_t t, std::uint32_t lock);
  void unlock(std::uint32_t t, std::uint32_t lock);
  bool holder_preempted(const Lock& lock) const;
  bool owner_on_cpu(const Lock& lock) const;
  void poke_spinners(std::uint32_t lock);

  World& w_;
  GuestScheduler& guest_;
  HostScheduler& host_;
};

}  // namespace prefcpu::sim
