#include "sim/guest.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

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

// available_idle_cpu() as select_idle_sibling() reads it; v2-v5 of the series also refused
// non-preferred CPUs there (kernel-spec §3.2).
bool GuestScheduler::available_idle(const Vm& vm, std::uint32_t local) const {
  return vcpu_idle(w_.vcpus[vm.first_vcpu + local]) &&
         (!vm.guest.wakeup_skips_non_preferred || vm.preferred.test(local));
}

// record_wakee(): a waker that switches wakees flips; the count halves once a second.
void GuestScheduler::record_wakee(Task& waker, std::uint32_t wakee) {
  if (w_.now() > waker.wakee_flip_decay + 1'000'000'000) {
    waker.wakee_flips >>= 1;
    waker.wakee_flip_decay = w_.now();
  }
  if (waker.last_wakee != wakee) {
    waker.last_wakee = wakee;
    ++waker.wakee_flips;
  }
}

// wake_wide(): an M:N waker/wakee pattern wider than the LLC spreads instead of going affine.
bool GuestScheduler::wake_wide(const Task& waker, const Task& wakee, const Vm& vm) const {
  std::uint32_t master = std::max(waker.wakee_flips, wakee.wakee_flips);
  std::uint32_t slave = std::min(waker.wakee_flips, wakee.wakee_flips);
  std::uint64_t factor = vm.vcpus;  // sd_llc_size: one domain per VM
  return slave >= factor && master >= slave * factor;
}

// wake_affine(): WA_IDLE, then WA_WEIGHT; this_cpu if either picks it, else prev.
std::uint32_t GuestScheduler::wake_affine(const Vm& vm, std::uint32_t this_cpu, std::uint32_t prev,
                                          bool sync) const {
  auto nr_running = [&](std::uint32_t local) {
    const Vcpu& vc = w_.vcpus[vm.first_vcpu + local];
    return std::int64_t{vc.rq.size} + (vc.current != kNone ? 1 : 0);
  };
  // wake_affine_idle(): every vCPU of a VM shares its LLC.
  if (available_idle(vm, this_cpu)) return available_idle(vm, prev) ? prev : this_cpu;
  if (sync && nr_running(this_cpu) == 1) return this_cpu;
  if (available_idle(vm, prev)) return prev;
  // wake_affine_weight() on instantaneous loads (nr_running x NICE_0_LOAD, not PELT load_avg),
  // so the sleeping wakee adds nothing to prev and is not subtracted from it; WA_BIAS applies.
  constexpr std::int64_t kNice0 = 1024;
  std::int64_t this_eff = nr_running(this_cpu) * kNice0;
  if (sync) {
    if (kNice0 > this_eff) return this_cpu;  // current_load > this_eff_load
    this_eff -= kNice0;
  }
  this_eff = (this_eff + kNice0) * 100;
  std::int64_t prev_eff = nr_running(prev) * kNice0 *
                          (100 + (static_cast<std::int64_t>(vm.guest.imbalance_pct) - 100) / 2);
  if (sync) prev_eff += 1;
  return this_eff < prev_eff ? this_cpu : prev;
}

// select_idle_cpu(): scan the LLC from target + 1 (wrapping), at most sd->shared->nr_idle_scan
// CPUs (SIS_UTIL); none when the LLC looks overloaded.
std::uint32_t GuestScheduler::select_idle_cpu(const Task& t, std::uint32_t target) const {
  const Vm& vm = w_.vms[t.vm];
  const VcpuMask& mask = allowed(t);
  std::int64_t nr = static_cast<std::int64_t>(vm.nr_idle_scan) + 1;
  if (nr == 1) return kNone;
  for (std::uint32_t i = 1; i <= vm.vcpus; ++i) {
    std::uint32_t local = (target + i) % vm.vcpus;
    if (!mask.test(local)) continue;
    if (--nr <= 0) return kNone;
    if (available_idle(vm, local)) return local;
  }
  return kNone;
}

// select_idle_sibling(): target if idle, prev if idle, the task's recently used CPU, a scan.
std::uint32_t GuestScheduler::select_idle_sibling(Task& t, std::uint32_t prev,
                                                  std::uint32_t target) {
  const Vm& vm = w_.vms[t.vm];
  if (available_idle(vm, target)) return target;
  if (prev != target && available_idle(vm, prev)) return prev;
  std::uint32_t recent = t.recent_used_vcpu;
  t.recent_used_vcpu = vm.first_vcpu + prev;
  if (recent != kNone) {
    std::uint32_t local = recent - vm.first_vcpu;
    if (local != prev && local != target && available_idle(vm, local) && allowed(t).test(local)) {
      return local;
    }
  }
  std::uint32_t idle = select_idle_cpu(t, target);
  return idle != kNone ? idle : target;
}

