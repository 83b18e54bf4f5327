// One period of prefcpud: sample /proc/stat, let the source of the mode decide (the policy lives
// in src/core), make the actuators follow a change, publish. A period that changes nothing reads
// /proc/stat and nothing else; the actuators reconcile at the slow cadence.
#include "core/proc_stat.h"
#include "daemon/daemon.h"
#include "linux/sysfs_topology.h"

namespace prefcpu {

void Daemon::refresh_topology(const CpuSet& online) {
  if (online == monitor_->topology().online()) return;
  // Hotplug: new CPUs bring their sibling lists; re-read them, as the kernel's masks change.
  auto topology = read_sysfs_topology(deps_.fs, paths_.sysfs_root);
  if (topology && topology->online() == online) {
    monitor_->set_topology(std::move(*topology));
  } else {
    monitor_->set_topology(monitor_->topology().with_online(online));
  }
}

Result<ProcStatSample> Daemon::sample() {
  auto text = deps_.fs.reread(paths_.proc_stat);
  if (!text) return text.error();
  auto stat = parse_proc_stat(*text);
  if (!stat) return stat.error();
  if (stat->total.fields_present <= CpuTimes::kStealField) {
    return make_error(
        "the aggregate \"cpu\" line has {} fields: expected at least {} (steal is the "
        "{}th)",
        stat->total.fields_present, CpuTimes::kStealField + 1, CpuTimes::kStealField + 1);
  }
  return ProcStatSample{stat->total.steal(), believed_online(stat->online), stat->total.busy()};
}

// /proc/stat prints a line per online CPU; when its lines disagree with what the monitor knows,
// sysfs decides (one read, only then): a line missing from one sample is not a hotplug.
CpuSet Daemon::believed_online(const CpuSet& listed) {
  if (monitor_->online().empty() || listed == monitor_->online()) return listed;
  auto path = paths_.sysfs_root / "devices/system/cpu/online";
  auto text = deps_.fs.read(path);
  auto online = text ? parse_cpulist(*text) : Result<CpuSet>(text.error());
  if (!online || online->empty() || *online == listed) {
    online_disagreement_.clear();
    return listed;
  }
  std::string note = format_cpulist(listed) + " / " + format_cpulist(*online);
  if (note != online_disagreement_) {
    deps_.log.warning("{} lists CPUs {} but {} says {}; believing sysfs", paths_.proc_stat.string(),
                      format_cpulist(listed), path.string(), format_cpulist(*online));
    online_disagreement_ = note;
  }
  return *online;
}

void Daemon::apply_actuators() {
  if (config_.dry_run) return;
  CpuSet preferred = this->preferred();
  CpuSet online = this->online();
  for (auto& actuator : actuators_) {
    std::string name(actuator->name());
    auto status = actuator->apply(preferred, online);
    auto previous = actuator_errors_.find(name);
    if (!status) {
      ++counters_.apply_errors;
      // Refused writes are retried every period; say so once per distinct error.
      if (previous == actuator_errors_.end() || previous->second != status.error().message) {
        deps_.log.warning("{}: {}; retrying every period", name, status.error().message);
        actuator_errors_[name] = status.error().message;
      }
    } else if (previous != actuator_errors_.end()) {
      deps_.log.info("{}: applied again after earlier errors", name);
      actuator_errors_.erase(previous);
    }
  }
}

void Daemon::log_step(const Step& step, const CpuSet& before, const CpuSet& online_before) {
  std::string steal = step.steal_bp ? std::to_string(*step.steal_bp) : std::string("-");
  const Knobs& knobs = monitor_->knobs();
  CpuSet preferred = this->preferred();
  CpuSet online = this->online();
  if (before.empty()) {
    deps_.log.info("baseline sample: preferred {}, online {}", format_cpulist(preferred),
                   format_cpulist(online));
  } else if (before != preferred) {
    std::string why;
    if (online_before != online) {
      why = fmt::format("online {} -> {}", format_cpulist(online_before), format_cpulist(online));
    } else if (step.action == Action::kShrink) {
      why = fmt::format("shrink: steal_bp {} > high_threshold {}", steal, knobs.high_threshold);
    } else if (step.action == Action::kGrow) {
      why = fmt::format("grow: steal_bp {} <= low_threshold {}", steal, knobs.low_threshold);
    } else {
      why = action_name(step.action);
    }
    deps_.log.info("{}; preferred {} -> {}", why, format_cpulist(before),
                   format_cpulist(preferred));
  }
  deps_.log.debug("sample: steal_bp {}, {}, preferred {}, online {}", steal,
                  action_name(step.action), format_cpulist(preferred), format_cpulist(online));
}

void Daemon::count(Action action) {
  switch (action) {
    case Action::kShrink:
      ++counters_.shrinks;
      break;
    case Action::kGrow:
      ++counters_.grows;
      break;
    case Action::kHold:
      ++counters_.holds;
      break;
    case Action::kSkip:
      ++counters_.skips;
      break;
    case Action::kManual:
      ++counters_.manual;
      break;
    case Action::kBaseline:
    case Action::kAuto:
    case Action::kIdle:
    case Action::kMirror:
    case Action::kError:
      break;
  }
}

void Daemon::run_period() {
  std::int64_t now = deps_.clock.monotonic_ns();
  const auto interval_ns = std::int64_t{monitor_->knobs().interval_ms} * 1'000'000;
  last_period_ns_ = now;
  // As the kernel's delayed work requeues itself interval_ms after each run: a late period
  // never shortens the next window (a 2 ms window would read one 10 ms tick as huge steal).
  next_period_ns_ = now + interval_ns;
  ++counters_.periods;

  auto stat = sample();
  if (!stat) {
    ++counters_.sample_errors;
    if (stat.error().message != last_sample_error_) {
      deps_.log.warning("sampling {}: {}; keeping preferred {} and retrying every period",
                        paths_.proc_stat.string(), stat.error().message,
                        format_cpulist(preferred()));
      last_sample_error_ = stat.error().message;
    }
    last_action_ = Action::kError;
    history_.push({now, std::nullopt, "error", preferred(), online(), std::nullopt});
    publish(false);
    return;
  }
  if (!last_sample_error_.empty()) {
    deps_.log.info("sampling {} works again", paths_.proc_stat.string());
    last_sample_error_.clear();
  }

  CpuSet before = preferred();
  CpuSet online_before = online();
  refresh_topology(stat->online);
  Step step = source_->step(
      monitor_->observe({now, stat->steal_ticks, stat->online, stat->busy_ticks}), *monitor_);
  steal_bp_ = step.steal_bp;
  last_action_ = step.action;
  count(step.action);
  if (!step.skip_reason.empty() && implausible_noted_.empty()) {
    deps_.log.warning(
        "sampling {}: implausible sample skipped ({}); said once until a sample "
        "is plausible again",
        paths_.proc_stat.string(), step.skip_reason);
    implausible_noted_ = step.skip_reason;
  } else if (step.steal_bp && !implausible_noted_.empty()) {
    implausible_noted_.clear();
  }
  CpuSet preferred = this->preferred();
  CpuSet online = this->online();
  // Invariants of the kernel's steal_governor: never empty, never outside online.
  if (preferred.empty() || !preferred.is_subset_of(online)) {
    fatal_ = fmt::format("invariant broken: preferred \"{}\" is empty or outside online \"{}\"",
                         format_cpulist(preferred), format_cpulist(online));
    deps_.log.error("{}; restoring everything and stopping", *fatal_);
    return;
  }
  bool changed = before != preferred || online_before != online;
  if (!before.empty() && before != preferred) {
    ++counters_.mask_changes;
    last_change_ns_ = now;
  }
  // Steady state: nothing to apply. A change applies at once; errors are retried every period;
  // otherwise the actuators reconcile (new IRQs, foreign writes, irqbalance) at the slow cadence.
  if (changed || reconcile_due_ || !actuator_errors_.empty() || now >= next_reconcile_ns_) {
    apply_actuators();
    reconcile_due_ = false;
    next_reconcile_ns_ = now + std::int64_t{config_.reconcile_interval_ms} * 1'000'000;
  }
  log_step(step, before, online_before);
  history_.push({now, steal_bp_, std::string(action_name(last_action_)), preferred, online,
                 step.busy_cpu_bp});
  publish(before != preferred);
}

}  // namespace prefcpu
