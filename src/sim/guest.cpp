#include "sim/guest.h"

#include <algorithm>

#include "sim/exec.h"
#include "sim/host.h"
#include "sim/task_list.h"

namespace prefcpu::sim {

const VcpuMask& GuestScheduler::allowed(const Task& t) const {
  const Vm& vm = w_.vms[t.vm];
  return t.affinity == 0 ? vm.all : vm.affinities[t.affinity];
}

// available_idle_cpu(): idle, and with vcpu_is_preempted() not a preempted vCPU.
bool GuestScheduler::vcpu_idle(const Vcpu& v) const {
  if (v.current != kNone || v.rq.size != 0) return false;
  return !(w_.vms[v.vm].guest.pv_preempted && v.host == HostState::kWaiting);
}

// select_fallback_rq(): the lowest-numbered allowed CPU that is_cpu_allowed() accepts.
std::uint32_t GuestScheduler::fallback_vcpu(const Task& t) const {
  const Vm& vm = w_.vms[t.vm];
  std::uint32_t local = allowed(t).first_and(vm.preferred);
  return local == kNone ? kNone : vm.first_vcpu + local;
}

// select_task_rq(): the previous vCPU if idle, else an idle vCPU, else the previous one; then
// is_cpu_allowed() refuses a non-preferred vCPU when the task may run on a preferred one.
std::uint32_t GuestScheduler::select_vcpu(const Task& t) {
  const Vm& vm = w_.vms[t.vm];
  const VcpuMask& mask = allowed(t);
  bool skip_non_preferred = vm.guest.wakeup_skips_non_preferred;
  std::uint32_t prev = t.prev_vcpu == kNone ? mask.first() : t.prev_vcpu - vm.first_vcpu;
  std::uint32_t pick = kNone;
  auto usable = [&](std::uint32_t local) {
    return mask.test(local) && vcpu_idle(w_.vcpus[vm.first_vcpu + local]) &&
           (!skip_non_preferred || vm.preferred.test(local));
  };
  if (usable(prev)) {
    pick = prev;
  } else {
    const VcpuMask& scope = skip_non_preferred ? vm.preferred : vm.all;
    std::uint32_t start = prev + 1 >= vm.vcpus ? 0 : prev + 1;
    std::uint32_t at = start;
    for (std::uint32_t i = 0; i < vm.vcpus; ++i) {
      std::uint32_t found = vm.idle.first_wrap_and(at, mask, scope);
      if (found == kNone) break;
      if (usable(found)) {
        pick = found;
        break;
      }
      at = found + 1 >= vm.vcpus ? 0 : found + 1;
    }
  }
  if (pick == kNone) pick = mask.test(prev) ? prev : mask.first();
  if (!vm.preferred.test(pick)) {
    std::uint32_t fallback = fallback_vcpu(t);
    if (fallback != kNone) return fallback;
  }
  return vm.first_vcpu + pick;
}

void GuestScheduler::update_masks(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  Vm& vm = w_.vms[vc.vm];
  vm.idle.assign(vc.local, vc.current == kNone && vc.rq.size == 0);
  vm.queued.assign(vc.local, vc.rq.size != 0);
}

void GuestScheduler::rq_push_tail(std::uint32_t v, std::uint32_t t) {
  link_tail(w_.tasks, w_.vcpus[v].rq, t, &Task::rq_link);
  w_.tasks[t].vcpu = v;
  update_masks(v);
}

void GuestScheduler::rq_remove(std::uint32_t v, std::uint32_t t) {
  unlink(w_.tasks, w_.vcpus[v].rq, t, &Task::rq_link);
  update_masks(v);
}

std::uint32_t GuestScheduler::rq_pop_head(std::uint32_t v) {
  std::uint32_t t = w_.vcpus[v].rq.head;
  if (t != kNone) rq_remove(v, t);
  return t;
}

void GuestScheduler::enqueue_task(std::uint32_t v, std::uint32_t t, std::uint32_t waker) {
  Task& task = w_.tasks[t];
  task.state = TaskState::kRunnable;
  rq_push_tail(v, t);
  Vcpu& vc = w_.vcpus[v];
  if (host_.resume_polling(v)) return;
  if (vc.host != HostState::kHalted || vc.wake_pending) return;
  if (waker != kNone && waker != v && w_.vcpus[waker].current != kNone) {
    // The waker pays the IPI exit; the target is runnable once it lands.
    w_.tasks[w_.vcpus[waker].current].overhead += w_.host.ipi_ns;
    vc.wake_pending = true;
    w_.schedule(w_.now() + w_.host.ipi_ns, EventKind::kHostWake, v, 0);
    return;
  }
  host_.wake(v);
}

// ttwu_queue_cond(): a remote target with nothing running gets the wakeup by IPI and activates
// the task itself (sched_ttwu_pending()); a busy or local one is activated by the waker under the
// target's rq lock (ttwu_queue(): rq_lock(), ttwu_do_activate()). The model's vCPUs share one LLC.
std::uint32_t GuestScheduler::ttwu_rq_lock(std::uint32_t target, std::uint32_t waker) const {
  const Vcpu& tc = w_.vcpus[target];
  if (tc.rq_lock == kNone) return kNone;
  bool busy = tc.current != kNone || tc.rq.size != 0;
  return target == waker || busy ? tc.rq_lock : kNone;
}

void GuestScheduler::wake_task(std::uint32_t t, std::uint32_t waker) {
  Task& task = w_.tasks[t];
  if (task.state != TaskState::kBlocked) return;
  enqueue_task(select_vcpu(task), t, waker);
}

void GuestScheduler::on_task_wake(std::uint32_t t, std::uint32_t gen) {
  Task& task = w_.tasks[t];
  if (task.sleep_gen != gen || task.state != TaskState::kBlocked) return;
  wake_task(t, kNone);
}

void GuestScheduler::drop_current(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  vc.current = kNone;
  ++vc.gen;
  vc.armed_end = kNever;
  update_masks(v);
}

void GuestScheduler::run(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  Vm& vm = w_.vms[vc.vm];
  while (true) {
    if (vc.current == kNone) {
      std::uint32_t next = rq_pop_head(v);
      if (next == kNone) {
        // sched_balance_newidle() returns early on a non-preferred CPU (kernel-spec §3.3).
        if (vm.preferred.test(vc.local) && pull_tasks(v, 1)) continue;
        vc.idle_balance = false;
        update_masks(v);
        host_.idle(v);
        return;
      }
      Task& task = w_.tasks[next];
      vc.current = next;
      task.state = TaskState::kRunning;
      task.vcpu = v;
      task.slice_exec = 0;
      if (vc.last_task != next) exec_.switch_in(v, next);
      vc.last_task = next;
      update_masks(v);
    }
    TaskExecutor::StepResult result = exec_.step(v, vc.current);
    if (result == TaskExecutor::StepResult::kArmed ||
        result == TaskExecutor::StepResult::kYielded) {
      return;
    }
    if (result == TaskExecutor::StepResult::kPvWait) {
      host_.idle(v);  // kvm_wait(): HLT, with halt polling where the host has it
      return;
    }
    drop_current(v);
    if (w_.stop) return;
  }
}

// Pulls up to `want` queued tasks onto v from the busiest preferred vCPU (sched_balance_rq with
// env->cpus = span ∩ preferred); the last-queued tasks go first, as detach_tasks() takes them.
bool GuestScheduler::pull_tasks(std::uint32_t v, std::uint32_t want) {
  Vcpu& vc = w_.vcpus[v];
  Vm& vm = w_.vms[vc.vm];
  std::uint32_t busiest = kNone;
  std::uint32_t busiest_nr = 0;
  vm.queued.for_each_and(vm.preferred, [&](std::uint32_t local) {
    if (local == vc.local) return;
    const Vcpu& other = w_.vcpus[vm.first_vcpu + local];
    std::uint32_t nr = other.rq.size + (other.current != kNone ? 1U : 0U);
    // sched_balance_rq() detaches tasks only when busiest->nr_running > 1: a task woken onto a
    // halted or preempted vCPU is that vCPU's only task and stays there.
    if (nr > 1 && nr > busiest_nr) {
      busiest_nr = nr;
      busiest = vm.first_vcpu + local;
    }
  });
  if (busiest == kNone) return false;
  std::uint32_t moved = 0;
  std::uint32_t t = w_.vcpus[busiest].rq.tail;
  while (t != kNone && moved < want) {
    std::uint32_t prev = w_.tasks[t].rq_link.prev;
    if (allowed(w_.tasks[t]).test(vc.local)) {
      rq_remove(busiest, t);
      rq_push_tail(v, t);
      ++moved;
    }
    t = prev;
  }
  vm.stats.pulls += moved;
  return moved > 0;
}

// nohz_balancer_kick(): a busy vCPU with queued work wakes an idle preferred vCPU to balance.
void GuestScheduler::nohz_kick(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  Vm& vm = w_.vms[vc.vm];
  if (vm.kick_outstanding) return;
  std::uint32_t local = vm.idle.first_and(vm.preferred);
  if (local == kNone) return;
  std::uint32_t target = vm.first_vcpu + local;
  Vcpu& tc = w_.vcpus[target];
  if (tc.host != HostState::kHalted || tc.wake_pending) return;
  vm.kick_outstanding = true;
  tc.idle_balance = true;
  tc.wake_pending = true;
  if (vc.current != kNone) w_.tasks[vc.current].overhead += w_.host.ipi_ns;
  w_.schedule(w_.now() + w_.host.ipi_ns, EventKind::kHostWake, target, 0);
}

void GuestScheduler::arm_tick(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.tick_armed) return;
  Ns period = w_.vms[vc.vm].tick_ns;
  vc.tick_armed = true;
  ++vc.tick_gen;
  w_.schedule((w_.now() / period + 1) * period, EventKind::kTick, v, vc.tick_gen);
}

