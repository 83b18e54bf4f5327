#include "sim/host.h"

#include <algorithm>

#include "sim/cache.h"
#include "sim/exec.h"
#include "sim/guest.h"
#include "sim/host_check.h"

namespace prefcpu::sim {

namespace {

constexpr std::uint64_t kNiceZeroWeight = 1024;

// Weighted vruntime including the open run, so running and waiting vCPUs compare.
std::uint64_t live_vruntime(const Vcpu& v, std::uint32_t weight, Ns now) {
  if (v.host != HostState::kRunning && v.host != HostState::kPolling) return v.vruntime;
  auto ran = static_cast<std::uint64_t>(now - v.run_start);
  return v.vruntime + ran * kNiceZeroWeight / weight;
}

}  // namespace

std::uint32_t entitlement_accounts(const HostParams& host, std::uint32_t vcpus) {
  return host.entitlement_by == EntitlementScope::kPartition ? 1 : virtual_processors(host, vcpus);
}

std::uint32_t entitlement_of(const World& w, std::uint32_t v) {
  const Vcpu& vc = w.vcpus[v];
  std::uint32_t first = w.vms[vc.vm].first_entitlement;
  return w.host.entitlement_by == EntitlementScope::kPartition ? first
                                                               : first + vc.local / w.host.smt;
}

void HostScheduler::start() {
  if (w_.host.scheduler == HostKind::kDispatchWindow) {
    w_.schedule(0, EventKind::kWindow, 0, 0);
  }
  if (per_cpu()) {
    for (Pcpu& pc : w_.pcpus) pc.balance_interval_ms = static_cast<std::uint32_t>(w_.pcpus.size());
    w_.schedule(1'000'000'000 / w_.host.host_hz, EventKind::kHostTick, 0, 0);
  }
}

Ns HostScheduler::steal_ns(std::uint32_t v) const {
  return time_in(w_.vcpus[v], HostState::kWaiting, w_.now());
}

std::uint64_t HostScheduler::key_class(std::uint32_t v) const {
  if (w_.host.scheduler != HostKind::kDispatchWindow) return 0;
  return w_.entitlements[entitlement_of(w_, v)].entitled ? 0 : 1;
}

// A vCPU's weighted vruntime; under whole-core dispatch, its virtual processor's weighted core
// time (v is the first vCPU), the open hold included: the core is what it holds, whatever the
// busy threads.
std::uint64_t HostScheduler::queue_key(std::uint32_t v) const {
  const Vcpu& vc = w_.vcpus[v];
  std::uint32_t weight = w_.vms[vc.vm].weight;
  if (!gang()) return live_vruntime(vc, weight, w_.now());
  if (vc.vp_core == kNone) return vc.vp_vruntime;
  return vc.vp_vruntime +
         static_cast<std::uint64_t>(w_.now() - vc.vp_since) * kNiceZeroWeight / weight;
}

bool HostScheduler::before(std::uint32_t a, std::uint32_t b) const {
  std::uint64_t ca = key_class(a);
  std::uint64_t cb = key_class(b);
  if (ca != cb) return ca < cb;
  std::uint64_t ra = queue_key(a);
  std::uint64_t rb = queue_key(b);
  if (ra != rb) return ra < rb;
  return a < b;
}

bool HostScheduler::per_cpu() const {
  return w_.host.queues == HostQueues::kPerCpu && w_.host.scheduler == HostKind::kFair;
}

// The queue a vCPU leaving or wanting pCPU p waits on: p's own, or the global one.
std::vector<std::uint32_t>& HostScheduler::queue_of(std::uint32_t p) {
  return per_cpu() ? w_.pcpus[p].queue : w_.host_queue;
}

void HostScheduler::queue_push(std::uint32_t p, std::uint32_t v) {
  auto& q = queue_of(p);
  if (per_cpu()) w_.vcpus[v].queued_on = p;
  q.push_back(v);
  std::push_heap(q.begin(), q.end(),
                 [this](std::uint32_t a, std::uint32_t b) { return before(b, a); });
}

std::uint32_t HostScheduler::queue_pop(std::uint32_t p) {
  auto& q = queue_of(p);
  std::pop_heap(q.begin(), q.end(),
                [this](std::uint32_t a, std::uint32_t b) { return before(b, a); });
  std::uint32_t v = q.back();
  q.pop_back();
  w_.vcpus[v].queued_on = kNone;
  return v;
}

void HostScheduler::queue_remove(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  auto& q = per_cpu() ? w_.pcpus[vc.queued_on].queue : w_.host_queue;
  q.erase(std::find(q.begin(), q.end(), v));
  std::make_heap(q.begin(), q.end(),
                 [this](std::uint32_t a, std::uint32_t b) { return before(b, a); });
  vc.queued_on = kNone;
}

void HostScheduler::queue_rebuild() {
  std::make_heap(w_.host_queue.begin(), w_.host_queue.end(),
                 [this](std::uint32_t a, std::uint32_t b) { return before(b, a); });
}

void HostScheduler::budget_update(Entitlement& e) {
  e.used_ns += static_cast<Ns>(e.running) * (w_.now() - e.used_updated);
  e.used_updated = w_.now();
}

void HostScheduler::budget_arm(std::uint32_t account) {
  Entitlement& e = w_.entitlements[account];
  ++e.gen;
  if (w_.host.scheduler != HostKind::kDispatchWindow || !e.entitled || e.running == 0) return;
  Ns left = e.budget_ns - e.used_ns;
  Ns at = left <= 0 ? w_.now() : w_.now() + (left + e.running - 1) / e.running;
  w_.schedule(at, EventKind::kBudget, account, e.gen);
}

// v's account takes (+1) or gives back (-1) a pCPU, or a core under whole-core dispatch.
void HostScheduler::charge(std::uint32_t v, int cores) {
  std::uint32_t account = entitlement_of(w_, v);
  Entitlement& e = w_.entitlements[account];
  if (w_.host.scheduler == HostKind::kDispatchWindow) budget_update(e);
  e.running = static_cast<std::uint32_t>(static_cast<int>(e.running) + cores);
  if (w_.host.scheduler == HostKind::kDispatchWindow) budget_arm(account);
}

void HostScheduler::arm_slice(std::uint32_t p) {
  Pcpu& pc = w_.pcpus[p];
  ++pc.gen;
  if (w_.host.scheduler == HostKind::kFair) {
    w_.schedule(w_.now() + w_.host.slice_ns, EventKind::kSlice, p, pc.gen);
  }
}

void HostScheduler::wake(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  vc.wake_pending = false;
  if (vc.host != HostState::kHalted) return;
  enqueue(v);
}

void HostScheduler::enqueue(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  // Zero-lag placement: a vCPU gets no credit for the time it was halted.
  vc.vruntime = std::max(vc.vruntime, w_.min_vruntime);
  if (gang()) {
    vp_enqueue(v);
    return;
  }
  if (per_cpu()) {
    std::uint32_t p = select_pcpu(v);
    if (w_.pcpus[p].current == kNone) {
      dispatch(p, v);
      return;
    }
    set_host_state(vc, HostState::kWaiting, w_.now());
    queue_push(p, v);
    // Halt polling stops once another task is runnable on its pCPU (single_task_running()).
    std::uint32_t cur = w_.pcpus[p].current;
    if (w_.vcpus[cur].host == HostState::kPolling) halt(cur);
    return;
  }
  std::uint32_t p = vc.last_pcpu != kNone && w_.pcpus[vc.last_pcpu].current == kNone
                        ? vc.last_pcpu
                        : w_.idle_pcpus.first();
  if (p == kNone && w_.polling > 0) {
    // "Halt polling will only be conducted by the host when no other tasks are runnable".
    for (std::uint32_t q = 0; q < w_.pcpus.size(); ++q) {
      std::uint32_t cur = w_.pcpus[q].current;
      if (cur != kNone && w_.vcpus[cur].host == HostState::kPolling) {
        --w_.polling;
        stop_running(cur);
        set_host_state(w_.vcpus[cur], HostState::kHalted, w_.now());
        ++w_.vms[w_.vcpus[cur].vm].stats.halts;
        p = q;
        break;
      }
    }
  }
  if (p != kNone) {
    dispatch(p, v);
    return;
  }
  set_host_state(vc, HostState::kWaiting, w_.now());
  queue_push(0, v);
  if (w_.host.scheduler == HostKind::kDispatchWindow && key_class(v) == 0) {
    preempt_for_entitled();
  }
}

void HostScheduler::dispatch(std::uint32_t p, std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  Pcpu& pc = w_.pcpus[p];
  Vm& vm = w_.vms[vc.vm];
  Ns now = w_.now();
  set_host_state(vc, HostState::kRunning, now);
  vc.pcpu = p;
  pc.current = v;
  w_.idle_pcpus.reset(p);
  if (pc.last != v) {
    vc.exec_from = now + w_.host.context_switch_ns;
    Ns lost = refill_lost(p, v);
    Ns slow = w_.host.refill_speed_pct >= 100 ? 0 : lost * 100 / (100 - w_.host.refill_speed_pct);
    if (slow > 0) vm.stats.refill_ns += lost;
    vc.refill_until = vc.exec_from + slow;
    ++vm.stats.host_switches;
  } else {
    vc.exec_from = now;
    vc.refill_until = 0;
  }
  pc.last = v;
  vc.last_pcpu = p;
  vc.ple_window_ns = w_.host.ple_window_ns;  // ple_window_shrink 0: back to the base when loaded
  vc.run_start = now;
  vc.accounted_to = now;
  vc.armed_end = kNever;
  exec_.csd_dispatched(v);
  w_.min_vruntime = std::max(w_.min_vruntime, vc.vruntime);
  if (!gang()) charge(v, 1);  // whole-core dispatch books the core in vp_dispatch()
  ++vc.gen;
  w_.schedule(vc.exec_from, EventKind::kResume, v, vc.gen);
  arm_slice(p);
}

// Guest work v loses refilling the cache of pCPU p: the flat penalty, or the part of its working
// set the vCPUs that ran on p since displaced (src/sim/cache.h).
Ns HostScheduler::refill_lost(std::uint32_t p, std::uint32_t v) {
  if (w_.host.refill == RefillKind::kFlat) return w_.host.refill_penalty_ns;
  std::uint64_t capacity = std::uint64_t{w_.host.cache_kib} * 1024;
  return refill_ns(w_.host,
                   cache_load(w_.pcpus[p].cache, v, w_.vms[w_.vcpus[v].vm].working_set, capacity));
}

// Leaves the pCPU (the caller sets the new state and refills the pCPU).
void HostScheduler::stop_running(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  Vm& vm = w_.vms[vc.vm];
  vc.vruntime = live_vruntime(vc, vm.weight, w_.now());
  if (!gang()) charge(v, -1);  // whole-core dispatch releases the core in vp_release()
  Pcpu& pc = w_.pcpus[vc.pcpu];
  pc.current = kNone;
  ++pc.gen;
  w_.idle_pcpus.set(vc.pcpu);
  vc.pcpu = kNone;
  vc.left_pcpu_at = w_.now();
  ++vc.gen;
  vc.armed_end = kNever;
}

void HostScheduler::preempt(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  Vm& vm = w_.vms[vc.vm];
  exec_.advance(v);
  if (vc.host == HostState::kPolling) --w_.polling;
  std::uint32_t p = vc.pcpu;
  stop_running(v);
  set_host_state(vc, HostState::kWaiting, w_.now());
  ++vm.stats.host_preemptions;
  queue_push(p, v);
  if (vc.current != kNone && !w_.tasks[vc.current].held.empty()) {
    ++vm.stats.holder_preemptions;
    exec_.on_holder_preempted(vc.current);
  }
}

// With per-pCPU queues the target leaves whichever queue it waits on for v's pCPU (a
// simplification: yield_to() makes it the next buddy on its own run queue and reschedules that
// CPU).
void HostScheduler::yield_to(std::uint32_t v, std::uint32_t target) {
  if (w_.vcpus[target].host != HostState::kWaiting) return;
  if (gang()) {
    vp_confer(v, target);
    return;
  }
  queue_remove(target);
  std::uint32_t p = w_.vcpus[v].pcpu;
  preempt(v);
  dispatch(p, target);
}

void HostScheduler::idle(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  // Whole-core dispatch: an idle thread cedes (H_CEDE); the hypervisor does not poll for it.
  if (!gang() && w_.host.halt_poll_ns > 0 && queue_of(vc.pcpu).empty()) {
    set_host_state(vc, HostState::kPolling, w_.now());
    ++w_.polling;
    ++vc.gen;
    vc.armed_end = kNever;
    w_.schedule(w_.now() + w_.host.halt_poll_ns, EventKind::kPollEnd, v, vc.gen);
    return;
  }
  halt(v);
}

bool HostScheduler::resume_polling(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.host != HostState::kPolling) return false;
  --w_.polling;
  set_host_state(vc, HostState::kRunning, w_.now());
  vc.exec_from = w_.now();
  vc.accounted_to = w_.now();
  ++vc.gen;
  w_.schedule(w_.now(), EventKind::kResume, v, vc.gen);
  return true;
}

void HostScheduler::halt(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.host == HostState::kPolling) --w_.polling;
  std::uint32_t p = vc.pcpu;
  stop_running(v);
  set_host_state(vc, HostState::kHalted, w_.now());
  ++w_.vms[vc.vm].stats.halts;
  if (gang()) {
    vp_thread_ceded(v);
    return;
  }
  pcpu_freed(p);
}

