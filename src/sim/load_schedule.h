// A VM's load schedule (`[[vm.load]]` in a scenario): steps and linear ramps of a level that
// scales the workload's active task count. Tasks above the count park (sleep) at their next
// safe point and wake exactly when the schedule needs them again, so a run stays a pure function
// of scenario and seed and a parked task costs no events.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "sim/params.h"
#include "sim/state.h"

namespace prefcpu::sim {

class LoadSchedule {
 public:
  // No phases: every one of the workload's tasks is active for the whole run.
  LoadSchedule() = default;
  // `base_tasks` is the workload's task count at level 1. Before the first phase the level is 1;
  // each phase steps (ramp_ns 0) or ramps linearly from the level before it to its own.
  LoadSchedule(const std::vector<LoadPhase>& phases, std::uint32_t base_tasks);

  // Active tasks at time t: round(level(t) x base_tasks); a ramp moves one task at a time, each
  // change at the middle of its share of the ramp.
  std::uint32_t active_at(Ns t) const;
  // The tasks the workload creates: the most the schedule ever has active.
  std::uint32_t max_tasks() const { return max_; }
  // The first time >= t at which task `index` (0-based; the lowest indices stay active longest)
  // is active, or kNever.
  Ns active_from(std::uint32_t index, Ns t) const;

  struct Change {
    Ns at = 0;
    std::uint32_t active = 0;
  };
  const std::vector<Change>& changes() const { return changes_; }

 private:
  std::uint32_t initial_ = 0;
  std::uint32_t max_ = 0;
  std::vector<Change> changes_;  // by time; equal times allowed, the last one wins
};

// A parked task sleeps this long when the schedule never needs it again: past any run's end
// (an hour at most), without overflowing the clock.
inline constexpr Ns kParkForever = Ns{1} << 60;

// The sleep that parks `task_index` at `now`, or nothing if the schedule has it active.
std::optional<Op> park(const LoadSchedule& schedule, std::uint32_t task_index, Ns now);

}  // namespace prefcpu::sim
