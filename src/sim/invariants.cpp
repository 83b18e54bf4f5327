// The model's invariants, checked in test builds (RunConfig::check_invariants): after every event,
// the clock never goes back (Simulation::run_until), every vCPU is in exactly one host state and
// place, time adds up, and every running task is where its vCPU says; every task's place on run
// queues and wait lists is checked after every event in runs of up to 64 tasks, and every
// tasks/64 events in larger ones (it costs O(tasks)), and at the end of every run.
#include <fmt/format.h>

#include <algorithm>

#include "sim/cross_call.h"
#include "sim/sim.h"

namespace prefcpu::sim {

namespace {

constexpr std::array<HostState, kHostStates> kAllHostStates{
    HostState::kHalted, HostState::kWaiting, HostState::kRunning, HostState::kPolling};

// Counts how often each task sits on the lists of one kind, and checks the lists' sizes.
std::string count_list(const std::vector<Task>& tasks, const List& list, Links Task::*links,
                       std::vector<std::uint32_t>& count, std::string_view what) {
  std::uint32_t seen = 0;
  for (std::uint32_t t = list.head; t != kNone; t = (tasks[t].*links).next) {
    if (++seen > tasks.size()) return fmt::format("{} has a cycle", what);
    ++count[t];
  }
  if (seen != list.size) return fmt::format("{} holds {} tasks but says {}", what, seen, list.size);
  return {};
}

}  // namespace

std::string Simulation::check_invariants(bool with_tasks) const {
  const Ns now = w_.now();
  std::vector<std::uint32_t> as_current(with_tasks ? w_.tasks.size() : 0, 0);
  std::vector<std::uint32_t> in_host_queue(w_.vcpus.size(), 0);
  for (std::uint32_t v : w_.host_queue) ++in_host_queue[v];
  bool per_cpu = w_.host.queues == HostQueues::kPerCpu && w_.host.scheduler == HostKind::kFair;
  if (per_cpu && !w_.host_queue.empty())
    return "per-pCPU host queues, but the global queue is used";
  for (std::uint32_t p = 0; p < w_.pcpus.size(); ++p) {
    const Pcpu& pc = w_.pcpus[p];
    if (!per_cpu && !pc.queue.empty()) {
      return fmt::format("a global host queue, but pCPU {} has its own", p);
    }
    // An idle pCPU runs what waits on its own queue at once: only other pCPUs' waiters can wait
    // while it idles (until a balance pulls them).
    if (pc.current == kNone && !pc.queue.empty()) {
      return fmt::format("pCPU {} is idle with {} vCPUs waiting on its queue", p, pc.queue.size());
    }
    for (std::uint32_t v : pc.queue) {
      ++in_host_queue[v];
      if (w_.vcpus[v].queued_on != p) {
        return fmt::format("vCPU {} waits on pCPU {}'s queue but says {}", v, p,
                           static_cast<int>(w_.vcpus[v].queued_on));
      }
    }
  }
  bool gang = w_.host.smt > 1;
  // The global queue is work-conserving: nobody waits while a pCPU (a core) is idle.
  if (!per_cpu && !gang && !w_.host_queue.empty() && w_.idle_pcpus.first() != kNone) {
    return fmt::format("{} vCPUs wait on the host queue while pCPU {} is idle",
                       w_.host_queue.size(), w_.idle_pcpus.first());
  }
  std::uint32_t polling = 0;
  Ns on_pcpu = 0;
  std::vector<Ns> vm_running(w_.vms.size(), 0);
  for (std::uint32_t v = 0; v < w_.vcpus.size(); ++v) {
    const Vcpu& vc = w_.vcpus[v];
    bool on_cpu = vc.host == HostState::kRunning || vc.host == HostState::kPolling;
    if (on_cpu != (vc.pcpu != kNone && w_.pcpus[vc.pcpu].current == v)) {
      return fmt::format("vCPU {} is in host state {} but pCPU {}", v, static_cast<int>(vc.host),
                         vc.pcpu == kNone ? -1 : static_cast<int>(vc.pcpu));
    }
    // Whole-core dispatch queues a virtual processor by its first vCPU (check_whole_cores()).
    if (!gang &&
        ((vc.host == HostState::kWaiting) != (in_host_queue[v] == 1) || in_host_queue[v] > 1)) {
      return fmt::format("vCPU {} in host state {} is {} times on the host queues", v,
                         static_cast<int>(vc.host), in_host_queue[v]);
    }
    if (vc.host != HostState::kWaiting && vc.queued_on != kNone) {
      return fmt::format("vCPU {} in host state {} says it waits on pCPU {}", v,
                         static_cast<int>(vc.host), vc.queued_on);
    }
    if (vc.host == HostState::kPolling) ++polling;
    Ns total = 0;
    for (HostState s : kAllHostStates) total += time_in(vc, s, now);
    if (total != now)
      return fmt::format("vCPU {}: time in host states {} != clock {}", v, total, now);
    on_pcpu += time_in(vc, HostState::kRunning, now) + time_in(vc, HostState::kPolling, now);
    vm_running[vc.vm] += time_in(vc, HostState::kRunning, now);
    if (vc.current != kNone) {
      if (with_tasks) ++as_current[vc.current];
      const Task& task = w_.tasks[vc.current];
      if (task.state != TaskState::kRunning || task.vcpu != v) {
        return fmt::format("vCPU {} runs task {}, which is in state {} on vCPU {}", v, vc.current,
                           static_cast<int>(task.state), task.vcpu);
      }
      // Only pv_wait() halts a vCPU that has a task: the guest is not idle, the waiter is.
      bool off = vc.host == HostState::kHalted || vc.host == HostState::kPolling;
      if (off && !task.pv_halted) {
        return fmt::format("vCPU {} is halted or polling with task {}, which is not in pv_wait", v,
                           vc.current);
      }
      if (task.pv_halted && task.spinning) {
        return fmt::format("task {} both spins and is halted in pv_wait", vc.current);
      }
    }
    const Vm& vm = w_.vms[vc.vm];
    // The wakeup path's per-vCPU state: util in 0..1024, avg_idle within its cap, an idle stamp
    // only in the past, and only while the vCPU found nothing in its newidle balance.
    Ns avg_idle_cap = 2 * std::max(vm.guest.migration_cost_ns, vm.guest.newidle_lb_cost_ns);
    if (vc.util > 1024 || vc.util_since > now || vc.avg_idle < 0 || vc.avg_idle > avg_idle_cap ||
        vc.idle_stamp > now) {
      return fmt::format("vCPU {}: util {}, avg_idle {} (cap {}) or idle stamp {} out of range", v,
                         vc.util, vc.avg_idle, avg_idle_cap, vc.idle_stamp);
    }
    if (vm.nr_idle_scan > vm.vcpus) {
      return fmt::format("VM {}: nr_idle_scan {} > its {} vCPUs", vc.vm, vm.nr_idle_scan, vm.vcpus);
    }
    if (vm.idle.test(vc.local) != (vc.current == kNone && vc.rq.size == 0) ||
        vm.queued.test(vc.local) != (vc.rq.size != 0)) {
      return fmt::format("vCPU {}: the VM's idle/queued masks disagree with its run queue", v);
    }
  }
  if (polling != w_.polling) {
    return fmt::format("{} vCPUs poll but the host counts {}", polling, w_.polling);
  }
  if (on_pcpu > static_cast<Ns>(w_.pcpus.size()) * now) {
    return fmt::format("vCPUs held pCPUs for {} ns, more than {} pCPUs x {} ns", on_pcpu,
                       w_.pcpus.size(), now);
  }
  for (std::uint32_t p = 0; p < w_.pcpus.size(); ++p) {
    std::uint32_t cur = w_.pcpus[p].current;
    if ((cur == kNone) != w_.idle_pcpus.test(p) || (cur != kNone && w_.vcpus[cur].pcpu != p)) {
      return fmt::format("pCPU {} and its vCPU {} disagree", p, cur);
    }
    if (auto bad = check_cache(p); !bad.empty()) return bad;
  }
  if (gang) {
    if (auto bad = check_whole_cores(); !bad.empty()) return bad;
  }
  if (auto bad = check_entitlements(); !bad.empty()) return bad;
  for (std::uint32_t i = 0; i < w_.vms.size(); ++i) {
    const VmStats& s = w_.vms[i].stats;
    if (s.work_ns + s.spin_ns + s.overhead_ns > vm_running[i]) {
      return fmt::format("vm {} executed {} ns of work, spin and overhead in {} ns on pCPUs", i,
                         s.work_ns + s.spin_ns + s.overhead_ns, vm_running[i]);
    }
  }
  return with_tasks ? check_task_places(as_current) : std::string();
}

// Whole-core dispatch: the threads of a virtual processor are on its core together or off it
// together; a held core has a busy thread; each busy thread runs at the curve's speed; the host
// queue holds each waiting virtual processor once, by its first vCPU; nobody waits while a core
// is free.
std::string Simulation::check_whole_cores() const {
  const std::uint32_t smt = w_.host.smt;
  std::vector<std::uint32_t> queued(w_.vcpus.size(), 0);
  for (std::uint32_t v : w_.host_queue) ++queued[v];
  bool core_free = std::find(w_.core_vp.begin(), w_.core_vp.end(), kNone) != w_.core_vp.end();
  if (core_free && !w_.host_queue.empty()) {
    return fmt::format("{} virtual processors wait while a core is free", w_.host_queue.size());
  }
  for (std::uint32_t first = 0; first < w_.vcpus.size(); first += smt) {
    std::uint32_t core = w_.vcpus[first].vp_core;
    std::uint32_t busy = 0;
    std::uint32_t waiting = 0;
    for (std::uint32_t v = first; v < first + smt; ++v) {
      const Vcpu& vc = w_.vcpus[v];
      if (vc.vp_core != core) {
        return fmt::format("vCPU {} is on core {} but its sibling vCPU {} on {}", v,
                           static_cast<int>(vc.vp_core), first, static_cast<int>(core));
      }
      if (v != first && queued[v] != 0) return fmt::format("vCPU {} is queued alone", v);
      if (vc.host == HostState::kRunning) ++busy;
      if (vc.host == HostState::kWaiting) ++waiting;
      if (vc.host == HostState::kPolling) return fmt::format("vCPU {} polls on a core", v);
      if (vc.host == HostState::kRunning && vc.pcpu != core * smt + vc.local % smt) {
        return fmt::format("vCPU {} runs on pCPU {}, not its thread of core {}", v, vc.pcpu, core);
      }
    }
    if (core == kNone) {
      if (busy != 0) return fmt::format("virtual processor {} runs without a core", first);
      if (queued[first] != (waiting > 0 ? 1U : 0U)) {
        return fmt::format("virtual processor {} with {} waiting threads is queued {}x", first,
                           waiting, queued[first]);
      }
      continue;
    }
    if (w_.core_vp[core] != first || waiting != 0 || busy == 0 || queued[first] != 0) {
      return fmt::format("virtual processor {} holds core {} with {} busy, {} waiting threads",
                         first, core, busy, waiting);
    }
    std::uint32_t speed = w_.host.smt_core_pm[busy] / busy;
    for (std::uint32_t v = first; v < first + smt; ++v) {
      if (w_.vcpus[v].host == HostState::kRunning && w_.vcpus[v].speed_pm != speed) {
        return fmt::format("vCPU {} runs at {} per mille with {} busy threads, expected {}", v,
                           w_.vcpus[v].speed_pm, busy, speed);
      }
    }
  }
  for (std::uint32_t core = 0; core < w_.core_vp.size(); ++core) {
    std::uint32_t first = w_.core_vp[core];
    if (first != kNone && w_.vcpus[first].vp_core != core) {
      return fmt::format("core {} says virtual processor {}, which says core {}", core, first,
                         static_cast<int>(w_.vcpus[first].vp_core));
    }
  }
  return {};
}

// Every entitlement account is charged for the pCPUs (cores, under whole-core dispatch) its
// vCPUs hold, no more, no less.
std::string Simulation::check_entitlements() const {
  std::vector<std::uint32_t> held(w_.entitlements.size(), 0);
  if (w_.host.smt > 1) {
    for (std::uint32_t first : w_.core_vp) {
      if (first != kNone) ++held[entitlement_of(w_, first)];
    }
  } else {
    for (std::uint32_t v = 0; v < w_.vcpus.size(); ++v) {
      if (w_.vcpus[v].pcpu != kNone) ++held[entitlement_of(w_, v)];
    }
  }
  for (std::uint32_t i = 0; i < held.size(); ++i) {
    if (w_.entitlements[i].running != held[i]) {
      return fmt::format("entitlement account {} is charged for {} pCPUs but holds {}", i,
                         w_.entitlements[i].running, held[i]);
    }
  }
  return {};
}

// A pCPU's cache holds at most its capacity, in footprints of distinct vCPUs, each at least a
// line, whose sum it knows.
std::string Simulation::check_cache(std::uint32_t p) const {
  const PcpuCache& cache = w_.pcpus[p].cache;
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < cache.held.size(); ++i) {
    const Footprint& f = cache.held[i];
    if (f.vcpu >= w_.vcpus.size() || f.bytes < kCacheLine) {
      return fmt::format("pCPU {}'s cache holds {} bytes of vCPU {}", p, f.bytes, f.vcpu);
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (cache.held[j].vcpu == f.vcpu) {
        return fmt::format("pCPU {}'s cache holds vCPU {} twice", p, f.vcpu);
      }
    }
    sum += f.bytes;
  }
  if (sum != cache.used || sum > std::uint64_t{w_.host.cache_kib} * 1024) {
    return fmt::format("pCPU {}'s cache holds {} bytes, says {}, capacity {} KiB", p, sum,
                       cache.used, w_.host.cache_kib);
  }
  return {};
}

