#include "sim/load_schedule.h"

#include <algorithm>
#include <cmath>

namespace prefcpu::sim {

namespace {

std::uint32_t tasks_at(double level, std::uint32_t base) {
  // Round to nearest (llround is exact, so the count does not depend on the libm).
  return static_cast<std::uint32_t>(std::llround(level * static_cast<double>(base)));
}

}  // namespace

LoadSchedule::LoadSchedule(const std::vector<LoadPhase>& phases, std::uint32_t base_tasks)
    : initial_(base_tasks), max_(base_tasks) {
  std::uint32_t count = base_tasks;
  for (const LoadPhase& phase : phases) {
    std::uint32_t target = tasks_at(phase.level, base_tasks);
    max_ = std::max(max_, target);
    if (phase.ramp_ns <= 0) {
      if (target != count) changes_.push_back(Change{phase.at_ns, target});
      count = target;
      continue;
    }
    // n one-task moves; move k (1..n) at at + ramp x (2k - 1) / 2n, in integers without
    // overflow: ramp = q x 2n + r, so ramp x (2k - 1) / 2n = q x (2k - 1) + r x (2k - 1) / 2n.
    auto n = static_cast<Ns>(target > count ? target - count : count - target);
    Ns q = phase.ramp_ns / (2 * n);
    Ns r = phase.ramp_ns % (2 * n);
    for (Ns k = 1; k <= n; ++k) {
      Ns odd = 2 * k - 1;
      std::uint32_t active = target > count ? count + static_cast<std::uint32_t>(k)
                                            : count - static_cast<std::uint32_t>(k);
      changes_.push_back(Change{phase.at_ns + q * odd + r * odd / (2 * n), active});
    }
    count = target;
  }
}

std::uint32_t LoadSchedule::active_at(Ns t) const {
  auto after = std::upper_bound(changes_.begin(), changes_.end(), t,
                                [](Ns time, const Change& c) { return time < c.at; });
  return after == changes_.begin() ? initial_ : std::prev(after)->active;
}

Ns LoadSchedule::active_from(std::uint32_t index, Ns t) const {
  if (active_at(t) > index) return t;
  auto it = std::upper_bound(changes_.begin(), changes_.end(), t,
                             [](Ns time, const Change& c) { return time < c.at; });
  for (; it != changes_.end(); ++it) {
    // Equal times: the last change at a time is the one in force.
    if (std::next(it) != changes_.end() && std::next(it)->at == it->at) continue;
    if (it->active > index) return it->at;
  }
  return kNever;
}

std::optional<Op> park(const LoadSchedule& schedule, std::uint32_t task_index, Ns now) {
  Ns from = schedule.active_from(task_index, now);
  if (from <= now) return std::nullopt;
  return Op{OpKind::kSleep, 0, from == kNever ? kParkForever : from - now};
}

}  // namespace prefcpu::sim
