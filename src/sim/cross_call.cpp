// Synchronous cross-calls (cross_call.h). Targets: for a shootdown, the other vCPUs currently
// running a task of the initiator's mm (x86 skips lazy-TLB idle CPUs, should_flush_tlb() /
// tlb_is_not_lazy() in arch/x86/mm/tlb.c native_flush_tlb_multi()); for smp_call_function(),
// every other online vCPU, idle ones woken. A running target handles the IPI ipi_ns after it
// was sent; a halted one is woken and a preempted one waits, and both handle it when the host
// dispatches them.
#include "sim/cross_call.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "sim/exec.h"
#include "sim/workload.h"

namespace prefcpu::sim {

void init_cross_calls(Vm& vm, const WorkloadParams& workload, Rng rng) {
  const std::array<double, kCrossCallKinds> rates{workload.shootdowns_per_s,
                                                  workload.cross_calls_per_s};
  vm.cross_call_rng = rng;
  for (std::size_t k = 0; k < kCrossCallKinds; ++k) {
    vm.cross_call_gap_ns[k] = rates[k] > 0 ? std::max<Ns>(1, static_cast<Ns>(1e9 / rates[k])) : 0;
    vm.cross_call_due[k] =
        vm.cross_call_gap_ns[k] > 0 ? vm.cross_call_rng.exponential(vm.cross_call_gap_ns[k]) : 0;
  }
}

// A cross-call is issued between two ops of the program, holding no lock: the calls run with
// interrupts on, and the model keeps lock sections free of them.
std::optional<Op> TaskExecutor::due_cross_call(const Task& task) {
  Vm& vm = w_.vms[task.vm];
  if ((vm.cross_call_gap_ns[0] | vm.cross_call_gap_ns[1]) == 0 || !task.held.empty()) {
    return std::nullopt;
  }
  for (std::size_t k = 0; k < kCrossCallKinds; ++k) {
    if (vm.cross_call_gap_ns[k] == 0 || w_.now() < vm.cross_call_due[k]) continue;
    vm.cross_call_due[k] = w_.now() + vm.cross_call_rng.exponential(vm.cross_call_gap_ns[k]);
    return Op{OpKind::kCrossCall, static_cast<std::uint32_t>(k), 0};
  }
  return std::nullopt;
}

bool TaskExecutor::cross_call_target(CrossCallKind kind, std::uint32_t target) const {
  const Vcpu& tc = w_.vcpus[target];
  if (kind == CrossCallKind::kCallFunction) return true;
  const Vm& vm = w_.vms[tc.vm];
  return vm.guest.tlb_flush != TlbFlushKind::kBroadcast && vm.workload->shares_mm() &&
         tc.current != kNone;
}

TaskExecutor::StepResult TaskExecutor::cross_call_step(std::uint32_t v, std::uint32_t t) {
  Task& task = w_.tasks[t];
  CrossCallWait& cc = task.cross_call;
  Vm& vm = w_.vms[task.vm];
  const Ns now = w_.now();
  if (!cc.sent) {
    auto kind = static_cast<CrossCallKind>(task.op.object);
    cc = CrossCallWait{true, 0, now, now};
    ++vm.stats.cross_calls[task.op.object];
    std::uint32_t sent = 0;
    for (std::uint32_t target = vm.first_vcpu; target < vm.first_vcpu + vm.vcpus; ++target) {
      if (target == v || !cross_call_target(kind, target)) continue;
      if (kind == CrossCallKind::kShootdown && vm.guest.tlb_flush == TlbFlushKind::kParavirt &&
          w_.vcpus[target].host == HostState::kWaiting) {
        ++vm.stats.pv_tlb_flushes;  // KVM_VCPU_FLUSH_TLB: the host flushes it at its next entry
        continue;
      }
      cross_call_send(t, target);
      ++sent;
    }
    // One send for all targets (x2APIC IPIs to a mask, KVM's PV send-IPI hypercall).
    if (sent > 0) task.overhead += w_.host.ipi_ns;
    return StepResult::kContinue;  // pay the send, then wait
  }
  if (cc.pending == 0 && now >= cc.done_at) {
    vm.stats.cross_call_wait_ns += now - cc.sent_at;
    cc = CrossCallWait{};
    task.has_op = false;
    return StepResult::kContinue;
  }
  // csd_lock_wait(): spin until the targets are done; nothing to arm while one is still to run.
  Vcpu& vc = w_.vcpus[v];
  ++vc.gen;
  if (cc.pending > 0) {
    vc.armed_end = kNever;
    return StepResult::kArmed;
  }
  vc.armed_end = cc.done_at;
  w_.schedule(cc.done_at, EventKind::kProgress, v, vc.gen);
  return StepResult::kArmed;
}

void TaskExecutor::cross_call_send(std::uint32_t initiator, std::uint32_t target) {
  Vcpu& tc = w_.vcpus[target];
  Vm& vm = w_.vms[tc.vm];
  const Ns now = w_.now();
  const Ns handler = vm.guest.cross_call_ns;
  ++vm.stats.cross_call_ipis;
  switch (tc.host) {
    case HostState::kRunning:
      // An interrupt on whatever runs there, once delivered and the vCPU is in guest mode.
      if (tc.current != kNone) {
        Task& ct = w_.tasks[tc.current];
        if (executing(tc)) advance(target);
        ct.overhead += handler;
        poke(target);
      }
      cross_call_done(initiator, std::max(now + w_.host.ipi_ns, tc.exec_from) + handler, false);
      return;
    case HostState::kPolling:
      // Halt polling sees the interrupt: the vCPU handles it and goes back to the idle loop.
      cross_call_done(initiator, now + w_.host.ipi_ns + handler, false);
      return;
    case HostState::kHalted:
      if (!tc.wake_pending) {
        tc.wake_pending = true;
        w_.schedule(now + w_.host.ipi_ns, EventKind::kHostWake, target, 0);
      }
      [[fallthrough]];
    case HostState::kWaiting:
      tc.csd_queue.push_back(initiator);
      ++w_.tasks[initiator].cross_call.pending;
      return;
  }
}

void TaskExecutor::cross_call_done(std::uint32_t initiator, Ns at, bool queued) {
  Task& task = w_.tasks[initiator];
  CrossCallWait& cc = task.cross_call;
  cc.done_at = std::max(cc.done_at, at);
  if (!queued || --cc.pending > 0) return;
  if (task.vcpu != kNone && w_.vcpus[task.vcpu].current == initiator) poke(task.vcpu);
}

void TaskExecutor::csd_dispatched(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.csd_queue.empty()) return;
  const Ns handler = w_.vms[vc.vm].guest.cross_call_ns;
  Ns at = vc.exec_from;
  // The pending IPIs are injected at entry and handled one after the other.
  std::vector<std::uint32_t> initiators;
  initiators.swap(vc.csd_queue);
  for (std::uint32_t initiator : initiators) {
    at += handler;
    cross_call_done(initiator, at, true);
  }
  if (vc.current != kNone) {
    w_.tasks[vc.current].overhead += handler * static_cast<Ns>(initiators.size());
  }
}