// Every task is in exactly one place that matches its state: O(tasks), so run less often.
std::string Simulation::check_task_places(const std::vector<std::uint32_t>& as_current) const {
  std::vector<std::uint32_t> on_rq(w_.tasks.size(), 0);
  std::vector<std::uint32_t> on_wait(w_.tasks.size(), 0);
  for (std::uint32_t v = 0; v < w_.vcpus.size(); ++v) {
    const Vcpu& vc = w_.vcpus[v];
    if (auto bad = count_list(w_.tasks, vc.rq, &Task::rq_link, on_rq,
                              fmt::format("the run queue of vCPU {}", v));
        !bad.empty()) {
      return bad;
    }
    for (std::uint32_t t = vc.rq.head; t != kNone; t = w_.tasks[t].rq_link.next) {
      if (w_.tasks[t].state != TaskState::kRunnable || w_.tasks[t].vcpu != v) {
        return fmt::format("task {} is on vCPU {}'s run queue in state {}", t, v,
                           static_cast<int>(w_.tasks[t].state));
      }
    }
  }
  for (std::uint32_t i = 0; i < w_.locks.size(); ++i) {
    const Lock& lock = w_.locks[i];
    for (const List* list : {&lock.spinners, &lock.blocked}) {
      if (auto bad = count_list(w_.tasks, *list, &Task::wq_link, on_wait,
                                fmt::format("a wait list of lock {}", i));
          !bad.empty()) {
        return bad;
      }
    }
    for (std::uint32_t t = lock.spinners.head; t != kNone; t = w_.tasks[t].wq_link.next) {
      const Task& task = w_.tasks[t];
      bool waits_here = task.has_op && task.op.kind == OpKind::kLock && task.op.object == i &&
                        task.state == TaskState::kRunning;
      if (!waits_here || !(task.spinning || (lock.spin && task.pv_halted)) || t == lock.owner) {
        return fmt::format("task {} on lock {}'s spinners is not spinning or halted for it", t, i);
      }
    }
    if (lock.spin && lock.blocked.size != 0) {
      return fmt::format("spinlock {} has sleepers", i);
    }
    // Native qspinlock hands the lock to its queue head at unlock: never free with waiters.
    if (lock.spin && lock.owner == kNone && lock.spinners.head != kNone &&
        w_.vms[w_.tasks[lock.spinners.head].vm].guest.spinlock == SpinlockKind::kQueued) {
      return fmt::format("queued spinlock {} is free while {} wait", i, lock.spinners.size);
    }
    if (lock.owner != kNone && !w_.tasks[lock.owner].held.holds(i)) {
      return fmt::format("lock {} is owned by task {}, which does not hold it", i, lock.owner);
    }
    // Spinlock sections run with preemption disabled: their holders stay on their vCPU.
    if (lock.spin && lock.owner != kNone && w_.tasks[lock.owner].state != TaskState::kRunning) {
      return fmt::format("spinlock {} is held by task {}, which is not running", i, lock.owner);
    }
  }
  for (std::uint32_t i = 0; i < w_.pipes.size(); ++i) {
    const Pipe& pipe = w_.pipes[i];
    if (pipe.count > pipe.capacity) return fmt::format("pipe {} holds more than it can", i);
    for (const List* list : {&pipe.readers, &pipe.writers}) {
      if (auto bad = count_list(w_.tasks, *list, &Task::wq_link, on_wait,
                                fmt::format("a wait list of pipe {}", i));
          !bad.empty()) {
        return bad;
      }
    }
  }
  for (std::uint32_t t = 0; t < w_.tasks.size(); ++t) {
    const Task& task = w_.tasks[t];
    std::uint32_t rq = on_rq[t];
    std::uint32_t cur = as_current[t];
    std::uint32_t wait = on_wait[t];
    bool ok = false;
    switch (task.state) {
      case TaskState::kRunning:
        ok = cur == 1 && rq == 0 && wait == (task.spinning || task.pv_halted ? 1U : 0U);
        break;
      case TaskState::kRunnable:
        ok = rq == 1 && cur == 0 && wait == 0 && !task.spinning && !task.pv_halted;
        break;
      case TaskState::kBlocked:
        ok = rq == 0 && cur == 0 && wait <= 1 && !task.spinning && !task.pv_halted;
        break;
      case TaskState::kDone:
        ok = rq == 0 && cur == 0 && wait == 0 && task.held.empty();
        break;
    }
    if (!ok) {
      return fmt::format("task {} in state {} is current {}x, queued {}x, waiting {}x", t,
                         static_cast<int>(task.state), cur, rq, wait);
    }
    for (std::uint8_t h = 0; h < task.held.n; ++h) {
      std::uint32_t id = task.held.ids[h];
      if (w_.locks[id].owner != t) {
        return fmt::format("task {} holds lock {}, owned by {}", t, id, w_.locks[id].owner);
      }
    }
    // A switch's kernel ops run on the vCPU that switched the task in, without a break.
    if (task.kernel.pending() && task.state != TaskState::kRunning) {
      return fmt::format("task {} has switch ops pending but is not running", t);
    }
  }
  return check_cross_calls(w_);
}

}  // namespace prefcpu::sim