void GuestScheduler::on_tick(std::uint32_t v, std::uint32_t gen) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.tick_gen != gen) return;
  vc.tick_armed = false;
  if (vc.host == HostState::kHalted || vc.host == HostState::kPolling) return;  // NO_HZ idle
  if (!exec_.executing(vc)) {
    vc.tick_pending = true;  // a preempted vCPU does not tick; it handles the tick on resume
    return;
  }
  std::uint32_t before = vc.current;
  std::uint32_t gen_before = vc.gen;
  tick(v);
  arm_tick(v);
  if (vc.current != before || vc.gen != gen_before) run(v);
}

void GuestScheduler::tick(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  Vm& vm = w_.vms[vc.vm];
  exec_.advance(v);
  std::uint32_t t = vc.current;
  bool preferred = vm.preferred.test(vc.local);
  if (t != kNone) {
    Task& task = w_.tasks[t];
    // A lock holder runs with preemption disabled; the push waits for the release.
    bool movable = task.held.empty() && !exec_.in_spinlock(task);
    if (!preferred && movable && allowed(task).intersects(vm.preferred)) {
      // sched_push_current_non_preferred_cpu(): only rq->curr, once per tick (kernel-spec §3.4).
      if (task.spinning) exec_.stop_spin(t, task.op.object);
      drop_current(v);
      ++vm.stats.pushes;
      enqueue_task(fallback_vcpu(task), t, v);
    } else if (movable && vc.rq.size > 0 && task.slice_exec >= vm.guest.slice_ns) {
      if (task.spinning) exec_.stop_spin(t, task.op.object);
      drop_current(v);
      task.state = TaskState::kRunnable;
      rq_push_tail(v, t);
    }
  }
  if (preferred && w_.now() >= vc.next_balance) {
    // Periodic balance: interval sd_weight ms x busy_factor, imbalance_pct 117 (§6).
    std::uint32_t nr = vc.rq.size + (vc.current != kNone ? 1U : 0U);
    std::uint32_t busiest_nr = 0;
    vm.queued.for_each_and(vm.preferred, [&](std::uint32_t local) {
      const Vcpu& other = w_.vcpus[vm.first_vcpu + local];
      busiest_nr = std::max(busiest_nr, other.rq.size + (other.current != kNone ? 1U : 0U));
    });
    if (busiest_nr * 100 > nr * vm.guest.imbalance_pct && busiest_nr >= nr + 2) {
      pull_tasks(v, (busiest_nr - nr) / 2);
    }
    vc.next_balance = w_.now() + static_cast<Ns>(vm.vcpus) * 1'000'000 * vm.guest.busy_factor;
  }
  if (vc.rq.size + (vc.current != kNone ? 1U : 0U) >= 2) nohz_kick(v);
}

}  // namespace prefcpu::sim
