// Kernel spinlocks: waiters never sleep in the guest. The slowpath follows the host profile
// (params.h SpinlockKind): native qspinlock hands the lock to the head of its FIFO queue even
// when that waiter's vCPU is preempted (lock-waiter preemption); x86's virt_spin_lock()
// test-and-set gives it to whoever spins when it is free; pv qspinlock halts a waiter after
// SPIN_THRESHOLD (pv_wait) and the unlocker kicks it (pv_kick). KVM's pause-loop exits
// directed-yield to a preempted vCPU of the VM; powerpc confers to a preempted owner (H_CONFER).
#include <algorithm>

#include "sim/exec.h"
#include "sim/host.h"
#include "sim/task_list.h"

namespace prefcpu::sim {

void TaskExecutor::take(std::uint32_t t, std::uint32_t lock) {
  Lock& l = w_.locks[lock];
  Task& task = w_.tasks[t];
  if (task.spinning || task.pv_halted) unlink(w_.tasks, l.spinners, t, &Task::wq_link);
  task.spinning = false;
  task.pv_halted = false;
  task.spin_left = 0;
  task.spin_armed = 0;
  l.owner = t;
  task.held.add(lock);
}

TaskExecutor::StepResult TaskExecutor::arm_spin(std::uint32_t v, Task& task, Ns need) {
  Vcpu& vc = w_.vcpus[v];
  task.spin_armed = need;
  ++vc.gen;
  if (need >= kSpinForever) {
    // Spins until the lock is handed over or the vCPU loses its pCPU: nothing to arm. Any overhead
    // is booked as time passes (advance()).
    vc.armed_end = kNever;
    return StepResult::kArmed;
  }
  vc.armed_end = time_to_do(vc, w_.now(), task.overhead + need);
  w_.schedule(vc.armed_end, EventKind::kProgress, v, vc.gen);
  return StepResult::kArmed;
}

// kvm_vcpu_on_spin(): from the VM's last boosted vCPU on, the first other vCPU that was preempted
// while runnable (vcpu->preempted) in kernel mode (yield_to_kernel_mode: a PLE exit from CPL 0).
// In the model a vCPU is in kernel mode when its task holds a lock or waits for a spinlock.
std::uint32_t TaskExecutor::on_spin_target(std::uint32_t v) {
  Vm& vm = w_.vms[w_.vcpus[v].vm];
  for (std::uint32_t i = 1; i <= vm.vcpus; ++i) {
    std::uint32_t local = (vm.last_boosted + i) % vm.vcpus;
    std::uint32_t cand = vm.first_vcpu + local;
    const Vcpu& c = w_.vcpus[cand];
    if (cand == v || c.host != HostState::kWaiting || c.current == kNone) continue;
    const Task& ct = w_.tasks[c.current];
    if (ct.held.empty() && !in_spinlock(ct)) continue;
    vm.last_boosted = local;
    return cand;
  }
  return kNone;
}

TaskExecutor::StepResult TaskExecutor::spin_lock_step(std::uint32_t v, std::uint32_t t,
                                                      std::uint32_t id) {
  Task& task = w_.tasks[t];
  Lock& lock = w_.locks[id];
  Vcpu& vc = w_.vcpus[v];
  Vm& vm = w_.vms[task.vm];
  const SpinlockKind kind = vm.guest.spinlock;
  if (lock.owner == t) {
    take(t, id);  // handed over while it spun or was preempted
    return StepResult::kContinue;
  }
  bool queued = task.spinning || task.pv_halted;
  // Who may take a free lock: with test-and-set, any spinner; with pv, a newcomer (one steal at
  // slowpath entry, pv_hybrid_queued_unfair_trylock()) or the queue head (the others spin on
  // their own MCS node); with native qspinlock only a newcomer when nobody is queued, since
  // unlock hands the lock to the queue head.
  bool may_take = kind == SpinlockKind::kTestAndSet ||
                  (kind == SpinlockKind::kParavirt && (!queued || lock.spinners.head == t)) ||
                  lock.spinners.size == 0;
  if (lock.owner == kNone && may_take) {
    take(t, id);
    return StepResult::kContinue;
  }
  if (!queued) {
    link_tail(w_.tasks, lock.spinners, t, &Task::wq_link);
    task.spin_left = kind == SpinlockKind::kParavirt ? vm.guest.spin_limit_ns : kSpinForever;
    task.ple_spun = 0;
  } else if (task.pv_halted) {
    // Back from pv_wait(): kicked, or a spurious wakeup; spin SPIN_THRESHOLD again.
    task.pv_halted = false;
    task.spin_left = vm.guest.spin_limit_ns;
    task.ple_spun = 0;
  }
  task.spinning = true;
  // powerpc yield_to_locked_owner(): confer this vCPU's cycles to a preempted owner (H_CONFER).
  if (vm.guest.confer && lock.owner != kNone) {
    std::uint32_t ov = w_.tasks[lock.owner].vcpu;
    if (ov != kNone && w_.vcpus[ov].host == HostState::kWaiting) {
      task.overhead += w_.host.exit_ns;
      ++vm.stats.yields;
      host_.yield_to(v, ov);
      return StepResult::kYielded;
    }
  }
  if (kind == SpinlockKind::kParavirt && task.spin_left <= 0) {
    // pv_wait(): halt until pv_kick(); the task stays current and queued.
    task.spinning = false;
    task.pv_halted = true;
    task.spin_armed = 0;
    ++vm.stats.pv_waits;
    return StepResult::kPvWait;
  }
  if (w_.host.ple && task.ple_spun >= vc.ple_window_ns) {
    // A pause-loop exit: the window doubles; the host yields to a preempted vCPU if it finds one.
    ++vm.stats.ple_exits;
    task.overhead += w_.host.exit_ns;
    task.ple_spun = 0;
    vc.ple_window_ns = std::min<Ns>(vc.ple_window_ns * 2, kSpinForever / 2);
    std::uint32_t target = on_spin_target(v);
    if (target != kNone) {
      ++vm.stats.yields;
      host_.yield_to(v, target);
      return StepResult::kYielded;
    }
  }
  Ns need = task.spin_left;
  if (w_.host.ple) need = std::min(need, vc.ple_window_ns - task.ple_spun);
  return arm_spin(v, task, need);
}

void TaskExecutor::pv_kick(std::uint32_t unlocker, std::uint32_t head) {
  std::uint32_t hv = w_.tasks[head].vcpu;
  ++w_.vms[w_.tasks[head].vm].stats.pv_kicks;
  w_.tasks[unlocker].overhead += w_.host.exit_ns;  // the KVM_HC_KICK_CPU hypercall
  if (host_.resume_polling(hv)) return;
  Vcpu& hc = w_.vcpus[hv];
  if (hc.host != HostState::kHalted || hc.wake_pending) return;
  hc.wake_pending = true;
  w_.schedule(w_.now() + w_.host.ipi_ns, EventKind::kHostWake, hv, 0);
}

void TaskExecutor::spin_unlock(std::uint32_t t, std::uint32_t id) {
  Lock& l = w_.locks[id];
  l.owner = kNone;
  w_.tasks[t].held.remove(id);
  if (l.spinners.head == kNone) return;
  const SpinlockKind kind = w_.vms[w_.tasks[t].vm].guest.spinlock;
  auto running = [&](std::uint32_t s) {
    std::uint32_t sv = w_.tasks[s].vcpu;
    return w_.tasks[s].spinning && sv != kNone && executing(w_.vcpus[sv]) &&
           w_.vcpus[sv].current == s;
  };
  auto hand_to = [&](std::uint32_t s) {
    std::uint32_t sv = w_.tasks[s].vcpu;
    if (running(s)) poke(sv);  // books the spin up to now, then the waiter proceeds
    take(s, id);
  };
  std::uint32_t head = l.spinners.head;
  switch (kind) {
    case SpinlockKind::kQueued:
      // MCS handoff: the head owns it now, running or not (lock-waiter preemption).
      hand_to(head);
      return;
    case SpinlockKind::kTestAndSet:
      for (std::uint32_t s = head; s != kNone; s = w_.tasks[s].wq_link.next) {
        if (running(s)) return hand_to(s);
      }
      return;  // free: the first spinner to run again takes it
    case SpinlockKind::kParavirt:
      if (running(head)) return hand_to(head);
      // __pv_queued_spin_unlock_slowpath(): release, then kick a halted head.
      if (w_.tasks[head].pv_halted) pv_kick(t, head);
      return;
  }
}

}  // namespace prefcpu::sim
