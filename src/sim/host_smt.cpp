// Whole-core dispatch on the dispatch-window host (HostParams::smt > 1): PowerVM dispatches a
// shared-processor LPAR's virtual processor, its smt consecutive vCPUs, onto a whole core and
// preempts it as a whole ("Preemption can only happen at core granularity",
// arch/powerpc/include/asm/paravirt.h). An idle thread cedes but its core stays with the virtual
// processor until every thread is idle; each busy thread runs at the core's throughput with that
// many busy threads, shared out (HostParams::smt_core_pm).
#include <algorithm>

#include "sim/exec.h"
#include "sim/host.h"

namespace prefcpu::sim {

namespace {

// The pCPU slot of v's thread on `core`: the core's threads are consecutive slots.
std::uint32_t thread_slot(const World& w, std::uint32_t core, std::uint32_t v) {
  return core * w.host.smt + w.vcpus[v].local % w.host.smt;
}

}  // namespace

std::uint32_t HostScheduler::vp_first(std::uint32_t v) const {
  const Vcpu& vc = w_.vcpus[v];
  return w_.vms[vc.vm].first_vcpu + vc.local / w_.host.smt * w_.host.smt;
}

// A thread with work: onto its core at once if its virtual processor holds one, else the virtual
// processor waits for a core (the thread's wait is steal).
void HostScheduler::vp_enqueue(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.vp_core != kNone) {
    dispatch(thread_slot(w_, vc.vp_core, v), v);
    smt_retune(vc.vp_core);
    return;
  }
  std::uint32_t first = vp_first(v);
  bool queued = false;
  for (std::uint32_t i = 0; i < w_.host.smt; ++i) {
    queued = queued || w_.vcpus[first + i].host == HostState::kWaiting;
  }
  set_host_state(vc, HostState::kWaiting, w_.now());
  if (queued) return;
  // Zero-lag placement: an idle virtual processor gets no credit for the time it was idle.
  Vcpu& head = w_.vcpus[first];
  head.vp_vruntime = std::max(head.vp_vruntime, w_.vp_min_vruntime);
  // The core this thread last ran on if it is free (its cache), else the first free one.
  std::uint32_t core = vc.last_pcpu == kNone ? kNone : vc.last_pcpu / w_.host.smt;
  if (core == kNone || w_.core_vp[core] != kNone) {
    auto free = std::find(w_.core_vp.begin(), w_.core_vp.end(), kNone);
    core = free == w_.core_vp.end() ? kNone : static_cast<std::uint32_t>(free - w_.core_vp.begin());
  }
  if (core != kNone) {
    vp_dispatch(core, first);
    return;
  }
  queue_push(0, first);
  if (key_class(v) == 0) preempt_for_entitled();
}

// The virtual processor takes `core`: its waiting threads run; its idle ones stay ceded. Its
// entitlement is charged for the whole core while it holds it.
void HostScheduler::vp_dispatch(std::uint32_t core, std::uint32_t first) {
  w_.core_vp[core] = first;
  Vcpu& head = w_.vcpus[first];
  head.vp_since = w_.now();
  w_.vp_min_vruntime = std::max(w_.vp_min_vruntime, head.vp_vruntime);
  charge(first, 1);
  for (std::uint32_t v = first; v < first + w_.host.smt; ++v) {
    w_.vcpus[v].vp_core = core;
    if (w_.vcpus[v].host == HostState::kWaiting) dispatch(thread_slot(w_, core, v), v);
  }
  smt_retune(core);
}

// The hypervisor takes `core` back: every busy thread of its virtual processor waits on the host.
void HostScheduler::vp_preempt(std::uint32_t core) {
  std::uint32_t first = w_.core_vp[core];
  std::uint32_t end = first + w_.host.smt;
  bool waiting = false;
  for (std::uint32_t v = first; v < end; ++v) {
    Vcpu& vc = w_.vcpus[v];
    if (vc.host != HostState::kRunning) continue;
    exec_.advance(v);
    stop_running(v);
    set_host_state(vc, HostState::kWaiting, w_.now());
    ++w_.vms[vc.vm].stats.host_preemptions;
    waiting = true;
  }
  vp_release(core);
  if (waiting) queue_push(0, first);
  for (std::uint32_t v = first; v < end; ++v) {
    const Vcpu& vc = w_.vcpus[v];
    if (vc.host == HostState::kWaiting && vc.current != kNone &&
        !w_.tasks[vc.current].held.empty()) {
      ++w_.vms[vc.vm].stats.holder_preemptions;
      exec_.on_holder_preempted(vc.current);
    }
  }
}

void HostScheduler::vp_release(std::uint32_t core) {
  std::uint32_t first = w_.core_vp[core];
  Vcpu& head = w_.vcpus[first];
  head.vp_vruntime = queue_key(first);  // charged for the whole core while it held it
  w_.core_vp[core] = kNone;
  for (std::uint32_t v = first; v < first + w_.host.smt; ++v) w_.vcpus[v].vp_core = kNone;
  charge(first, -1);
}

// Thread v ceded (it halted): the core stays with its virtual processor while a sibling is busy
// (the idle thread's share is wasted); once all are idle the core goes to the next waiter.
void HostScheduler::vp_thread_ceded(std::uint32_t v) {
  std::uint32_t core = w_.vcpus[v].vp_core;
  std::uint32_t first = w_.core_vp[core];
  for (std::uint32_t s = first; s < first + w_.host.smt; ++s) {
    if (w_.vcpus[s].host == HostState::kRunning) {
      smt_retune(core);
      return;
    }
  }
  vp_release(core);
  if (!w_.host_queue.empty()) vp_dispatch(core, queue_pop(0));
}

// H_CONFER to a preempted thread: v's virtual processor gives its core to the target's.
void HostScheduler::vp_confer(std::uint32_t v, std::uint32_t target) {
  std::uint32_t core = w_.vcpus[v].vp_core;
  std::uint32_t first = vp_first(target);
  queue_remove(first);
  vp_preempt(core);
  vp_dispatch(core, first);
}

// Every busy thread of `core` runs at smt_core_pm[k] / k per mille, k the busy threads.
void HostScheduler::smt_retune(std::uint32_t core) {
  std::uint32_t first = w_.core_vp[core];
  std::uint32_t end = first + w_.host.smt;
  std::uint32_t busy = 0;
  for (std::uint32_t v = first; v < end; ++v) {
    if (w_.vcpus[v].host == HostState::kRunning) ++busy;
  }
  if (busy == 0) return;
  std::uint32_t speed = w_.host.smt_core_pm[busy] / busy;
  for (std::uint32_t v = first; v < end; ++v) {
    if (w_.vcpus[v].host == HostState::kRunning) exec_.set_speed(v, speed);
  }
}

}  // namespace prefcpu::sim
