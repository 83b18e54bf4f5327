// Building a run, the event loop, and the per-VM steal governor: each VM's StealMonitor samples
// the guest's aggregate steal (in USER_HZ ticks) every interval_ms, as prefcpud does.
#include <fmt/format.h>

#include <algorithm>

#include "sim/sim.h"
#include "sim/workload.h"

namespace prefcpu::sim {

Simulation::Simulation(const RunConfig& config)
    : host_(config.host), duration_ns_(config.duration_ns) {}

Simulation::~Simulation() = default;

Result<std::unique_ptr<Simulation>> Simulation::create(const RunConfig& config) {
  if (config.host.pcpus == 0) return make_error("host.pcpus is 0: expected at least 1 pCPU");
  if (config.vms.empty()) return make_error("no VMs: expected at least one [[vm]]");
  std::unique_ptr<Simulation> sim(new Simulation(config));
  if (auto status = sim->setup(config); !status) return status.error();
  return sim;
}

Status Simulation::setup(const RunConfig& config) {
  pcpus_.resize(host_.pcpus);
  idle_pcpus_ = VcpuMask(host_.pcpus, true);
  std::uint32_t total_vcpus = 0;
  for (const auto& vm : config.vms) total_vcpus += vm.spec.vcpus;
  vcpus_.reserve(total_vcpus);
  vms_.resize(config.vms.size());
  for (std::uint32_t i = 0; i < config.vms.size(); ++i) {
    const VmConfig& cfg = config.vms[i];
    Vm& vm = vms_[i];
    vm.name = cfg.spec.name;
    vm.vcpus = cfg.spec.vcpus;
    vm.first_vcpu = static_cast<std::uint32_t>(vcpus_.size());
    vm.weight = cfg.spec.weight;
    vm.guest = cfg.spec.guest;
    vm.tick_ns = 1'000'000'000 / vm.guest.hz;
    vm.preferred = VcpuMask(vm.vcpus, true);
    vm.idle = VcpuMask(vm.vcpus, true);
    vm.queued = VcpuMask(vm.vcpus);
    vm.all = VcpuMask(vm.vcpus, true);
    vm.affinities = {vm.all};
    vm.online = vm.all.to_cpu_set();
    vm.kind = cfg.spec.workload.kind;
    vm.knobs = cfg.knobs;
    vm.governor = cfg.governor;
    vm.rng = Rng(config.seed, i + 1);
    vm.pref_count = vm.vcpus;
    // Entitlement defaults to the VM's share of the host by vCPU count.
    double entitlement = cfg.spec.entitlement.value_or(static_cast<double>(host_.pcpus) * vm.vcpus /
                                                       static_cast<double>(total_vcpus));
    vm.budget_ns = static_cast<Ns>(entitlement * static_cast<double>(host_.window_ns));
    for (std::uint32_t j = 0; j < vm.vcpus; ++j) {
      Vcpu vc;
      vc.vm = i;
      vc.local = j;
      vcpus_.push_back(vc);
    }
    auto topology =
        parse_topology_spec(fmt::format("cores={},smt={}", vm.vcpus / vm.guest.smt, vm.guest.smt));
    if (!topology) return make_error("vm \"{}\": {}", vm.name, topology.error().message);
    auto governor = make_governor(cfg.governor);
    if (!governor) return make_error("vm \"{}\": {}", vm.name, governor.error().message);
    auto monitor =
        StealMonitor::create(*topology, cfg.knobs, std::move(*governor), vm.guest.user_hz);
    if (!monitor) return make_error("vm \"{}\": {}", vm.name, monitor.error().message);
    vm.monitor = std::make_unique<StealMonitor>(std::move(*monitor));
  }
  queue_.reserve(4 * (total_vcpus + host_.pcpus) + 64);
  host_queue_.reserve(total_vcpus);
  for (std::uint32_t i = 0; i < vms_.size(); ++i) {
    Vm& vm = vms_[i];
    vm.workload = make_workload(config.vms[i].spec.workload, vm.vcpus);
    vm.finite = vm.workload->finite();
    vm.workload->setup(*this, i);
    if (vm.finite) {
      if (vm.tasks_alive == 0) {
        vm.done_at = 0;
      } else {
        ++finite_left_;
      }
    }
    schedule(0, EventKind::kGovernor, i, 0);
  }
  if (host_.scheduler == HostScheduler::kDispatchWindow) schedule(0, EventKind::kWindow, 0, 0);
  // Every vCPU with queued tasks starts runnable, in vCPU order.
  for (std::uint32_t v = 0; v < vcpus_.size(); ++v) {
    if (vcpus_[v].rq.size > 0) host_wake(v);
  }
  return {};
}

std::uint32_t Simulation::add_lock() {
  locks_.emplace_back();
  return static_cast<std::uint32_t>(locks_.size() - 1);
}

std::uint32_t Simulation::add_pipe(std::uint32_t capacity, std::uint32_t lock) {
  Pipe pipe;
  pipe.capacity = std::max(1U, capacity);
  pipe.lock = lock;
  pipes_.push_back(pipe);
  return static_cast<std::uint32_t>(pipes_.size() - 1);
}

std::uint32_t Simulation::add_affinity(std::uint32_t vm, const VcpuMask& mask) {
  vms_[vm].affinities.push_back(mask);
  return static_cast<std::uint32_t>(vms_[vm].affinities.size() - 1);
}

std::uint32_t Simulation::add_task(std::uint32_t vm, std::uint32_t local, std::uint32_t on_vcpu,
                                   std::uint32_t affinity) {
  Task task;
  task.vm = vm;
  task.local = local;
  task.affinity = affinity;
  task.state = TaskState::kBlocked;
  auto id = static_cast<std::uint32_t>(tasks_.size());
  tasks_.push_back(task);
  ++vms_[vm].tasks_alive;
  enqueue_task(vms_[vm].first_vcpu + on_vcpu, id, kNone);
  return id;
}

void Simulation::set_workload(std::uint32_t vm, std::unique_ptr<Workload> workload) {
  vms_[vm].workload = std::move(workload);
}

void Simulation::account_preferred(Vm& vm) {
  vm.pref_area += static_cast<long double>(vm.pref_count) * (now() - vm.pref_since);
  vm.pref_since = now();
}

void Simulation::set_preferred(std::uint32_t vm_index, const VcpuMask& preferred) {
  Vm& vm = vms_[vm_index];
  account_preferred(vm);
  vm.preferred = preferred;
  vm.pref_count = preferred.count();
}

void Simulation::note_exit(Task& task) {
  Vm& vm = vms_[task.vm];
  if (--vm.tasks_alive == 0 && vm.finite) {
    vm.done_at = now();
    if (--finite_left_ == 0) stop_ = true;
  }
}

Ns Simulation::steal_ns(std::uint32_t vcpu) const {
  const Vcpu& vc = vcpus_[vcpu];
  return vc.steal_ns + (vc.host == HostState::kWaiting ? now() - vc.wait_since : 0);
}

Ns Simulation::vm_steal_ns(std::uint32_t vm_index) const {
  const Vm& vm = vms_[vm_index];
  Ns total = 0;
  for (std::uint32_t i = 0; i < vm.vcpus; ++i) total += steal_ns(vm.first_vcpu + i);
  return total;
}

Ns Simulation::vm_cpu_ns(std::uint32_t vm_index) const {
  const Vm& vm = vms_[vm_index];
  Ns total = vm.stats.run_ns;
  for (std::uint32_t i = 0; i < vm.vcpus; ++i) {
    const Vcpu& vc = vcpus_[vm.first_vcpu + i];
    if (vc.host == HostState::kRunning || vc.host == HostState::kPolling) {
      total += now() - vc.run_start;
    }
  }
  return total;
}

double Simulation::mean_preferred(std::uint32_t vm_index) const {
  const Vm& vm = vms_[vm_index];
  Ns end = now();
  if (end <= 0) return vm.pref_count;
  long double area = vm.pref_area + static_cast<long double>(vm.pref_count) * (end - vm.pref_since);
  return static_cast<double>(area / static_cast<long double>(end));
}

void Simulation::on_governor(std::uint32_t vm_index) {
  Vm& vm = vms_[vm_index];
  Ns steal = vm_steal_ns(vm_index);
  // /proc/stat shows the aggregate in USER_HZ ticks: the tick granularity is kept.
  auto ticks = static_cast<std::uint64_t>(steal) / (1'000'000'000ULL / vm.guest.user_hz);
  Step step = vm.monitor->observe(Sample{now(), ticks, vm.online});
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
    timeseries_.push_back(row);
  }
  vm.last_sample_ns = now();
  vm.last_units = vm.stats.units;
  vm.last_work_ns = vm.stats.work_ns;
  schedule(now() + static_cast<Ns>(vm.knobs.interval_ms) * 1'000'000, EventKind::kGovernor,
           vm_index, 0);
}

void Simulation::on_task_wake(std::uint32_t t, std::uint32_t gen) {
  Task& task = tasks_[t];
  if (task.sleep_gen != gen || task.state != TaskState::kBlocked) return;
  wake_task(t, kNone);
}

void Simulation::dispatch_event(const Event& event) {
  switch (event.kind) {
    case EventKind::kProgress: {
      Vcpu& vc = vcpus_[event.target];
      if (vc.gen != event.gen || !executing(vc)) {
        ++stale_;
        return;
      }
      advance(event.target);
      guest_run(event.target);
      break;
    }
    case EventKind::kResume:
      host_on_resume(event.target, event.gen);
      break;
    case EventKind::kTick:
      on_tick(event.target, event.gen);
      break;
    case EventKind::kSlice:
      host_on_slice(event.target, event.gen);
      break;
    case EventKind::kPollEnd:
      host_on_poll_end(event.target, event.gen);
      break;
    case EventKind::kHostWake:
      host_wake(event.target);
      break;
    case EventKind::kTaskWake:
      on_task_wake(event.target, event.gen);
      break;
    case EventKind::kWindow:
      host_on_window();
      break;
    case EventKind::kBudget:
      host_on_budget(event.target, event.gen);
      break;
    case EventKind::kGovernor:
      on_governor(event.target);
      break;
  }
}

void Simulation::run_until(Ns until) {
  while (!stop_ && !queue_.empty() && queue_.top().time <= until) {
    Event event = queue_.pop();
    ++events_;
    dispatch_event(event);
  }
  if (!stop_ && now() < until) queue_.advance_to(until);
}

Ns Simulation::run() {
  if (finite_left_ == 0 &&
      std::any_of(vms_.begin(), vms_.end(), [](const Vm& vm) { return vm.finite; })) {
    stop_ = true;
  }
  run_until(duration_ns_);
  end_ns_ = now();
  return end_ns_;
}

}  // namespace prefcpu::sim
