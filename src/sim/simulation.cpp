// Building a run, the event loop, and the per-VM steal governor: each VM's StealMonitor samples
// the guest's aggregate steal (in USER_HZ ticks) every interval_ms, as prefcpud does.
#include <fmt/format.h>

#include <algorithm>

#include "sim/cache.h"
#include "sim/cross_call.h"
#include "sim/host_check.h"
#include "sim/oracle.h"
#include "sim/sim.h"
#include "sim/workload.h"

namespace prefcpu::sim {

Simulation::Simulation(const RunConfig& config)
    : exec_(w_, guest_, host_),
      guest_(w_, host_, exec_),
      host_(w_, guest_, exec_),
      duration_ns_(config.duration_ns),
      check_invariants_(config.check_invariants) {
  w_.host = config.host;
  w_.keep_neighbours_busy = config.keep_neighbours_busy;
}

Simulation::~Simulation() = default;

Result<std::unique_ptr<Simulation>> Simulation::create(const RunConfig& config) {
  if (config.host.pcpus == 0) return make_error("host.pcpus is 0: expected at least 1 pCPU");
  if (config.vms.empty()) return make_error("no VMs: expected at least one [[vm]]");
  if (auto status = check_host(config.host); !status) {
    return make_error("host: {}", status.error().message);
  }
  for (const auto& vm : config.vms) {
    if (auto status = check_vm_on_host(config.host, vm.spec); !status) {
      return make_error("vm \"{}\": {}", vm.spec.name, status.error().message);
    }
  }
  std::unique_ptr<Simulation> sim(new Simulation(config));
  if (auto status = sim->setup(config); !status) return status.error();
  return sim;
}

Status Simulation::setup(const RunConfig& config) {
  const HostParams& host = w_.host;
  // Whole-core dispatch: pcpus counts cores, each of smt thread slots.
  std::uint32_t slots = host.pcpus * host.smt;
  w_.pcpus.resize(slots);
  w_.idle_pcpus = VcpuMask(slots, true);
  if (host.smt > 1) w_.core_vp.assign(host.pcpus, kNone);
  std::uint32_t total_vcpus = 0;
  for (const auto& vm : config.vms) total_vcpus += vm.spec.vcpus;
  w_.vcpus.reserve(total_vcpus);
  w_.vms.resize(config.vms.size());
  // Governor phases come from their own stream, so that they do not move any workload's draws.
  Rng phase_rng(config.seed, 0);
  for (std::uint32_t i = 0; i < config.vms.size(); ++i) {
    const VmConfig& cfg = config.vms[i];
    Vm& vm = w_.vms[i];
    vm.name = cfg.spec.name;
    vm.vcpus = cfg.spec.vcpus;
    vm.first_vcpu = static_cast<std::uint32_t>(w_.vcpus.size());
    vm.weight = cfg.spec.weight;
    vm.guest = cfg.spec.guest;
    if (vm.guest.slice_ns == 0) vm.guest.slice_ns = eevdf_base_slice(vm.vcpus);
    vm.tick_ns = 1'000'000'000 / vm.guest.hz;
    vm.preferred = VcpuMask(vm.vcpus, true);
    vm.idle = VcpuMask(vm.vcpus, true);
    vm.queued = VcpuMask(vm.vcpus);
    vm.all = VcpuMask(vm.vcpus, true);
    vm.affinities = {vm.all};
    vm.online = vm.all.to_cpu_set();
    vm.kind = cfg.spec.workload.kind;
    vm.working_set = working_set_bytes(cfg.spec.workload, vm.vcpus);
    vm.knobs = cfg.knobs;
    vm.governor = cfg.governor;
    vm.rng = Rng(config.seed, i + 1);
    init_cross_calls(vm, cfg.spec.workload, Rng(config.seed, kCrossCallStream + i));
    vm.pref_count = vm.vcpus;
    vm.nr_idle_scan = vm.vcpus;  // what update_idle_cpu_scan() gives an idle LLC
    Ns interval_ns = static_cast<Ns>(vm.knobs.interval_ms) * 1'000'000;
    vm.governor_phase_ns =
        config.random_governor_phase
            ? static_cast<Ns>(phase_rng.below64(static_cast<std::uint64_t>(interval_ns)))
            : 0;
    // Entitlement defaults to the VM's share of the host by vCPU count, at most a core per
    // virtual processor; each account gets an even share of it.
    std::uint32_t accounts = entitlement_accounts(host, vm.vcpus);
    std::uint32_t vps = virtual_processors(host, vm.vcpus);
    double entitlement = cfg.spec.entitlement.value_or(
        std::min(static_cast<double>(host.pcpus) * vm.vcpus / static_cast<double>(total_vcpus),
                 static_cast<double>(vps)));
    vm.first_entitlement = static_cast<std::uint32_t>(w_.entitlements.size());
    Entitlement account;
    account.budget_ns =
        static_cast<Ns>(entitlement * static_cast<double>(host.window_ns) / accounts);
    w_.entitlements.resize(w_.entitlements.size() + accounts, account);
    for (std::uint32_t j = 0; j < vm.vcpus; ++j) {
      Vcpu vc;
      vc.vm = i;
      vc.local = j;
      vc.ple_window_ns = host.ple_window_ns;
      vc.avg_idle = 2 * vm.guest.migration_cost_ns;  // sched_init()
      w_.vcpus.push_back(vc);
    }
    auto topology =
        parse_topology_spec(fmt::format("cores={},smt={}", vm.vcpus / vm.guest.smt, vm.guest.smt));
    if (!topology) return make_error("vm \"{}\": {}", vm.name, topology.error().message);
    auto governor = make_sim_governor(cfg.governor);
    if (!governor) return make_error("vm \"{}\": {}", vm.name, governor.error().message);
    auto monitor =
        StealMonitor::create(*topology, cfg.knobs, std::move(*governor), vm.guest.user_hz);
    if (!monitor) return make_error("vm \"{}\": {}", vm.name, monitor.error().message);
    vm.monitor = std::make_unique<StealMonitor>(std::move(*monitor));
  }
  // Each vCPU's rq->__lock, a raw kernel spinlock, before the workloads' locks.
  for (Vcpu& vc : w_.vcpus) {
    if (w_.vms[vc.vm].guest.rq_lock) vc.rq_lock = add_spinlock();
  }
  w_.queue.reserve(4 * (total_vcpus + slots) + 64);
  w_.host_queue.reserve(total_vcpus);
  for (std::uint32_t i = 0; i < w_.vms.size(); ++i) {
    Vm& vm = w_.vms[i];
    vm.workload = make_workload(config.vms[i].spec.workload, config.vms[i].spec.load);
    vm.finite = vm.workload->finite();
    vm.first_task = static_cast<std::uint32_t>(w_.tasks.size());
    vm.workload->setup(*this, i);
    vm.nr_tasks = static_cast<std::uint32_t>(w_.tasks.size()) - vm.first_task;
    if (vm.finite) {
      if (vm.tasks_alive == 0) {
        vm.done_at = 0;
      } else {
        ++w_.finite_left;
      }
    }
    w_.schedule(vm.governor_phase_ns, EventKind::kGovernor, i, 0);
  }
  std::vector<std::uint32_t> demand;
  for (const Vm& vm : w_.vms) demand.push_back(vm.vcpus);
  std::vector<std::uint32_t> shares = oracle_shares(slots, demand);
  for (std::uint32_t i = 0; i < w_.vms.size(); ++i) {
    if (config.vms[i].governor != kOracle) continue;
    // The oracle's share holds from t = 0: the first vCPUs, as the rig's set-preferred does.
    VcpuMask share(w_.vms[i].vcpus);
    for (std::uint32_t j = 0; j < shares[i]; ++j) share.set(j);
    if (auto status = w_.vms[i].monitor->set_custom_preferred(share.to_cpu_set()); !status) {
      return make_error("vm \"{}\": oracle: {}", w_.vms[i].name, status.error().message);
    }
    set_preferred(i, share);
  }
  host_.start();
  // Every vCPU with queued tasks starts runnable, in vCPU order.
  for (std::uint32_t v = 0; v < w_.vcpus.size(); ++v) {
    if (w_.vcpus[v].rq.size > 0) host_.wake(v);
  }
  return {};
}

std::uint32_t Simulation::add_lock() {
  w_.locks.emplace_back();
  return static_cast<std::uint32_t>(w_.locks.size() - 1);
}

std::uint32_t Simulation::add_spinlock() {
  std::uint32_t id = add_lock();
  w_.locks[id].spin = true;
  return id;
}

std::uint32_t Simulation::add_pipe(std::uint32_t capacity, std::uint32_t lock,
                                   std::uint32_t rd_wait_lock, std::uint32_t wr_wait_lock) {
  Pipe pipe;
  pipe.capacity = std::max(1U, capacity);
  pipe.lock = lock;
  pipe.rd_wait_lock = rd_wait_lock;
  pipe.wr_wait_lock = wr_wait_lock;
  w_.pipes.push_back(pipe);
  return static_cast<std::uint32_t>(w_.pipes.size() - 1);
}

std::uint32_t Simulation::add_affinity(std::uint32_t vm, const VcpuMask& mask) {
  w_.vms[vm].affinities.push_back(mask);
  return static_cast<std::uint32_t>(w_.vms[vm].affinities.size() - 1);
}

std::uint32_t Simulation::add_task(std::uint32_t vm, std::uint32_t local, std::uint32_t on_vcpu,
                                   std::uint32_t affinity) {
  Task task;
  task.vm = vm;
  task.local = local;
  task.affinity = affinity;
  task.state = TaskState::kBlocked;
  auto id = static_cast<std::uint32_t>(w_.tasks.size());
  w_.tasks.push_back(task);
  ++w_.vms[vm].tasks_alive;
  guest_.enqueue_task(w_.vms[vm].first_vcpu + on_vcpu, id, kNone);
  return id;
}

void Simulation::set_workload(std::uint32_t vm, std::unique_ptr<Workload> workload) {
  w_.vms[vm].workload = std::move(workload);
}

void Simulation::account_preferred(Vm& vm) {
  vm.pref_area += static_cast<Ns>(vm.pref_count) * (now() - vm.pref_since);
  vm.pref_since = now();
}

void Simulation::set_preferred(std::uint32_t vm_index, const VcpuMask& preferred) {
  Vm& vm = w_.vms[vm_index];
  account_preferred(vm);
  vm.preferred = preferred;
  vm.pref_count = preferred.count();
}

Ns Simulation::vm_steal_ns(std::uint32_t vm_index) const {
  const Vm& vm = w_.vms[vm_index];
  Ns total = 0;
  for (std::uint32_t i = 0; i < vm.vcpus; ++i) total += steal_ns(vm.first_vcpu + i);
  return total;
}

Ns Simulation::vm_cpu_ns(std::uint32_t vm_index) const {
  const Vm& vm = w_.vms[vm_index];
  Ns total = 0;
  for (std::uint32_t i = 0; i < vm.vcpus; ++i) {
    const Vcpu& vc = w_.vcpus[vm.first_vcpu + i];
    total += time_in(vc, HostState::kRunning, now()) + time_in(vc, HostState::kPolling, now());
  }
  return total;
}

Ns Simulation::vm_busy_ns(std::uint32_t vm_index) const {
  const Vm& vm = w_.vms[vm_index];
  Ns total = 0;
  for (std::uint32_t i = 0; i < vm.vcpus; ++i) {
    total += time_in(w_.vcpus[vm.first_vcpu + i], HostState::kRunning, now());
  }
  return total;
}

double Simulation::mean_preferred(std::uint32_t vm_index) const {
  const Vm& vm = w_.vms[vm_index];
  Ns end = now();
  if (end <= 0) return vm.pref_count;
  Ns area = vm.pref_area + static_cast<Ns>(vm.pref_count) * (end - vm.pref_since);
  return static_cast<double>(area) / static_cast<double>(end);
}

void Simulation::on_governor(std::uint32_t vm_index) {
  Vm& vm = w_.vms[vm_index];
  Ns steal = vm_steal_ns(vm_index);
  // /proc/stat shows the aggregate in USER_HZ ticks: the tick granularity is kept.
  const std::uint64_t tick_ns = 1'000'000'000ULL / vm.guest.user_hz;
  auto ticks = static_cast<std::uint64_t>(steal) / tick_ns;
  auto busy = static_cast<std::uint64_t>(vm_busy_ns(vm_index)) / tick_ns;
  Step step = vm.monitor->observe(Sample{now(), ticks, vm.online, busy});
  if (step.changed()) {
    if (step.action == Action::kShrink) ++vm.stats.shrinks;
    if (step.action == Action::kGrow) ++vm.stats.grows;
    set_preferred(vm_index, VcpuMask::from_cpu_set(step.preferred, vm.vcpus));
  }
  if (step.action != Action::kBaseline) {
    TimeseriesRow row;
    row.vm = vm_index;
    row.t_ns = now();
    row.steal_pct = step.steal_bp ? static_cast<double>(*step.steal_bp) / 100.0 : 0.0;
    row.preferred = vm.pref_count;
    row.throughput = throughput(vm.kind, vm.stats.units - vm.last_units,
                                vm.stats.work_ns - vm.last_work_ns, now() - vm.last_sample_ns);
    w_.timeseries.push_back(row);
  }
  vm.last_sample_ns = now();
  vm.last_units = vm.stats.units;
  vm.last_work_ns = vm.stats.work_ns;
  w_.schedule(now() + static_cast<Ns>(vm.knobs.interval_ms) * 1'000'000, EventKind::kGovernor,
              vm_index, 0);
}

// keep_neighbours_busy: the finished workload's tasks start a new round, fresh as after fork(),
// on the vCPUs setup() gave them; a non-preferred one falls back to the lowest preferred vCPU,
// as select_task_rq() does for a forked task (is_cpu_allowed(), kernel-spec.md §3.1).
void Simulation::on_restart(std::uint32_t vm_index) {
  Vm& vm = w_.vms[vm_index];
  vm.workload->restart();
  for (std::uint32_t id = vm.first_task; id < vm.first_task + vm.nr_tasks; ++id) {
    const Task& old = w_.tasks[id];
    Task task;
    task.vm = old.vm;
    task.local = old.local;
    task.affinity = old.affinity;
    task.state = TaskState::kBlocked;
    task.sleep_gen = old.sleep_gen + 1;  // drops any timer the last round left
    w_.tasks[id] = task;
    std::uint32_t on = task.local % vm.vcpus;
    if (!vm.preferred.test(on) && vm.preferred.first() != kNone) on = vm.preferred.first();
    ++vm.tasks_alive;
    guest_.enqueue_task(vm.first_vcpu + on, id, kNone);
  }
}

void Simulation::on_progress(std::uint32_t v, std::uint32_t gen) {
  const Vcpu& vc = w_.vcpus[v];
  if (vc.gen != gen || !exec_.executing(vc)) {
    ++stale_;
    return;
  }
  exec_.advance(v);
  guest_.run(v);
}

void Simulation::dispatch_event(const Event& event) {
  switch (event.kind) {
    case EventKind::kProgress:
      on_progress(event.target, event.gen);
      break;
    case EventKind::kResume:
      host_.on_resume(event.target, event.gen);
      break;
    case EventKind::kTick:
      guest_.on_tick(event.target, event.gen);
      break;
    case EventKind::kSlice:
      host_.on_slice(event.target, event.gen);
      break;
    case EventKind::kPollEnd:
      host_.on_poll_end(event.target, event.gen);
      break;
    case EventKind::kHostWake:
      host_.wake(event.target);
      break;
    case EventKind::kTaskWake:
      guest_.on_task_wake(event.target, event.gen);
      break;
    case EventKind::kWindow:
      host_.on_window();
      break;
    case EventKind::kBudget:
      host_.on_budget(event.target, event.gen);
      break;
    case EventKind::kGovernor:
      on_governor(event.target);
      break;
    case EventKind::kHostTick:
      host_.on_host_tick();
      break;
    case EventKind::kRestart:
      on_restart(event.target);
      break;
  }
}

void Simulation::run_until(Ns until) {
  while (!w_.stop && !w_.queue.empty() && w_.queue.top().time <= until) {
    Ns before = now();
    Event event = w_.queue.pop();
    ++events_;
    dispatch_event(event);
    if (check_invariants_ && w_.fault.empty()) check_after_event(before);
  }
  if (!w_.stop && now() < until) w_.queue.advance_to(until);
}

void Simulation::check_after_event(Ns before) {
  std::uint64_t every = std::max<std::uint64_t>(1, w_.tasks.size() / 64);
  std::string broken =
      now() < before ? std::string("the clock went back") : check_invariants(events_ % every == 0);
  if (!broken.empty()) {
    w_.fault = fmt::format("after event {} at {} ns: {}", events_, now(), broken);
    w_.stop = true;
  }
}

Ns Simulation::run() {
  if (w_.finite_left == 0 &&
      std::any_of(w_.vms.begin(), w_.vms.end(), [](const Vm& vm) { return vm.finite; })) {
    w_.stop = true;
  }
  run_until(duration_ns_);
  if (check_invariants_ && w_.fault.empty()) {
    if (std::string broken = check_invariants(); !broken.empty()) {
      w_.fault = fmt::format("at the end of the run ({} ns): {}", now(), broken);
    }
  }
  end_ns_ = now();
  return end_ns_;
}

}  // namespace prefcpu::sim
