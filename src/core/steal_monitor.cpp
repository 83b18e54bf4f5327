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
  auto ratio = meter_.observe({sample.monotonic_ns, sample.steal_ticks, sample.online.count()});
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
    if (custom_) {
      step.action = Action::kManual;
    } else {
      Decision decision = governor_->decide(ratio.steal_bp, knobs_);
      if (decision == Decision::kShrink) {
        step.action = Action::kShrink;
        preferred_ = shrink_preferred(preferred_, online_, topology_);
      } else if (decision == Decision::kGrow) {
        step.action = Action::kGrow;
        preferred_ = grow_preferred(preferred_, online_, topology_);
      } else {
        step.action = Action::kHold;
      }
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
