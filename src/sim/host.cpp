// The host: a fair scheduler of vCPU threads over P pCPUs (one global queue ordered by weighted
// vruntime), or a PowerVM-like dispatch window with per-VM entitlement. Steal is the time a vCPU
// spends runnable on this queue.
#include "sim/sim.h"

namespace prefcpu::sim {

namespace {
constexpr std::uint64_t kNiceZeroWeight = 1024;
}

std::uint64_t Simulation::host_key_class(const Vcpu& v) const {
  if (host_.scheduler != HostScheduler::kDispatchWindow) return 0;
  return vms_[v.vm].entitled ? 0 : 1;
}

// Weighted vruntime including the open run, so running and waiting vCPUs compare.
static std::uint64_t live_vruntime(const Vcpu& v, std::uint32_t weight, Ns now) {
  if (v.host != HostState::kRunning && v.host != HostState::kPolling) return v.vruntime;
  auto ran = static_cast<std::uint64_t>(now - v.run_start);
  return v.vruntime + ran * kNiceZeroWeight / weight;
}

bool Simulation::host_before(std::uint32_t a, std::uint32_t b) const {
  const Vcpu& va = vcpus_[a];
  const Vcpu& vb = vcpus_[b];
  std::uint64_t ca = host_key_class(va);
  std::uint64_t cb = host_key_class(vb);
  if (ca != cb) return ca < cb;
  std::uint64_t ra = live_vruntime(va, vms_[va.vm].weight, now());
  std::uint64_t rb = live_vruntime(vb, vms_[vb.vm].weight, now());
  if (ra != rb) return ra < rb;
  return a < b;
}

void Simulation::queue_push(std::uint32_t v) {
  host_queue_.push_back(v);
  std::push_heap(host_queue_.begin(), host_queue_.end(),
                 [this](std::uint32_t a, std::uint32_t b) { return host_before(b, a); });
}

std::uint32_t Simulation::queue_pop() {
  std::pop_heap(host_queue_.begin(), host_queue_.end(),
                [this](std::uint32_t a, std::uint32_t b) { return host_before(b, a); });
  std::uint32_t v = host_queue_.back();
  host_queue_.pop_back();
  return v;
}

void Simulation::queue_rebuild() {
  std::make_heap(host_queue_.begin(), host_queue_.end(),
                 [this](std::uint32_t a, std::uint32_t b) { return host_before(b, a); });
}

void Simulation::budget_update(Vm& vm) {
  vm.used_ns += static_cast<Ns>(vm.running) * (now() - vm.used_updated);
  vm.used_updated = now();
}

void Simulation::budget_arm(std::uint32_t vm_index) {
  Vm& vm = vms_[vm_index];
  ++vm.budget_gen;
  if (host_.scheduler != HostScheduler::kDispatchWindow || !vm.entitled || vm.running == 0) return;
  Ns left = vm.budget_ns - vm.used_ns;
  Ns at = left <= 0 ? now() : now() + (left + vm.running - 1) / vm.running;
  schedule(at, EventKind::kBudget, vm_index, vm.budget_gen);
}

void Simulation::arm_slice(std::uint32_t p) {
  Pcpu& pc = pcpus_[p];
  ++pc.gen;
  if (host_.scheduler == HostScheduler::kFair) {
    schedule(now() + host_.slice_ns, EventKind::kSlice, p, pc.gen);
  }
}

// A halted vCPU has something to do (a queued task, an IPI).
void Simulation::host_wake(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  vc.wake_pending = false;
  if (vc.host != HostState::kHalted) return;
  host_enqueue(v);
}

void Simulation::host_enqueue(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  // Zero-lag placement: a vCPU gets no credit for the time it was halted.
  vc.vruntime = std::max(vc.vruntime, min_vruntime_);
  std::uint32_t p = vc.last_pcpu != kNone && pcpus_[vc.last_pcpu].current == kNone
                        ? vc.last_pcpu
                        : idle_pcpus_.first();
  if (p == kNone && polling_ > 0) {
    // "Halt polling will only be conducted by the host when no other tasks are runnable".
    for (std::uint32_t q = 0; q < pcpus_.size(); ++q) {
      std::uint32_t cur = pcpus_[q].current;
      if (cur != kNone && vcpus_[cur].host == HostState::kPolling) {
        --polling_;
        host_stop_running(cur);
        vcpus_[cur].host = HostState::kHalted;
        ++vms_[vcpus_[cur].vm].stats.halts;
        p = q;
        break;
      }
    }
  }
  if (p != kNone) {
    host_dispatch(p, v);
    return;
  }
  vc.host = HostState::kWaiting;
  vc.wait_since = now();
  queue_push(v);
  if (host_.scheduler == HostScheduler::kDispatchWindow && host_key_class(vc) == 0) {
    preempt_for_entitled();
  }
}

void Simulation::host_dispatch(std::uint32_t p, std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  Pcpu& pc = pcpus_[p];
  Vm& vm = vms_[vc.vm];
  if (vc.host == HostState::kWaiting) vc.steal_ns += now() - vc.wait_since;
  vc.host = HostState::kRunning;
  vc.pcpu = p;
  pc.current = v;
  idle_pcpus_.reset(p);
  if (pc.last != v) {
    vc.exec_from = now() + host_.context_switch_ns;
    Ns slow = host_.refill_speed_pct >= 100
                  ? 0
                  : host_.refill_penalty_ns * 100 / (100 - host_.refill_speed_pct);
    vc.refill_until = vc.exec_from + slow;
    ++vm.stats.host_switches;
  } else {
    vc.exec_from = now();
    vc.refill_until = 0;
  }
  pc.last = v;
  vc.last_pcpu = p;
  vc.run_start = now();
  vc.accounted_to = now();
  vc.armed_end = kNever;
  min_vruntime_ = std::max(min_vruntime_, vc.vruntime);
  if (host_.scheduler == HostScheduler::kDispatchWindow) budget_update(vm);
  ++vm.running;
  if (host_.scheduler == HostScheduler::kDispatchWindow) budget_arm(vc.vm);
  ++vc.gen;
  schedule(vc.exec_from, EventKind::kResume, v, vc.gen);
  arm_slice(p);
}

// Leaves the pCPU (the caller sets the new state and refills the pCPU).
void Simulation::host_stop_running(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  Vm& vm = vms_[vc.vm];
  vc.vruntime = live_vruntime(vc, vm.weight, now());
  vm.stats.run_ns += now() - vc.run_start;
  if (host_.scheduler == HostScheduler::kDispatchWindow) budget_update(vm);
  --vm.running;
  if (host_.scheduler == HostScheduler::kDispatchWindow) budget_arm(vc.vm);
  Pcpu& pc = pcpus_[vc.pcpu];
  pc.current = kNone;
  ++pc.gen;
  idle_pcpus_.set(vc.pcpu);
  vc.pcpu = kNone;
  ++vc.gen;
  vc.armed_end = kNever;
}

void Simulation::host_preempt(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  Vm& vm = vms_[vc.vm];
  advance(v);
  if (vc.host == HostState::kPolling) --polling_;
  host_stop_running(v);
  vc.host = HostState::kWaiting;
  vc.wait_since = now();
  ++vm.stats.host_preemptions;
  queue_push(v);
  if (vc.current != kNone && tasks_[vc.current].held_lock != kNone) {
    ++vm.stats.holder_preemptions;
    on_holder_preempted(vc.current);
  }
}

// The guest on v has nothing to run: poll for a while if nobody else wants the pCPU, else halt.
void Simulation::host_idle(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  if (host_.halt_poll_ns > 0 && host_queue_.empty()) {
    vc.host = HostState::kPolling;
    ++polling_;
    ++vc.gen;
    vc.armed_end = kNever;
    schedule(now() + host_.halt_poll_ns, EventKind::kPollEnd, v, vc.gen);
    return;
  }
  host_halt(v);
}

void Simulation::host_halt(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  if (vc.host == HostState::kPolling) --polling_;
  std::uint32_t p = vc.pcpu;
  host_stop_running(v);
  vc.host = HostState::kHalted;
  ++vms_[vc.vm].stats.halts;
  host_pcpu_freed(p);
}

void Simulation::host_pcpu_freed(std::uint32_t p) {
  if (host_queue_.empty()) return;
  host_dispatch(p, queue_pop());
}

void Simulation::host_on_slice(std::uint32_t p, std::uint32_t gen) {
  Pcpu& pc = pcpus_[p];
  if (pc.gen != gen || pc.current == kNone) return;
  std::uint32_t v = pc.current;
  if (host_queue_.empty() || !host_before(host_queue_.front(), v)) {
    arm_slice(p);
    return;
  }
  host_displace(v);
}

// The head of the host queue takes v's pCPU: a polling v halts (which hands its pCPU on), a
// running one is preempted.
void Simulation::host_displace(std::uint32_t v) {
  if (vcpus_[v].host == HostState::kPolling) {
    host_halt(v);
    return;
  }
  std::uint32_t p = vcpus_[v].pcpu;
  host_preempt(v);
  host_dispatch(p, queue_pop());
}

// The running vCPU the host would deschedule first, or kNone when no pCPU is busy.
std::uint32_t Simulation::host_worst_running() const {
  std::uint32_t worst = kNone;
  for (const Pcpu& pc : pcpus_) {
    if (pc.current == kNone) continue;
    if (worst == kNone || host_before(worst, pc.current)) worst = pc.current;
  }
  return worst;
}

void Simulation::host_on_poll_end(std::uint32_t v, std::uint32_t gen) {
  Vcpu& vc = vcpus_[v];
  if (vc.gen != gen || vc.host != HostState::kPolling) return;
  host_halt(v);
}

// Entitled capacity is guaranteed within the window: an entitled waiter displaces an excess one.
void Simulation::preempt_for_entitled() {
  while (!host_queue_.empty()) {
    std::uint32_t best = host_queue_.front();
    std::uint32_t worst = host_worst_running();
    if (worst == kNone) return;
    if (host_key_class(vcpus_[best]) >= host_key_class(vcpus_[worst])) return;
    host_displace(worst);
  }
}

void Simulation::host_on_window() {
  for (std::uint32_t i = 0; i < vms_.size(); ++i) {
    Vm& vm = vms_[i];
    budget_update(vm);
    vm.used_ns = 0;
    vm.entitled = vm.budget_ns > 0;
    budget_arm(i);
  }
  queue_rebuild();
  // The window boundary is the dispatch point: better waiting vCPUs replace worse running ones.
  while (!host_queue_.empty()) {
    std::uint32_t best = host_queue_.front();
    std::uint32_t worst = host_worst_running();
    if (worst == kNone || !host_before(best, worst)) break;
    host_displace(worst);
  }
  schedule(now() + host_.window_ns, EventKind::kWindow, 0, 0);
}

void Simulation::host_on_budget(std::uint32_t vm_index, std::uint32_t gen) {
  Vm& vm = vms_[vm_index];
  if (vm.budget_gen != gen || !vm.entitled) return;
  budget_update(vm);
  vm.entitled = false;
  queue_rebuild();
  preempt_for_entitled();
}

void Simulation::host_on_resume(std::uint32_t v, std::uint32_t gen) {
  Vcpu& vc = vcpus_[v];
  if (vc.gen != gen || vc.host != HostState::kRunning) return;
  vc.accounted_to = now();
  if (vc.idle_balance) vms_[vc.vm].kick_outstanding = false;
  if (vc.tick_pending) {
    vc.tick_pending = false;
    guest_tick(v);
  }
  arm_tick(v);
  guest_run(v);
}

}  // namespace prefcpu::sim
