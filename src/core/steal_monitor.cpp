#include "core/steal_monitor.h"

#include "core/mask_rules.h"

namespace prefcpu {

std::string_view action_name(Action action) {
  switch (action) {
    case Action::kBaseline:
      return "baseline";
    case Action::kShrink:
      return "shrink";
    case Action::kGrow:
      return "grow";
    case Action::kHold:
      return "hold";
    case Action::kSkip:
      return "skip";
    case Action::kManual:
      return "manual";
    case Action::kAuto:
      return "auto";
    case Action::kIdle:
      return "idle";
    case Action::kMirror:
      return "mirror";
    case Action::kError:
      return "error";
  }
  return "hold";
}

Result<StealMonitor> StealMonitor::create(Topology topology, Knobs knobs,
                                          std::unique_ptr<Governor> governor,
                                          std::uint64_t user_hz) {
  if (auto status = validate_knobs(knobs); !status) return status.error();
  if (!governor) return make_error("no governor given");
  auto meter = StealMeter::create(user_hz);
  if (!meter) return meter.error();
  return StealMonitor(std::move(topology), knobs, std::move(governor), *meter);
}

Step StealMonitor::observe(const Sample& sample) {
  Step step;
  CpuSet before = preferred_;
  auto ratio = meter_.observe(
      {sample.monotonic_ns, sample.steal_ticks, sample.online.count(), sample.busy_ticks});
  if (!started_) {
    // At load the kernel starts from preferred == active.
    started_ = true;
    preferred_ = sample.online;
    before = preferred_;
  } else {
    preferred_ = follow_hotplug(preferred_, sample.online, online_);
  }
  online_ = sample.online;

  if (ratio.verdict == StealVerdict::kBaseline) {
    step.action = Action::kBaseline;
  } else if (ratio.verdict == StealVerdict::kSkip) {
    step.action = Action::kSkip;
  } else if (ratio.verdict == StealVerdict::kImplausible) {
    step.action = Action::kSkip;
    step.skip_reason = std::move(ratio.reason);
  } else {
    step.steal_bp = ratio.steal_bp;
    step.busy_cpu_bp = ratio.busy_cpu_bp;
    if (custom_) {
      step.action = Action::kManual;
    } else {
      Interval interval{
          ratio.steal_bp,
          cpu_basis_points(ratio.delta_steal_ns, static_cast<std::uint64_t>(ratio.delta_ns)),
          ratio.busy_cpu_bp, preferred_.count(), online_.count()};
      step.action = apply(governor_->plan(interval, knobs_));
    }
  }
  if (custom_) {
    // A custom mask follows hotplug too: its offline CPUs drop out, and never to empty.
    preferred_ = within_online(*custom_, online_);
  }
  step.preferred = preferred_;
  step.removed = before - preferred_;
  step.added = preferred_ - before;
  return step;
}

Action StealMonitor::apply(const Plan& plan) {
  if (!plan.target_cpus) {
    if (plan.decision == Decision::kShrink) {
      preferred_ = shrink_preferred(preferred_, online_, topology_, knobs_.numa);
      return Action::kShrink;
    }
    if (plan.decision == Decision::kGrow) {
      preferred_ = grow_preferred(preferred_, online_, topology_, knobs_.numa);
      return Action::kGrow;
    }
    return Action::kHold;
  }
  // A target is reached by the one-core steps (NUMA splicing included), so the mask rules stay in
  // one place: shrink while the next step keeps at least the target, grow until it is reached.
  const unsigned before = preferred_.count();
  const unsigned target = *plan.target_cpus;
  while (preferred_.count() > target) {
    CpuSet next = shrink_preferred(preferred_, online_, topology_, knobs_.numa);
    if (next == preferred_ || next.count() < target) break;
    preferred_ = next;
  }
  while (preferred_.count() < target) {
    CpuSet next = grow_preferred(preferred_, online_, topology_, knobs_.numa);
    if (next == preferred_) break;
    preferred_ = next;
  }
  if (preferred_.count() < before) return Action::kShrink;
  if (preferred_.count() > before) return Action::kGrow;
  return Action::kHold;
}

Status StealMonitor::set_knobs(const Knobs& knobs) {
  if (auto status = validate_knobs(knobs); !status) return status;
  knobs_ = knobs;
  return {};
}

void StealMonitor::set_governor(std::unique_ptr<Governor> governor) {
  if (governor) governor_ = std::move(governor);
}

Status StealMonitor::set_custom_preferred(const CpuSet& custom) {
  // Before the first sample online is unknown: only emptiness can be checked.
  if (auto status = check_custom_preferred(custom, started_ ? online_ : custom); !status) {
    return status;
  }
  custom_ = custom;
  if (started_) preferred_ = custom;
  return {};
}

void StealMonitor::clear_custom_preferred() {
  if (!custom_) return;
  custom_.reset();
  preferred_ = online_;
  governor_->reset();
}

}  // namespace prefcpu
