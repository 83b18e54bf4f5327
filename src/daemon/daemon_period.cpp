// One period of prefcpud: sample /proc/stat, run the steal monitor (the policy lives in
// src/core), make every actuator follow the result, publish.
#include "core/proc_stat.h"
#include "daemon/daemon.h"
#include "daemon/environment.h"
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

std::optional<CpuSet> Daemon::read_kernel_preferred() {
  auto path = kernel_preferred_path(paths_.sysfs_root);
  auto text = deps_.fs.read(path);
  if (!text) {
    deps_.log.warning("mirror: reading {}: {}", path.string(), text.error().message);
    return std::nullopt;
  }
  auto cpus = parse_cpulist(*text);
  if (!cpus) {
    deps_.log.warning("mirror: {}: {}", path.string(), cpus.error().message);
    return std::nullopt;
  }
  return *cpus;
}

void Daemon::apply_actuators() {
  if (config_.dry_run) return;
  for (auto& actuator : actuators_) {
    std::string name(actuator->name());
    auto status = actuator->apply(preferred_, online_);
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
  if (before.empty()) {
    deps_.log.info("baseline sample: preferred {}, online {}", format_cpulist(preferred_),
                   format_cpulist(online_));
  } else if (before != preferred_) {
    std::string why;
    if (online_before != online_) {
      why = fmt::format("online {} -> {}", format_cpulist(online_before), format_cpulist(online_));
    } else if (step.action == Action::kShrink) {
      why = fmt::format("shrink: steal_bp {} > high_threshold {}", steal, knobs.high_threshold);
    } else if (step.action == Action::kGrow) {
      why = fmt::format("grow: steal_bp {} <= low_threshold {}", steal, knobs.low_threshold);
    } else {
      why = last_action_;
    }
    deps_.log.info("{}; preferred {} -> {}", why, format_cpulist(before),
                   format_cpulist(preferred_));
  }
  deps_.log.debug("sample: steal_bp {}, {}, preferred {}, online {}", steal, last_action_,
                  format_cpulist(preferred_), format_cpulist(online_));
}

void Daemon::run_period() {
  std::int64_t now = deps_.clock.monotonic_ns();
  const auto interval_ns = std::int64_t{monitor_->knobs().interval_ms} * 1'000'000;
  last_period_ns_ = now;
  // As the kernel's delayed work requeues itself interval_ms after each run: a late period
  // never shortens the next window (a 2 ms window would read one 10 ms tick as huge steal).
  next_period_ns_ = now + interval_ns;
  ++counters_.periods;

  auto text = deps_.fs.reread(paths_.proc_stat);
  Result<ProcStat> stat = text ? parse_proc_stat(*text) : Result<ProcStat>(text.error());
  if (!stat) {
    ++counters_.sample_errors;
    if (stat.error().message != last_sample_error_) {
      deps_.log.warning("sampling {}: {}; keeping preferred {} and retrying every period",
                        paths_.proc_stat.string(), stat.error().message,
                        format_cpulist(preferred_));
      last_sample_error_ = stat.error().message;
    }
    history_.push({now, std::nullopt, "error", preferred_, online_});
    publish(false);
    return;
  }
  if (!last_sample_error_.empty()) {
    deps_.log.info("sampling {} works again", paths_.proc_stat.string());
    last_sample_error_.clear();
  }

  CpuSet before = preferred_;
  CpuSet online_before = online_;
  refresh_topology(stat->online);
  Step step = monitor_->observe({now, stat->total.steal(), stat->online});
  online_ = stat->online;
  steal_bp_ = step.steal_bp;
  last_action_ = std::string(action_name(step.action));
  switch (mode_) {
    case DaemonMode::kIdle:
      preferred_ = online_;
      last_action_ = "idle";
      break;
    case DaemonMode::kMirror: {
      auto kernel = read_kernel_preferred();
      CpuSet mask = kernel ? (*kernel & online_) : preferred_ & online_;
      preferred_ = mask.empty() ? online_ : mask;
      last_action_ = "mirror";
      break;
    }
    case DaemonMode::kEnforce:
    case DaemonMode::kDryRun:
      preferred_ = step.preferred;
      break;
  }
  switch (step.action) {
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
      break;
  }
  // Invariants of the kernel's steal_governor: never empty, never outside online.
  if (preferred_.empty() || !preferred_.is_subset_of(online_)) {
    fatal_ = fmt::format("invariant broken: preferred \"{}\" is empty or outside online \"{}\"",
                         format_cpulist(preferred_), format_cpulist(online_));
    deps_.log.error("{}; restoring everything and stopping", *fatal_);
    preferred_ = online_;
    return;
  }
  if (!before.empty() && before != preferred_) {
    ++counters_.mask_changes;
    last_change_ns_ = now;
  }
  apply_actuators();
  log_step(step, before, online_before);
  history_.push({now, steal_bp_, last_action_, preferred_, online_});
  publish(before != preferred_);
}

}  // namespace prefcpu
