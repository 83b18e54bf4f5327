// The guest scheduler of each VM: per-vCPU run queues, wakeup placement, newidle and periodic
// balance, the guest tick and slice, and the merged kernel's preferred-CPU rules
// (kernel-spec.md §3): fallback at wakeup, balance among preferred only, push at tick.
#include "sim/sim.h"
#include "sim/workload.h"

namespace prefcpu::sim {

const VcpuMask& Simulation::allowed(const Task& t) const {
  const Vm& vm = vms_[t.vm];
  return t.affinity == 0 ? vm.all : vm.affinities[t.affinity];
}

// available_idle_cpu(): idle, and with vcpu_is_preempted() not a preempted vCPU.
bool Simulation::vcpu_idle(const Vcpu& v) const {
  if (v.current != kNone || v.rq.size != 0) return false;
  return !(vms_[v.vm].guest.pv_preempted && v.host == HostState::kWaiting);
}

// select_fallback_rq(): the lowest-numbered allowed CPU that is_cpu_allowed() accepts.
std::uint32_t Simulation::fallback_vcpu(const Task& t) const {
  const Vm& vm = vms_[t.vm];
  std::uint32_t local = allowed(t).first_and(vm.preferred);
  return local == kNone ? kNone : vm.first_vcpu + local;
}

// select_task_rq(): the previous vCPU if idle, else an idle vCPU, else the previous one; then
// is_cpu_allowed() refuses a non-preferred vCPU when the task may run on a preferred one.
std::uint32_t Simulation::select_vcpu(const Task& t) {
  const Vm& vm = vms_[t.vm];
  const VcpuMask& mask = allowed(t);
  bool skip_non_preferred = vm.guest.wakeup_skips_non_preferred;
  std::uint32_t prev = t.prev_vcpu == kNone ? mask.first() : t.prev_vcpu - vm.first_vcpu;
  std::uint32_t pick = kNone;
  auto usable = [&](std::uint32_t local) {
    return mask.test(local) && vcpu_idle(vcpus_[vm.first_vcpu + local]) &&
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

void Simulation::update_masks(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  Vm& vm = vms_[vc.vm];
  vm.idle.assign(vc.local, vc.current == kNone && vc.rq.size == 0);
  vm.queued.assign(vc.local, vc.rq.size != 0);
}

void Simulation::rq_push_tail(std::uint32_t v, std::uint32_t t) {
  link_tail(vcpus_[v].rq, t, &Task::rq_link);
  tasks_[t].vcpu = v;
  update_masks(v);
}

void Simulation::rq_remove(std::uint32_t v, std::uint32_t t) {
  unlink(vcpus_[v].rq, t, &Task::rq_link);
  update_masks(v);
}

std::uint32_t Simulation::rq_pop_head(std::uint32_t v) {
  std::uint32_t t = vcpus_[v].rq.head;
  if (t != kNone) rq_remove(v, t);
  return t;
}

// Queues a runnable task on v and gets v going if it is not.
void Simulation::enqueue_task(std::uint32_t v, std::uint32_t t, std::uint32_t waker) {
  Task& task = tasks_[t];
  task.state = TaskState::kRunnable;
  rq_push_tail(v, t);
  Vcpu& vc = vcpus_[v];
  if (vc.host == HostState::kPolling) {
    // A wakeup inside the poll window: the vCPU resumes on its pCPU with no switch.
    --polling_;
    vc.host = HostState::kRunning;
    vc.exec_from = now();
    vc.accounted_to = now();
    ++vc.gen;
    schedule(now(), EventKind::kResume, v, vc.gen);
    return;
  }
  if (vc.host != HostState::kHalted || vc.wake_pending) return;
  if (waker != kNone && waker != v && vcpus_[waker].current != kNone) {
    // The waker pays the IPI exit; the target is runnable once it lands.
    tasks_[vcpus_[waker].current].overhead += host_.ipi_ns;
    vc.wake_pending = true;
    schedule(now() + host_.ipi_ns, EventKind::kHostWake, v, 0);
    return;
  }
  host_wake(v);
}

void Simulation::wake_task(std::uint32_t t, std::uint32_t waker) {
  Task& task = tasks_[t];
  if (task.state != TaskState::kBlocked) return;
  enqueue_task(select_vcpu(task), t, waker);
}

void Simulation::drop_current(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  vc.current = kNone;
  ++vc.gen;
  vc.armed_end = kNever;
  update_masks(v);
}

// Runs the guest on an executing vCPU until its current task needs time, or it goes idle.
void Simulation::guest_run(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  Vm& vm = vms_[vc.vm];
  while (true) {
    if (vc.current == kNone) {
      std::uint32_t next = rq_pop_head(v);
      if (next == kNone) {
        // sched_balance_newidle() returns early on a non-preferred CPU (kernel-spec §3.3).
        if (vm.preferred.test(vc.local) && pull_tasks(v, 1)) continue;
        vc.idle_balance = false;
        update_masks(v);
        host_idle(v);
        return;
      }
      Task& task = tasks_[next];
      vc.current = next;
      task.state = TaskState::kRunning;
      task.vcpu = v;
      task.slice_exec = 0;
      if (vc.last_task != next) task.overhead += vm.guest.task_switch_ns;
      vc.last_task = next;
      update_masks(v);
    }
    if (task_step(v, vc.current) == StepResult::kArmed) return;
    drop_current(v);
    if (stop_) return;
  }
}

// Pulls up to `want` queued tasks onto v from the busiest preferred vCPU (sched_balance_rq with
// env->cpus = span ∩ preferred); the last-queued tasks go first, as detach_tasks() takes them.
bool Simulation::pull_tasks(std::uint32_t v, std::uint32_t want) {
  Vcpu& vc = vcpus_[v];
  Vm& vm = vms_[vc.vm];
  std::uint32_t busiest = kNone;
  std::uint32_t busiest_nr = 0;
  vm.queued.for_each_and(vm.preferred, [&](std::uint32_t local) {
    if (local == vc.local) return;
    const Vcpu& other = vcpus_[vm.first_vcpu + local];
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
  std::uint32_t t = vcpus_[busiest].rq.tail;
  while (t != kNone && moved < want) {
    std::uint32_t prev = tasks_[t].rq_link.prev;
    if (allowed(tasks_[t]).test(vc.local)) {
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
void Simulation::nohz_kick(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  Vm& vm = vms_[vc.vm];
  if (vm.kick_outstanding) return;
  std::uint32_t local = vm.idle.first_and(vm.preferred);
  if (local == kNone) return;
  std::uint32_t target = vm.first_vcpu + local;
  Vcpu& tc = vcpus_[target];
  if (tc.host != HostState::kHalted || tc.wake_pending) return;
  vm.kick_outstanding = true;
  tc.idle_balance = true;
  tc.wake_pending = true;
  if (vc.current != kNone) tasks_[vc.current].overhead += host_.ipi_ns;
  schedule(now() + host_.ipi_ns, EventKind::kHostWake, target, 0);
}

void Simulation::arm_tick(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  if (vc.tick_armed) return;
  Ns period = vms_[vc.vm].tick_ns;
  vc.tick_armed = true;
  ++vc.tick_gen;
  schedule((now() / period + 1) * period, EventKind::kTick, v, vc.tick_gen);
}

void Simulation::on_tick(std::uint32_t v, std::uint32_t gen) {
  Vcpu& vc = vcpus_[v];
  if (vc.tick_gen != gen) return;
  vc.tick_armed = false;
  if (vc.host == HostState::kHalted || vc.host == HostState::kPolling) return;  // NO_HZ idle
  if (!executing(vc)) {
    vc.tick_pending = true;  // a preempted vCPU does not tick; it handles the tick on resume
    return;
  }
  std::uint32_t before = vc.current;
  std::uint32_t gen_before = vc.gen;
  guest_tick(v);
  arm_tick(v);
  if (vc.current != before || vc.gen != gen_before) guest_run(v);
}

// sched_tick() on an executing vCPU: push off a non-preferred vCPU, slice expiry, balance.
void Simulation::guest_tick(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  Vm& vm = vms_[vc.vm];
  advance(v);
  std::uint32_t t = vc.current;
  bool preferred = vm.preferred.test(vc.local);
  if (t != kNone) {
    Task& task = tasks_[t];
    // A lock holder runs with preemption disabled; the push waits for the release.
    bool movable = task.held_lock == kNone;
    if (!preferred && movable && allowed(task).intersects(vm.preferred)) {
      // sched_push_current_non_preferred_cpu(): only rq->curr, once per tick (kernel-spec §3.4).
      if (task.spinning) stop_spin(t, task.op.object);
      drop_current(v);
      ++vm.stats.pushes;
      enqueue_task(fallback_vcpu(task), t, v);
    } else if (movable && vc.rq.size > 0 && task.slice_exec >= vm.guest.slice_ns) {
      if (task.spinning) stop_spin(t, task.op.object);
      drop_current(v);
      task.state = TaskState::kRunnable;
      rq_push_tail(v, t);
    }
  }
  if (preferred && now() >= vc.next_balance) {
    // Periodic balance: interval sd_weight ms x busy_factor, imbalance_pct 117 (§6).
    std::uint32_t nr = vc.rq.size + (vc.current != kNone ? 1U : 0U);
    std::uint32_t busiest_nr = 0;
    vm.queued.for_each_and(vm.preferred, [&](std::uint32_t local) {
      const Vcpu& other = vcpus_[vm.first_vcpu + local];
      busiest_nr = std::max(busiest_nr, other.rq.size + (other.current != kNone ? 1U : 0U));
    });
    if (busiest_nr * 100 > nr * vm.guest.imbalance_pct && busiest_nr >= nr + 2) {
      pull_tasks(v, (busiest_nr - nr) / 2);
    }
    vc.next_balance = now() + static_cast<Ns>(vm.vcpus) * 1'000'000 * vm.guest.busy_factor;
  }
  if (vc.rq.size + (vc.current != kNone ? 1U : 0U) >= 2) nohz_kick(v);
}

}  // namespace prefcpu::sim
