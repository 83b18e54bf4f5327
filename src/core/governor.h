// A governor turns one steal ratio into one decision. Governors are registered by name so the
// daemon, the replay tool and the simulator can all pick one from configuration.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/knobs.h"
#include "core/result.h"

namespace prefcpu {

enum class Decision { kHold, kShrink, kGrow };

std::string_view decision_name(Decision decision);

// One interval as a governor sees it: the kernel's ratio and what plan() needs beyond it.
struct Interval {
  std::uint64_t steal_bp = 0;                // the kernel's ratio, over the online CPUs
  std::uint64_t steal_cpu_bp = 0;            // steal in basis points of one CPU (all CPUs summed)
  std::optional<std::uint64_t> busy_cpu_bp;  // busy time likewise; empty when unknown
  unsigned preferred_cpus = 0;               // before this step
  unsigned online_cpus = 0;
};

// A governor's answer: one core (the kernel's step), or a number of preferred CPUs that the monitor
// reaches by repeating the kernel's one-core step (mask_rules.h) in this one interval.
struct Plan {
  Decision decision = Decision::kHold;
  std::optional<unsigned> target_cpus;  // set: steps toward it; decision is then ignored
};

class Governor {
 public:
  virtual ~Governor() = default;
  virtual std::string_view name() const = 0;
  // Called once per non-skipped sample.
  virtual Decision decide(std::uint64_t steal_bp, const Knobs& knobs) = 0;
  // What the monitor calls; the kernel's governors answer one step from decide().
  virtual Plan plan(const Interval& interval, const Knobs& knobs) {
    return {decide(interval.steal_bp, knobs), std::nullopt};
  }
  // A governor that plans from busy time cannot run on samples without it.
  virtual bool needs_busy() const { return false; }
  // Forget any history, e.g. after the custom mask is cleared.
  virtual void reset() {}
};

struct GovernorInfo {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Governor>()> create;
};

// Built-ins: "none", "kernel", "kernel-v2", "ewma", "target".
const std::vector<GovernorInfo>& governors();
Result<std::unique_ptr<Governor>> make_governor(std::string_view name);
// Adds a governor at run time (tests, experiments); fails if the name is taken.
Status register_governor(GovernorInfo info);
std::string governor_names();  // "none, kernel, kernel-v2, ewma, target" for error messages

}  // namespace prefcpu
