// The `target` governor (issue 11): fit the preferred set to the capacity the guest receives,
// never below a learned floor, with slow shrinks and fast grows. docs/policy.md states the rule.
#include <algorithm>
#include <deque>
#include <limits>
#include <optional>

#include "core/governors.h"

namespace prefcpu {

namespace {

constexpr std::uint64_t kCpuBp = 10000;  // one CPU busy for the whole interval
// A shrink keeps 1/8 more CPUs than the floor; busy on at least 15/16 of the preferred CPUs counts
// as "the guest wants more". As 8/9 < 15/16, a guest fitted by a shrink and still receiving the
// same capacity is never taken to want more: the dead band that keeps a steady state still.
constexpr std::uint64_t kHeadroomNum = 9;
constexpr std::uint64_t kHeadroomDen = 8;
constexpr std::uint64_t kSaturatedNum = 15;
constexpr std::uint64_t kSaturatedDen = 16;
// A grow undone by a shrink within floor_window doubles the wait before the next grow, up to this.
constexpr unsigned kMaxGrowWait = 8;
// A shrink after which the guest, still contended, received less than 7/8 of what justified it
// cost capacity (the host shares by vCPU): it is undone, and no shrink follows for this many
// floor_windows. Both sides are means over shrink_after contended intervals: a max before against
// a mean (or a shorter max) after would undo shrinks that kept the capacity, on noise alone.
constexpr std::uint64_t kLostNum = 7;
constexpr std::uint64_t kLostDen = 8;
constexpr unsigned kUndoneHoldWindows = 4;
constexpr unsigned kLongAgo = std::numeric_limits<unsigned>::max() / 2;

// CPUs that hold cpu_bp with the headroom, rounded up; at least one.
std::uint64_t fit_cpus(std::uint64_t cpu_bp) {
  const std::uint64_t den = kCpuBp * kHeadroomDen;
  return std::max<std::uint64_t>(1, (cpu_bp * kHeadroomNum + den - 1) / den);
}

class TargetGovernor final : public Governor {
 public:
  std::string_view name() const override { return "target"; }
  bool needs_busy() const override { return true; }

  // Its rule is plan(); one steal ratio alone says nothing about capacity.
  Decision decide(std::uint64_t /*steal_bp*/, const Knobs& /*knobs*/) override {
    return Decision::kHold;
  }

  Plan plan(const Interval& interval, const Knobs& knobs) override {
    if (!interval.busy_cpu_bp || interval.preferred_cpus == 0) {
      forget_streaks();
      return {};
    }
    const std::uint64_t preferred = interval.preferred_cpus;
    const std::uint64_t busy = *interval.busy_cpu_bp;
    // Steal per preferred CPU: once confined, the kernel's per-online ratio understates it.
    const std::uint64_t steal_bp = interval.steal_cpu_bp / preferred;
    const bool contended = steal_bp > knobs.high_threshold;

    // Only a contended interval shows the entitlement: what the guest got while it wanted more.
    received_.push_back(contended ? busy : 0);
    while (received_.size() > knobs.floor_window) received_.pop_front();
    const std::uint64_t floor = fit_cpus(*std::max_element(received_.begin(), received_.end()));

    since_grow_ = std::min(since_grow_ + 1, kLongAgo);
    since_shrink_ = std::min(since_shrink_ + 1, kLongAgo);
    if (since_shrink_ >= knobs.floor_window) grow_wait_ = 1;
    if (!primed_) {
      primed_ = true;  // the first interval after a start or a switch only learns: no jump
      return {};
    }

    if (auto undo = check_last_shrink(busy, contended, knobs)) return *undo;
    shrink_block_ = shrink_block_ > 0 ? shrink_block_ - 1 : 0;
    shrink_streak_ = contended && floor < preferred && shrink_block_ == 0 ? shrink_streak_ + 1 : 0;
    streak_busy_ = shrink_streak_ > 0 ? streak_busy_ + busy : 0;
    const bool saturated = busy * kSaturatedDen >= preferred * kCpuBp * kSaturatedNum;
    grow_streak_ = steal_bp <= knobs.low_threshold && saturated ? grow_streak_ + 1 : 0;

    if (shrink_streak_ >= knobs.shrink_after) {
      if (since_grow_ < knobs.floor_window) grow_wait_ = std::min(grow_wait_ * 2, kMaxGrowWait);
      verify_ = {interval.preferred_cpus, streak_busy_ / shrink_streak_, knobs.shrink_after,
                 knobs.shrink_after, 0};
      forget_streaks();
      since_shrink_ = 0;
      return {Decision::kShrink, static_cast<unsigned>(floor)};
    }
    if (grow_streak_ >= grow_wait_ && interval.preferred_cpus < interval.online_cpus) {
      forget_streaks();
      since_grow_ = 0;
      return {Decision::kGrow, std::min(interval.online_cpus, 2 * interval.preferred_cpus)};
    }
    return {};
  }

  void reset() override { *this = TargetGovernor(); }

 private:
  // The shrink_after intervals after a shrink: did the guest keep what it received before?
  struct Verify {
    unsigned revert_to = 0;      // preferred CPUs before the shrink
    std::uint64_t received = 0;  // mean busy_cpu_bp of the streak that justified it
    unsigned watch = 0;          // contended intervals to watch: shrink_after
    unsigned left = 0;           // intervals still to watch; 0: nothing to verify
    std::uint64_t since = 0;     // busy_cpu_bp received since, summed
  };

  std::optional<Plan> check_last_shrink(std::uint64_t busy, bool contended, const Knobs& knobs) {
    if (verify_.left == 0) return std::nullopt;
    if (!contended) {
      verify_.left = 0;  // it no longer wants more: the shrink cost nothing it needed
      return std::nullopt;
    }
    verify_.since += busy;
    if (--verify_.left > 0 ||
        verify_.since * kLostDen >= verify_.received * verify_.watch * kLostNum) {
      return std::nullopt;
    }
    forget_streaks();
    shrink_block_ = kUndoneHoldWindows * knobs.floor_window;
    return Plan{Decision::kGrow, verify_.revert_to};
  }

  void forget_streaks() {
    shrink_streak_ = 0;
    streak_busy_ = 0;
    grow_streak_ = 0;
  }

  std::deque<std::uint64_t> received_;  // busy_cpu_bp of contended intervals, 0 for the others
  unsigned shrink_streak_ = 0;
  std::uint64_t streak_busy_ = 0;  // busy_cpu_bp summed over the shrink streak
  unsigned grow_streak_ = 0;
  unsigned grow_wait_ = 1;
  unsigned since_grow_ = kLongAgo;
  unsigned since_shrink_ = kLongAgo;
  unsigned shrink_block_ = 0;  // intervals left without shrinks after an undone one
  Verify verify_;
  bool primed_ = false;
};

}  // namespace

std::unique_ptr<Governor> make_target_governor() {
  return std::make_unique<TargetGovernor>();
}

}  // namespace prefcpu