// select_task_rq_fair() for a wakeup: wake_affine() toward the waker's vCPU unless wake_wide(),
// then select_idle_sibling(); is_cpu_allowed() then refuses a non-preferred vCPU when the task
// may run on a preferred one (select_fallback_rq(), kernel-spec §3.1).
std::uint32_t GuestScheduler::select_vcpu(std::uint32_t t, std::uint32_t waker, bool sync) {
  Task& task = w_.tasks[t];
  const Vm& vm = w_.vms[task.vm];
  const VcpuMask& mask = allowed(task);
  std::uint32_t prev = task.prev_vcpu == kNone ? mask.first() : task.prev_vcpu - vm.first_vcpu;
  std::uint32_t target = prev;  // a timer wakeup fires on the CPU the task slept on
  if (waker != kNone && w_.vcpus[waker].current != kNone) {
    std::uint32_t this_cpu = w_.vcpus[waker].local;
    Task& current = w_.tasks[w_.vcpus[waker].current];
    record_wakee(current, t);
    bool want_affine = !wake_wide(current, task, vm) && mask.test(this_cpu);
    if (want_affine && this_cpu != prev) target = wake_affine(vm, this_cpu, prev, sync);
  }
  std::uint32_t pick = select_idle_sibling(task, prev, target);
  if (!mask.test(pick)) pick = mask.first();
  if (!vm.preferred.test(pick)) {
    std::uint32_t fallback = fallback_vcpu(task);
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
  Task& task = w_.tasks[t];
  link_tail(w_.tasks, w_.vcpus[v].rq, t, &Task::rq_link);
  // migrate_task_rq_fair(): a task that changed CPU is no longer cache-hot.
  if ((task.vcpu != kNone ? task.vcpu : task.prev_vcpu) != v) task.last_ran = -1;
  task.vcpu = v;
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

void GuestScheduler::wake_task(std::uint32_t t, std::uint32_t waker, bool sync) {
  Task& task = w_.tasks[t];
  if (task.state != TaskState::kBlocked) return;
  ttwu_activate(select_vcpu(t, waker, sync), t, waker);
}

void GuestScheduler::ttwu_activate(std::uint32_t v, std::uint32_t t, std::uint32_t waker) {
  update_avg_idle(w_.vcpus[v]);
  enqueue_task(v, t, waker);
}

// ttwu_do_activate(): a wakeup onto a vCPU whose newidle balance found nothing closes an idle
// period; update_avg() weighs it 1/8, capped at 2 x max_idle_balance_cost.
void GuestScheduler::update_avg_idle(Vcpu& vc) const {
  if (vc.idle_stamp < 0) return;
  const GuestParams& g = w_.vms[vc.vm].guest;
  vc.avg_idle += (w_.now() - vc.idle_stamp - vc.avg_idle) / 8;
  vc.avg_idle = std::min(vc.avg_idle, 2 * std::max(g.migration_cost_ns, g.newidle_lb_cost_ns));
  vc.idle_stamp = -1;
}

void GuestScheduler::on_task_wake(std::uint32_t t, std::uint32_t gen) {
  Task& task = w_.tasks[t];
  if (task.sleep_gen != gen || task.state != TaskState::kBlocked) return;
  wake_task(t, kNone);
}

void GuestScheduler::drop_current(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  update_util(vc);
  w_.tasks[vc.current].last_ran = w_.now();
  vc.current = kNone;
  ++vc.gen;
  vc.armed_end = kNever;
  update_masks(v);
}

void GuestScheduler::run(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  while (true) {
    if (vc.current == kNone) {
      std::uint32_t next = rq_pop_head(v);
      if (next == kNone) {
        if (idle_balance(v, std::exchange(vc.idle_balance, false))) continue;
        update_masks(v);
        host_.idle(v);
        return;
      }
      Task& task = w_.tasks[next];
      update_util(vc);
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

// PELT's util_avg in 1024 us periods with y^32 = 1/2: y^n x 2^32 for n < 32.
namespace {
constexpr double sqrt_newton(double x) {
  double r = x;
  for (int i = 0; i < 64; ++i) r = 0.5 * (r + x / r);
  return r;
}
constexpr std::array<std::uint64_t, 32> make_decay() {
  double y = 0.5;
  for (int i = 0; i < 5; ++i) y = sqrt_newton(y);  // 0.5^(1/32)
  std::array<std::uint64_t, 32> table{};
  double v = 4294967296.0;
  for (auto& entry : table) {
    entry = static_cast<std::uint64_t>(v);  // y^n x 2^32, truncated
    v *= y;
  }
  return table;
}
constexpr std::array<std::uint64_t, 32> kDecay = make_decay();
constexpr int kPeriodShift = 20;  // a PELT period: 1024 x 1024 ns
}  // namespace

// Brings v's utilisation to now: decayed, plus 1024 x the elapsed share if it had a task (the
// fraction of a period is decayed linearly between y^0 and y^1).
void GuestScheduler::update_util(Vcpu& vc) const {
  Ns dt = w_.now() - vc.util_since;
  vc.util_since = w_.now();
  if (dt <= 0) return;
  auto periods = static_cast<std::uint64_t>(dt >> kPeriodShift);
  auto frac = static_cast<std::uint64_t>(dt & ((Ns{1} << kPeriodShift) - 1));
  std::uint64_t decay = periods / 32 >= 32 ? 0 : kDecay[periods % 32] >> (periods / 32);
  decay = (decay * ((1ULL << 32) - ((frac * ((1ULL << 32) - kDecay[1])) >> kPeriodShift))) >> 32;
  std::uint64_t sum = vc.util * decay;
  if (vc.current != kNone) sum += 1024 * ((1ULL << 32) - decay);
  vc.util = static_cast<std::uint32_t>(sum >> 32);
}

// update_idle_cpu_scan() at a periodic balance of the LLC domain: the scan depth falls with the
// square of the LLC's utilisation and is 0 at 100 / imbalance_pct. Only preferred vCPUs are
// summed (env->cpus = span ∩ preferred), over the whole LLC's weight.
void GuestScheduler::update_idle_cpu_scan(Vm& vm) {
  std::uint64_t sum = 0;
  vm.preferred.for_each_and(vm.all, [&](std::uint32_t local) {
    Vcpu& vc = w_.vcpus[vm.first_vcpu + local];
    update_util(vc);
    sum += vc.util;
  });
  std::uint64_t x = sum / vm.vcpus;
  std::uint64_t pct = vm.guest.imbalance_pct;
  std::uint64_t tmp =
      std::min<std::uint64_t>(x * x * pct * pct / (std::uint64_t{10000} * 1024), 1024);
  vm.nr_idle_scan = static_cast<std::uint32_t>((1024 - tmp) * vm.vcpus / 1024);
}

// task_hot(): it ran on its vCPU within sysctl_sched_migration_cost.
bool GuestScheduler::task_hot(const Task& t, const Vm& vm) const {
  return t.last_ran >= 0 && w_.now() - t.last_ran < vm.guest.migration_cost_ns;
}

// A vCPU with nothing to run: the nohz idle balance it was kicked for (CPU_IDLE), else
// sched_balance_newidle(), which stamps the idle period, returns early on a non-preferred CPU
// (kernel-spec §3.3), and skips the pull when avg_idle < max_newidle_lb_cost.
bool GuestScheduler::idle_balance(std::uint32_t v, bool kicked) {
  Vcpu& vc = w_.vcpus[v];
  const Vm& vm = w_.vms[vc.vm];
  if (kicked) return vm.preferred.test(vc.local) && pull_tasks(v, 1, Balance::kIdle);
  vc.idle_stamp = w_.now();
  if (!vm.preferred.test(vc.local)) return false;
  if (vc.avg_idle < vm.guest.newidle_lb_cost_ns) return false;
  if (!pull_tasks(v, 1, Balance::kNewIdle)) return false;
  vc.idle_stamp = -1;
  return true;
}

// Pulls up to `want` queued tasks onto v from the busiest preferred vCPU (sched_balance_rq with
// env->cpus = span ∩ preferred). detach_tasks() walks cfs_tasks from its tail, the task queued
// longest, at most sysctl_sched_nr_migrate (32); can_migrate_task() skips a cache-hot task until
// this vCPU's balance has failed more than cache_nice_tries times.
bool GuestScheduler::pull_tasks(std::uint32_t v, std::uint32_t want, Balance kind) {
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
  if (busiest == kNone) {
    vc.nr_balance_failed = 0;  // out_balanced
    return false;
  }
  constexpr std::uint32_t kNrMigrate = 32;
  Vcpu& src = w_.vcpus[busiest];
  bool hot_ok = vc.nr_balance_failed > vm.guest.cache_nice_tries;
  std::uint32_t moved = 0;
  std::uint32_t loop = 0;
  std::uint32_t t = src.rq.head;
  while (t != kNone && moved < want && loop++ < kNrMigrate) {
    // An idle balance leaves the source at least one task.
    if (kind != Balance::kBusy && src.rq.size + (src.current != kNone ? 1U : 0U) <= 1) break;
    std::uint32_t next = w_.tasks[t].rq_link.next;
    const Task& task = w_.tasks[t];
    if (allowed(task).test(vc.local) && (hot_ok || !task_hot(task, vm))) {
      rq_remove(busiest, t);
      rq_push_tail(v, t);
      ++moved;
    }
    t = next;
  }
  // Only periodic and idle balances count failures; newidle ones would pollute the counter.
  if (moved > 0) {
    vc.nr_balance_failed = 0;
  } else if (kind != Balance::kNewIdle) {
    ++vc.nr_balance_failed;
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
    update_idle_cpu_scan(vm);
    if (busiest_nr * 100 > nr * vm.guest.imbalance_pct && busiest_nr >= nr + 2) {
      pull_tasks(v, (busiest_nr - nr) / 2, Balance::kBusy);
    } else {
      vc.nr_balance_failed = 0;  // out_balanced
    }
    vc.next_balance = w_.now() + static_cast<Ns>(vm.vcpus) * 1'000'000 * vm.guest.busy_factor;
  }
  if (vc.rq.size + (vc.current != kNone ? 1U : 0U) >= 2) nohz_kick(v);
}

}  // namespace prefcpu::sim