void HostScheduler::pcpu_freed(std::uint32_t p) {
  if (!queue_of(p).empty()) {
    dispatch(p, queue_pop(p));
    return;
  }
  if (per_cpu()) newidle_balance(p);
}

void HostScheduler::on_slice(std::uint32_t p, std::uint32_t gen) {
  Pcpu& pc = w_.pcpus[p];
  if (pc.gen != gen || pc.current == kNone) return;
  std::uint32_t v = pc.current;
  const auto& q = queue_of(p);
  if (q.empty() || !before(q.front(), v)) {
    arm_slice(p);
    return;
  }
  displace(v);
}

// The head of the host queue takes v's pCPU: a polling v halts (which hands its pCPU on), a
// running one is preempted.
void HostScheduler::displace(std::uint32_t v) {
  if (gang()) {
    std::uint32_t core = w_.vcpus[v].vp_core;
    vp_preempt(core);
    vp_dispatch(core, queue_pop(0));
    return;
  }
  if (w_.vcpus[v].host == HostState::kPolling) {
    halt(v);
    return;
  }
  std::uint32_t p = w_.vcpus[v].pcpu;
  preempt(v);
  dispatch(p, queue_pop(p));
}

// The running vCPU the host would deschedule first, or kNone when no pCPU is busy.
std::uint32_t HostScheduler::worst_running() const {
  std::uint32_t worst = kNone;
  if (gang()) {
    for (std::uint32_t first : w_.core_vp) {
      if (first != kNone && (worst == kNone || before(worst, first))) worst = first;
    }
    return worst;
  }
  for (const Pcpu& pc : w_.pcpus) {
    if (pc.current == kNone) continue;
    if (worst == kNone || before(worst, pc.current)) worst = pc.current;
  }
  return worst;
}

