#include "sim/scenario.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "core/governor.h"
#include "sim/host_check.h"
#include "sim/oracle.h"
#include "sim/toml_fields.h"
#include "sim/workload.h"

#define PREFCPU_TRY(expr)                                \
  do {                                                   \
    if (const auto& s_ = (expr); !s_) return s_.error(); \
  } while (false)

namespace prefcpu::sim {

namespace {

constexpr std::int64_t kMaxNs = 3'600'000'000'000;  // an hour: bigger values are typos
constexpr std::int64_t kMaxKib = 1 << 20;           // 1 GiB: cache arithmetic stays in 64 bits

// The host profile's defaults (docs/simulator.md, "Host profiles"); explicit keys win.
void apply_profile(HostProfile profile, HostParams& host, GuestParams& guest) {
  host.halt_poll_ns = profile == HostProfile::kKvm ? HostParams{}.halt_poll_ns : 0;
  host.ple = profile == HostProfile::kKvm;
  switch (profile) {
    case HostProfile::kKvm:
      guest.spinlock = SpinlockKind::kParavirt;
      guest.tlb_flush = TlbFlushKind::kParavirt;
      break;
    case HostProfile::kTcg:
      // No KVM CPUID leaves, so no PV spinlocks, no steal-time preempted flag; QEMU sets the
      // hypervisor bit, so native_pv_lock_init() enables virt_spin_lock(): test-and-set.
      guest.spinlock = SpinlockKind::kTestAndSet;
      guest.pv_preempted = false;
      guest.tlb_flush = TlbFlushKind::kIpi;
      break;
    case HostProfile::kPowerVm:
      guest.spinlock = SpinlockKind::kQueued;
      guest.confer = true;
      guest.tlb_flush = TlbFlushKind::kBroadcast;
      host.cache_kib = 2048;  // POWER10: 2 MB L2 per SMT8 core (params.h)
      break;
  }
}

Status read_host(const toml::table* table, const std::string& where, HostParams& host,
                 GuestParams& guest) {
  Fields f(table, where);
  f.integer("pcpus", host.pcpus, 1, 4096);
  f.choice("scheduler", host.scheduler,
           {{"fair", HostKind::kFair}, {"dispatch-window", HostKind::kDispatchWindow}});
  f.choice(
      "profile", host.profile,
      {{"kvm", HostProfile::kKvm}, {"tcg", HostProfile::kTcg}, {"powervm", HostProfile::kPowerVm}});
  // Without a profile, the scheduler names it (fair: kvm, dispatch-window: powervm); without a
  // scheduler, the profile does.
  if (table->get("profile") == nullptr) {
    host.profile =
        host.scheduler == HostKind::kDispatchWindow ? HostProfile::kPowerVm : HostProfile::kKvm;
  } else if (table->get("scheduler") == nullptr) {
    host.scheduler =
        host.profile == HostProfile::kPowerVm ? HostKind::kDispatchWindow : HostKind::kFair;
  }
  apply_profile(host.profile, host, guest);
  // A dispatch-window host is PowerVM's dispatcher, not Linux: one queue whatever the key says.
  host.queues = host.scheduler == HostKind::kFair ? HostParams{}.queues : HostQueues::kGlobal;
  f.choice("queues", host.queues,
           {{"global", HostQueues::kGlobal}, {"per-cpu", HostQueues::kPerCpu}});
  if (host.scheduler == HostKind::kDispatchWindow && host.queues == HostQueues::kPerCpu) {
    return make_error(
        "{}: queues is \"per-cpu\" with scheduler \"dispatch-window\": expected "
        "\"global\" (per-pCPU queues are the fair host's)",
        where);
  }
  f.integer("smt", host.smt, 1, 8);
  f.choice("entitlement_by", host.entitlement_by,
           {{"virtual-processor", EntitlementScope::kVirtualProcessor},
            {"partition", EntitlementScope::kPartition}});
  f.integer("hz", host.host_hz, 1, 10000);
  f.integer("migration_cost_ns", host.migration_cost_ns, 0, kMaxNs);
  host.slice_ns = eevdf_base_slice(host.pcpus);
  f.micros("slice_us", host.slice_ns, 1, kMaxNs / 1000);
  f.micros("window_us", host.window_ns, 100, kMaxNs / 1000);
  f.integer("context_switch_ns", host.context_switch_ns, 0, kMaxNs);
  f.choice("refill", host.refill,
           {{"working-set", RefillKind::kWorkingSet}, {"flat", RefillKind::kFlat}});
  f.integer("refill_penalty_ns", host.refill_penalty_ns, 0, kMaxNs);
  f.integer("refill_speed_pct", host.refill_speed_pct, 1, 100);
  f.integer("cache_kib", host.cache_kib, 1, kMaxKib);
  f.integer("refill_mb_s", host.refill_mb_s, 1, 100'000'000);
  f.integer("halt_poll_ns", host.halt_poll_ns, 0, kMaxNs);
  f.integer("ipi_ns", host.ipi_ns, 0, kMaxNs);
  f.boolean("ple", host.ple);
  f.integer("ple_window_ns", host.ple_window_ns, 1, kMaxNs);
  f.integer("exit_ns", host.exit_ns, 0, kMaxNs);
  PREFCPU_TRY(f.finish());
  if (auto status = check_host(host); !status) {
    return make_error("{}: {}", where, status.error().message);
  }
  return {};
}

// The VM as the host will run it (host_check.h), named where it was read.
Status check_vm(const HostParams& host, const VmSpec& vm, const std::string& at) {
  if (auto status = check_vm_on_host(host, vm); !status) {
    return make_error("{}: {}", at, status.error().message);
  }
  return {};
}

Status read_guest(const toml::table* table, const std::string& where, GuestParams& guest) {
  Fields f(table, where);
  f.integer("hz", guest.hz, 1, 10000);
  f.micros("slice_us", guest.slice_ns, 1, kMaxNs / 1000);
  f.integer("task_switch_ns", guest.task_switch_ns, 0, kMaxNs);
  f.integer("busy_factor", guest.busy_factor, 1, 1024);
  f.integer("imbalance_pct", guest.imbalance_pct, 100, 1000);
  f.integer("migration_cost_ns", guest.migration_cost_ns, 0, kMaxNs);
  f.integer("newidle_lb_cost_ns", guest.newidle_lb_cost_ns, 0, kMaxNs);
  f.integer("cache_nice_tries", guest.cache_nice_tries, 0, 1000);
  f.integer("spin_limit_ns", guest.spin_limit_ns, 1, kMaxNs);
  f.boolean("pv_preempted", guest.pv_preempted);
  f.choice("spinlock", guest.spinlock,
           {{"qspinlock", SpinlockKind::kQueued},
            {"virt-tas", SpinlockKind::kTestAndSet},
            {"pv-qspinlock", SpinlockKind::kParavirt}});
  f.boolean("confer", guest.confer);
  f.choice("tlb_flush", guest.tlb_flush,
           {{"ipi", TlbFlushKind::kIpi},
            {"pv", TlbFlushKind::kParavirt},
            {"broadcast", TlbFlushKind::kBroadcast}});
  f.integer("cross_call_ns", guest.cross_call_ns, 0, kMaxNs);
  f.boolean("rq_lock", guest.rq_lock);
  f.boolean("wakeup_skips_non_preferred", guest.wakeup_skips_non_preferred);
  f.integer("smt", guest.smt, 1, 8);
  f.integer("user_hz", guest.user_hz, 1, 1'000'000);
  return f.finish();
}

Status read_workload(const toml::table* table, const std::string& where, WorkloadParams& w) {
  Fields f(table, where);
  f.choice("kind", w.kind,
           {{"hackbench", WorkloadKind::kHackbench},
            {"oltp", WorkloadKind::kOltp},
            {"cpu-bound", WorkloadKind::kCpuBound},
            {"spinbench", WorkloadKind::kSpinbench},
            {"idle", WorkloadKind::kIdle}});
  f.integer("groups", w.groups, 1, 100'000);
  f.integer("fds", w.fds, 1, 1000);
  f.integer("loops", w.loops, 1, 100'000'000);
  f.integer("write_ns", w.write_ns, 1, kMaxNs);
  f.integer("read_ns", w.read_ns, 1, kMaxNs);
  f.integer("pipe_capacity", w.pipe_capacity, 1, 1'000'000);
  f.boolean("pipe_lock", w.pipe_lock);
  f.boolean("wakeup_lock", w.wakeup_lock);
  f.integer("wake_ns", w.wake_ns, 0, kMaxNs);
  f.integer("statements", w.statements, 1, 100'000);
  f.integer("statement_ns", w.statement_ns, 1, kMaxNs);
  f.integer("hold_ns", w.hold_ns, 1, kMaxNs);
  f.integer("locks", w.locks, 1, 1'000'000);
  f.integer("workers_per_vcpu", w.workers_per_vcpu, 1, 1000);
  f.number("load", w.load, 0.001, 100.0);
  f.integer("chunk_ns", w.chunk_ns, 1, kMaxNs);
  f.integer("tasks_per_vcpu", w.tasks_per_vcpu, 1, 1000);
  f.integer("threads", w.threads, 1, 100'000);
  f.integer("iterations", w.iterations, 1, 100'000'000);
  f.integer("outside_ns", w.outside_ns, 0, kMaxNs);
  f.integer("working_set_kib", w.working_set_kib, 0, kMaxKib);
  f.number("shootdowns_per_s", w.shootdowns_per_s, 0.0, 1e6);
  f.number("cross_calls_per_s", w.cross_calls_per_s, 0.0, 1e6);
  return f.finish();
}

const toml::table* sub_table(const toml::table& parent, std::string_view key, Status& status,
                             const std::string& where) {
  const toml::node* node = parent.get(key);
  if (node == nullptr) return nullptr;
  if (!node->is_table()) {
    status = make_error("{}: {} is not a table: expected [{}]", where, key, key);
    return nullptr;
  }
  return node->as_table();
}

// `full_key` names the array as written in the file ("vm", "vm.load").
Result<std::vector<const toml::table*>> table_array(const toml::table& parent, std::string_view key,
                                                    std::string_view where,
                                                    std::string_view full_key) {
  std::vector<const toml::table*> tables;
  const toml::node* node = parent.get(key);
  if (node == nullptr) return tables;
  const toml::array* array = node->as_array();
  if (array == nullptr) {
    return make_error("{}: {} is not an array of tables: expected [[{}]] entries", where, key,
                      full_key);
  }
  for (const auto& item : *array) {
    if (!item.is_table()) {
      return make_error("{}: an entry of {} is not a table: expected [[{}]]", where, key, full_key);
    }
    tables.push_back(item.as_table());
  }
  return tables;
}

Ns seconds_to_ns(double s) {
  return static_cast<Ns>(std::llround(s * 1e9));  // nearest ns; llround is exact
}

// A VM's [[vm.load]] phases: at_s and level required, ramp_s optional; in time order, each
// starting once the ramp before it has ended, and before the run's end.
Status read_load(const toml::table& vm_table, const std::string& at, Ns duration_ns,
                 std::vector<LoadPhase>& load) {
  auto tables = table_array(vm_table, "load", at, "vm.load");
  if (!tables) return tables.error();
  Ns free_from = 0;  // when the previous phase (its ramp included) has ended
  for (std::size_t i = 0; i < tables->size(); ++i) {
    std::string where = fmt::format("{} [[vm.load]] #{}", at, i + 1);
    const toml::table& t = *(*tables)[i];
    double at_s = -1;
    double level = -1;
    double ramp_s = 0;
    Fields f(&t, where);
    f.number("at_s", at_s, 0.0, 3600.0);
    f.number("level", level, 0.0, 10.0);
    f.number("ramp_s", ramp_s, 0.0, 3600.0);
    PREFCPU_TRY(f.finish());
    if (at_s < 0) return make_error("{}: at_s is missing: expected a number of seconds", where);
    if (level < 0) {
      return make_error(
          "{}: level is missing: expected a number in 0..10 (a multiple of the "
          "workload's tasks)",
          where);
    }
    LoadPhase phase{seconds_to_ns(at_s), level, seconds_to_ns(ramp_s)};
    if (phase.at_ns >= duration_ns) {
      return make_error("{}: at_s {} is not before duration_s {}: expected a time within the run",
                        where, at_s, static_cast<double>(duration_ns) / 1e9);
    }
    if (i > 0 && phase.at_ns < free_from) {
      return make_error(
          "{}: at_s {} starts before the previous phase has ended at {} s: expected "
          "phases in time order, each after the previous ramp",
          where, at_s, static_cast<double>(free_from) / 1e9);
    }
    if (i > 0 && phase.at_ns == load.back().at_ns) {
      return make_error("{}: at_s {} is the previous phase's: expected one phase per time", where,
                        at_s);
    }
    free_from = phase.at_ns + phase.ramp_ns;
    load.push_back(phase);
  }
  return {};
}

// Only workloads whose level is a task count take a schedule (docs/simulator.md, "Load
// schedules").
Status check_load(const VmSpec& vm, const std::string& at) {
  if (vm.load.empty() || vm.workload.kind == WorkloadKind::kOltp ||
      vm.workload.kind == WorkloadKind::kCpuBound) {
    return {};
  }
  return make_error(
      "{}: [[vm.load]] with workload kind \"{}\": expected kind \"oltp\" or "
      "\"cpu-bound\" (a hackbench run is a fixed job, idle has no tasks)",
      at, workload_kind_name(vm.workload.kind));
}

}  // namespace

Result<Scenario> parse_scenario(std::string_view text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return make_error("{}:{}:{}: invalid TOML: {}", source, e.source().begin.line,
                      e.source().begin.column, e.description());
  }
  Scenario scenario;
  std::string where(source);
  Status status;
  Fields top(&root, where);
  top.string("name", scenario.name);
  top.string("description", scenario.description);
  top.integer("seed", scenario.seed, 0);
  double duration_s = static_cast<double>(scenario.duration_ns) / 1e9;
  top.number("duration_s", duration_s, 0.001, 3600.0);
  scenario.duration_ns = static_cast<Ns>(duration_s * 1e9);
  top.boolean("random_governor_phase", scenario.random_governor_phase);
  top.boolean("keep_neighbours_busy", scenario.keep_neighbours_busy);
  for (auto key : {"host", "guest", "workload", "knobs", "vm", "case"}) top.known(key);
  PREFCPU_TRY(top.finish());
  if (scenario.name.empty())
    return make_error("{}: name is missing: expected name = \"...\"", where);

  const toml::table* host = sub_table(root, "host", status, where);
  PREFCPU_TRY(status);
  if (host == nullptr)
    return make_error("{}: [host] is missing: expected [host] with pcpus", where);
  GuestParams guest;
  PREFCPU_TRY(read_host(host, where + " [host]", scenario.host, guest));
  if (scenario.host.pcpus == 0)
    return make_error("{} [host]: pcpus is missing: expected an integer >= 1", where);

  const toml::table* knobs = sub_table(root, "knobs", status, where);
  PREFCPU_TRY(status);
  Fields kf(knobs, where + " [knobs]");
  kf.integer("interval_ms", scenario.knobs.interval_ms, 0, UINT32_MAX);
  kf.integer("high_threshold", scenario.knobs.high_threshold, 0, UINT32_MAX);
  kf.integer("low_threshold", scenario.knobs.low_threshold, 0, UINT32_MAX);
  PREFCPU_TRY(kf.finish());
  if (auto ok = validate_knobs(scenario.knobs); !ok) {
    return make_error("{} [knobs]: {}", where, ok.error().message);
  }

  PREFCPU_TRY(read_guest(sub_table(root, "guest", status, where), where + " [guest]", guest));
  PREFCPU_TRY(status);
  WorkloadParams workload;
  PREFCPU_TRY(
      read_workload(sub_table(root, "workload", status, where), where + " [workload]", workload));
  PREFCPU_TRY(status);

  auto vm_tables = table_array(root, "vm", source, "vm");
  if (!vm_tables) return vm_tables.error();
  if (vm_tables->empty()) return make_error("{}: no [[vm]]: expected at least one", where);
  std::vector<VmSpec> vms;
  std::vector<const toml::table*> vm_workloads;
  for (std::size_t i = 0; i < vm_tables->size(); ++i) {
    const toml::table& t = *(*vm_tables)[i];
    std::string at = fmt::format("{} [[vm]] #{}", where, i + 1);
    VmSpec vm;
    vm.guest = guest;
    vm.name = fmt::format("vm{}", i + 1);
    Fields f(&t, at);
    f.string("name", vm.name);
    f.integer("vcpus", vm.vcpus, 1, 4096);
    f.integer("weight", vm.weight, 1, 1'000'000);
    if (t.get("entitlement") != nullptr) {
      double e = 0;
      f.number("entitlement", e, 0.0, 4096.0);
      vm.entitlement = e;
    }
    if (t.get("governor") != nullptr) {
      std::string g;
      f.string("governor", g);
      vm.governor = g;
    }
    f.optional_integer("interval_ms", vm.interval_ms, 0, UINT32_MAX);
    f.optional_integer("high_threshold", vm.high_threshold, 0, UINT32_MAX);
    f.optional_integer("low_threshold", vm.low_threshold, 0, UINT32_MAX);
    f.known("guest");
    f.known("workload");
    f.known("load");
    PREFCPU_TRY(f.finish());
    if (vm.vcpus == 0) return make_error("{}: vcpus is missing: expected an integer >= 1", at);
    PREFCPU_TRY(read_guest(sub_table(t, "guest", status, at), at + " [guest]", vm.guest));
    PREFCPU_TRY(status);
    PREFCPU_TRY(check_vm(scenario.host, vm, at));
    if (vm.governor) {
      if (auto g = make_sim_governor(*vm.governor); !g) {
        return make_error("{}: governor: {}", at, g.error().message);
      }
    }
    vm.workload = workload;
    vm_workloads.push_back(sub_table(t, "workload", status, at));
    PREFCPU_TRY(status);
    PREFCPU_TRY(read_workload(vm_workloads.back(), at + " [workload]", vm.workload));
    PREFCPU_TRY(read_load(t, at, scenario.duration_ns, vm.load));
    vms.push_back(std::move(vm));
  }

  auto case_tables = table_array(root, "case", source, "case");
  if (!case_tables) return case_tables.error();
  if (case_tables->empty()) {
    for (std::size_t i = 0; i < vms.size(); ++i) {
      PREFCPU_TRY(check_load(vms[i], fmt::format("{} [[vm]] #{}", where, i + 1)));
    }
    scenario.cases.push_back(CaseSpec{scenario.name, vms});
  }
  for (std::size_t i = 0; i < case_tables->size(); ++i) {
    const toml::table& t = *(*case_tables)[i];
    std::string at = fmt::format("{} [[case]] #{}", where, i + 1);
    CaseSpec spec{fmt::format("case {}", i + 1), vms};
    std::uint32_t keep = 0;  // the case runs the first `vms` [[vm]] entries; 0: all
    Fields f(&t, at);
    f.string("name", spec.name);
    f.integer("vms", keep, 1, 4096);
    f.known("workload");
    f.known("guest");
    PREFCPU_TRY(f.finish());
    if (keep > spec.vms.size()) {
      return make_error("{}: vms {} is more than the {} [[vm]] entries: expected 1..{}", at, keep,
                        spec.vms.size(), spec.vms.size());
    }
    if (keep != 0) spec.vms.resize(keep);
    const toml::table* overrides = sub_table(t, "workload", status, at);
    PREFCPU_TRY(status);
    const toml::table* guest_overrides = sub_table(t, "guest", status, at);
    PREFCPU_TRY(status);
    for (std::size_t v = 0; v < spec.vms.size(); ++v) {
      PREFCPU_TRY(read_guest(guest_overrides, at + " [guest]", spec.vms[v].guest));
      PREFCPU_TRY(
          check_vm(scenario.host, spec.vms[v], fmt::format("{} vm \"{}\"", at, spec.vms[v].name)));
      PREFCPU_TRY(read_workload(overrides, at + " [workload]", spec.vms[v].workload));
      PREFCPU_TRY(check_load(spec.vms[v], fmt::format("{} [[vm]] #{}", at, v + 1)));
    }
    scenario.cases.push_back(std::move(spec));
  }
  return scenario;
}

Result<Scenario> load_scenario(std::string_view name_or_path) {
  for (const auto& builtin : builtin_scenarios()) {
    if (builtin.name == name_or_path) {
      return parse_scenario(builtin.text, fmt::format("built-in {}", builtin.name));
    }
  }
  std::ifstream in{std::string(name_or_path)};
  if (!in) {
    std::string names;
    for (const auto& builtin : builtin_scenarios()) {
      names += (names.empty() ? "" : ", ") + std::string(builtin.name);
    }
    return make_errno_error(errno,
                            "scenario \"{}\" is neither a built-in nor a readable file: "
                            "expected one of {} or a path to a TOML file",
                            name_or_path, names);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_scenario(text.str(), name_or_path);
}

}  // namespace prefcpu::sim