std::string check_cross_calls(const World& w) {
  std::vector<std::uint32_t> queued(w.tasks.size(), 0);
  for (std::uint32_t v = 0; v < w.vcpus.size(); ++v) {
    const Vcpu& vc = w.vcpus[v];
    if (vc.csd_queue.empty()) continue;
    if (vc.host == HostState::kRunning || vc.host == HostState::kPolling) {
      return fmt::format("vCPU {} holds a pCPU with {} cross-calls unhandled", v,
                         vc.csd_queue.size());
    }
    for (std::uint32_t t : vc.csd_queue) ++queued[t];
  }
  for (std::uint32_t t = 0; t < w.tasks.size(); ++t) {
    const Task& task = w.tasks[t];
    const CrossCallWait& cc = task.cross_call;
    if (cc.pending != queued[t]) {
      return fmt::format("task {} waits for {} cross-call targets, {} have it queued", t,
                         cc.pending, queued[t]);
    }
    if (!cc.sent) continue;
    bool waiting = task.state == TaskState::kRunning && task.has_op &&
                   task.op.kind == OpKind::kCrossCall && task.vcpu != kNone &&
                   w.vcpus[task.vcpu].current == t && !task.spinning && !task.pv_halted;
    if (!waiting) return fmt::format("task {} has a cross-call in flight but is not waiting", t);
  }
  return {};
}

}  // namespace prefcpu::sim