void HostScheduler::on_poll_end(std::uint32_t v, std::uint32_t gen) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.gen != gen || vc.host != HostState::kPolling) return;
  halt(v);
}

// Entitled capacity is guaranteed within the window: an entitled waiter displaces an excess one.
void HostScheduler::preempt_for_entitled() {
  while (!w_.host_queue.empty()) {
    std::uint32_t best = w_.host_queue.front();
    std::uint32_t worst = worst_running();
    if (worst == kNone) return;
    if (key_class(best) >= key_class(worst)) return;
    displace(worst);
  }
}

void HostScheduler::on_window() {
  for (std::uint32_t i = 0; i < w_.entitlements.size(); ++i) {
    Entitlement& e = w_.entitlements[i];
    budget_update(e);
    e.used_ns = 0;
    e.entitled = e.budget_ns > 0;
    budget_arm(i);
  }
  queue_rebuild();
  // The window boundary is the dispatch point: better waiting vCPUs replace worse running ones.
  while (!w_.host_queue.empty()) {
    std::uint32_t best = w_.host_queue.front();
    std::uint32_t worst = worst_running();
    if (worst == kNone || !before(best, worst)) break;
    displace(worst);
  }
  w_.schedule(w_.now() + w_.host.window_ns, EventKind::kWindow, 0, 0);
}

void HostScheduler::on_budget(std::uint32_t account, std::uint32_t gen) {
  Entitlement& e = w_.entitlements[account];
  if (e.gen != gen || !e.entitled) return;
  budget_update(e);
  e.entitled = false;
  queue_rebuild();
  preempt_for_entitled();
}

void HostScheduler::on_resume(std::uint32_t v, std::uint32_t gen) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.gen != gen || vc.host != HostState::kRunning) return;
  vc.accounted_to = w_.now();
  if (vc.idle_balance) w_.vms[vc.vm].kick_outstanding = false;
  if (vc.tick_pending) {
    vc.tick_pending = false;
    guest_.tick(v);
  }
  guest_.arm_tick(v);
  guest_.run(v);
}

}  // namespace prefcpu::sim
