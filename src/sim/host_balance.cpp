// Per-pCPU host run queues: where a woken vCPU thread waits, and how the host kernel moves waiting
// vCPU threads between pCPUs (kernel/sched/fair.c, v6.18: select_idle_sibling(),
// sched_balance_newidle(), sched_balance_rq(), sched_balance_domains(), nohz_balancer_kick()).
// The host has one sched domain (the LLC) over all pCPUs with one pCPU per group, and no SMT.
#include <algorithm>

#include "sim/host.h"

namespace prefcpu::sim {

namespace {

// sd_init() (kernel/sched/topology.c): busy_factor 16, imbalance_pct 117 for an LLC domain,
// cache_nice_tries 1; min_interval = sd_weight ms, max_interval = 2 x sd_weight ms.
constexpr std::uint32_t kBusyFactor = 16;
constexpr std::uint64_t kImbalancePct = 117;
constexpr std::uint32_t kCacheNiceTries = 1;

}  // namespace

// select_idle_sibling() with target = prev: prev if idle, else the first idle pCPU after it
// (select_idle_cpu()'s for_each_cpu_wrap from target + 1), else prev. A polling pCPU is busy.
std::uint32_t HostScheduler::select_pcpu(std::uint32_t v) const {
  auto n = static_cast<std::uint32_t>(w_.pcpus.size());
  std::uint32_t prev = w_.vcpus[v].last_pcpu;
  // Assumption: a vCPU thread that never ran starts on pCPU v mod P.
  if (prev == kNone) prev = v % n;
  for (std::uint32_t i = 0; i < n; ++i) {
    std::uint32_t p = (prev + i) % n;
    if (w_.pcpus[p].current == kNone) return p;
  }
  return prev;
}

// The runnable load of a pCPU: the weights of its running and waiting vCPUs (instantaneous, where
// the kernel uses PELT averages).
std::uint64_t HostScheduler::pcpu_load(std::uint32_t p) const {
  const Pcpu& pc = w_.pcpus[p];
  std::uint64_t load = 0;
  if (pc.current != kNone) load += w_.vms[w_.vcpus[pc.current].vm].weight;
  for (std::uint32_t v : pc.queue) load += w_.vms[w_.vcpus[v].vm].weight;
  return load;
}

// get_sd_balance_interval(): balance_interval ms, x busy_factor when busy, in jiffies (rounded up),
// one jiffy less when busy, within 1 .. HZ x P / 10 jiffies.
Ns HostScheduler::balance_interval(const Pcpu& pc, bool busy) const {
  std::uint64_t hz = w_.host.host_hz;
  std::uint64_t ms = std::uint64_t{pc.balance_interval_ms} * (busy ? kBusyFactor : 1);
  std::uint64_t jiffies = (ms * hz + 999) / 1000;
  if (busy && jiffies > 0) --jiffies;
  std::uint64_t max = std::max<std::uint64_t>(1, hz * w_.pcpus.size() / 10);
  jiffies = std::clamp<std::uint64_t>(jiffies, 1, max);
  return static_cast<Ns>(jiffies * 1'000'000'000 / hz);
}

// sched_balance_rq() on pCPU p for its one domain: pull one waiting vCPU from the busiest pCPU.
// Returns whether a vCPU moved. Newly idle balance neither counts failures nor backs off.
bool HostScheduler::balance(std::uint32_t p, bool newidle) {
  Pcpu& dst = w_.pcpus[p];
  auto n = static_cast<std::uint32_t>(w_.pcpus.size());
  std::uint64_t total = 0;
  std::uint32_t busiest = kNone;
  std::uint64_t busiest_load = 0;
  for (std::uint32_t q = 0; q < n; ++q) {
    std::uint64_t load = pcpu_load(q);
    total += load;
    // Only waiting vCPUs can move (a running one needs active balance, not modelled).
    if (q != p && !w_.pcpus[q].queue.empty() && load > busiest_load) {
      busiest = q;
      busiest_load = load;
    }
  }
  std::uint64_t local = pcpu_load(p);
  // Load imbalance in weight x P units (calculate_imbalance(), migrate_load); an idle pCPU has
  // spare capacity and takes one task (migrate_task).
  std::uint64_t imbalance = UINT64_MAX;
  if (busiest != kNone && dst.current != kNone) {
    std::uint64_t avg = total;  // the domain's average load, x P
    bool overloaded = !dst.queue.empty();
    if (local * n >= avg || local >= busiest_load ||
        (overloaded && 100 * busiest_load <= kImbalancePct * local)) {
      busiest = kNone;
    } else {
      imbalance = std::min(busiest_load * n - avg, avg - local * n);
    }
  }
  if (busiest == kNone) {
    // out_balanced: failures reset; a periodic balance backs off up to max_interval.
    dst.nr_balance_failed = 0;
    if (!newidle) dst.balance_interval_ms = std::min(dst.balance_interval_ms * 2, 2 * n);
    return false;
  }
  // detach_tasks(): the vCPU that ran longest ago first; a cache-hot one (task_hot()) only after
  // cache_nice_tries failed periodic balances; a load move only if it fits the imbalance.
  Pcpu& src = w_.pcpus[busiest];
  std::uint32_t pick = kNone;
  for (std::uint32_t v : src.queue) {
    const Vcpu& vc = w_.vcpus[v];
    bool hot = w_.now() - vc.left_pcpu_at < w_.host.migration_cost_ns;
    if (hot && dst.nr_balance_failed <= kCacheNiceTries) continue;
    std::uint64_t load = (std::uint64_t{w_.vms[vc.vm].weight} * n) >> dst.nr_balance_failed;
    if (imbalance != UINT64_MAX && load > imbalance) continue;
    if (pick == kNone || vc.left_pcpu_at < w_.vcpus[pick].left_pcpu_at ||
        (vc.left_pcpu_at == w_.vcpus[pick].left_pcpu_at && v < pick)) {
      pick = v;
    }
  }
  // out_unbalanced: the interval returns to min_interval whether or not a vCPU moved.
  dst.balance_interval_ms = n;
  if (pick == kNone) {
    if (!newidle) ++dst.nr_balance_failed;
    return false;
  }
  dst.nr_balance_failed = 0;
  queue_remove(pick);
  ++w_.vms[w_.vcpus[pick].vm].stats.host_migrations;
  if (dst.current == kNone) {
    dispatch(p, pick);
  } else {
    queue_push(p, pick);
  }
  return true;
}

// sched_balance_newidle(): a pCPU about to go idle pulls, if some pCPU has a vCPU waiting
// (the root domain is overloaded). Not modelled: the avg_idle < max_newidle_lb_cost skip.
bool HostScheduler::newidle_balance(std::uint32_t p) {
  Pcpu& pc = w_.pcpus[p];
  if (balance(p, true)) return true;
  // The idle pCPU's next periodic balance: last_balance + the idle interval.
  pc.next_balance = std::min(pc.next_balance, pc.last_balance + balance_interval(pc, false));
  return false;
}

// sched_balance_domains() on one pCPU whose balance is due.
void HostScheduler::periodic_balance(std::uint32_t p) {
  Pcpu& pc = w_.pcpus[p];
  balance(p, false);
  pc.last_balance = w_.now();
  pc.next_balance = pc.last_balance + balance_interval(pc, pc.current != kNone);
}

// The host jiffy (ticks aligned across pCPUs, skew_tick=0): each busy pCPU whose balance is due
// balances (sched_balance_trigger()); idle pCPUs have no tick (NO_HZ_IDLE), so a busy pCPU with
// a waiter kicks the idle load balancer, which balances every idle pCPU that is due
// (nohz_balancer_kick(), _nohz_idle_balance()).
void HostScheduler::on_host_tick() {
  auto n = static_cast<std::uint32_t>(w_.pcpus.size());
  bool kick = false;
  for (std::uint32_t p = 0; p < n; ++p) {
    Pcpu& pc = w_.pcpus[p];
    if (pc.current == kNone) continue;
    if (w_.now() >= pc.next_balance) periodic_balance(p);
    if (!pc.queue.empty()) kick = true;
  }
  if (kick) {
    for (std::uint32_t p = 0; p < n; ++p) {
      Pcpu& pc = w_.pcpus[p];
      if (pc.current == kNone && w_.now() >= pc.next_balance) periodic_balance(p);
    }
  }
  w_.schedule(w_.now() + 1'000'000'000 / w_.host.host_hz, EventKind::kHostTick, 0, 0);
}

}  // namespace prefcpu::sim
