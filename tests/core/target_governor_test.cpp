// The `target` governor (docs/policy.md): convergence, floor, hysteresis, no flapping, knobs,
// switching at run time, and that every move is the kernel's one-core step repeated.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "core/mask_rules.h"
#include "core/steal_monitor.h"

namespace prefcpu {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

// A guest sampled once a second at USER_HZ 100: one CPU for one second is 100 ticks, so rates are
// given in hundredths of a CPU ("centi-CPUs").
class Guest {
 public:
  explicit Guest(const char* governor, const char* topo = "cores=32,smt=1", Knobs knobs = {}) {
    auto topology = parse_topology_spec(topo);
    EXPECT_TRUE(topology);
    auto made = StealMonitor::create(*topology, knobs, std::move(*make_governor(governor)), 100);
    EXPECT_TRUE(made) << (made ? "" : made.error().message);
    monitor_.emplace(std::move(*made));
    online_ = topology->online();
    (void)monitor_->observe({0, 0, online_, 0});  // baseline
  }

  // One interval with this much steal and busy time, in centi-CPUs.
  Step tick(std::uint64_t steal, std::uint64_t busy) {
    steal_ += steal;
    busy_ += busy;
    t_ += kSecond;
    Step step = monitor_->observe({t_, steal_, online_, busy_});
    if (step.changed()) ++changes_;
    return step;
  }
  // A host that gives the guest `capacity` centi-CPUs and a guest that always wants every
  // preferred CPU: busy is what it gets, the rest of the preferred CPUs' time is steal.
  Step tick_closed(std::uint64_t capacity) {
    std::uint64_t want = 100ULL * preferred();
    std::uint64_t got = std::min(want, capacity);
    return tick(want - got, got);
  }

  unsigned preferred() const { return monitor_->preferred().count(); }
  unsigned changes() const { return changes_; }
  StealMonitor& monitor() { return *monitor_; }

 private:
  std::optional<StealMonitor> monitor_;
  CpuSet online_;
  std::int64_t t_ = 0;
  std::uint64_t steal_ = 0;
  std::uint64_t busy_ = 0;
  unsigned changes_ = 0;
};

TEST(TargetGovernor, ShrinksStraightToTheCapacityReceived) {
  Guest target("target");
  Guest kernel("kernel");
  // 32 CPUs all wanted, 8 received: 24 CPUs of steal.
  for (int i = 0; i < 4; ++i) {
    (void)target.tick(2400, 800);
    (void)kernel.tick(2400, 800);
  }
  // One interval to learn, then shrink_after (3) consistent ones, then one move to 8 CPUs plus
  // the headroom of 1/8: 9.
  EXPECT_EQ(target.preferred(), 9U);
  EXPECT_EQ(target.changes(), 1U);
  EXPECT_EQ(kernel.preferred(), 28U) << "the kernel's one core per interval";
}

TEST(TargetGovernor, ConvergesOnAClosedLoopInAQuarterOfTheKernelsIntervals) {
  // The interval of the last mask change in 200: where each rule settles on 4.5 CPUs received.
  auto settled = [](const char* name) {
    Guest guest(name);
    unsigned last = 0;
    for (unsigned i = 1; i <= 200; ++i) {
      if (guest.tick_closed(450).changed()) last = i;
    }
    return std::pair(last, guest.preferred());
  };
  auto [kernel, kernel_cpus] = settled("kernel");
  auto [target, target_cpus] = settled("target");
  EXPECT_EQ(kernel_cpus, 6U);
  EXPECT_EQ(target_cpus, 6U) << "ceil(4.5 * 9/8)";
  EXPECT_EQ(target, 4U);
  EXPECT_LE(target * 4, kernel) << "target " << target << ", kernel " << kernel;
}

TEST(TargetGovernor, GrowsQuicklyWhenTheNeighboursGoQuiet) {
  Guest guest("target");
  for (int i = 0; i < 10; ++i) (void)guest.tick_closed(190);
  ASSERT_EQ(guest.preferred(), 3U);
  unsigned intervals = 0;
  while (guest.preferred() < 32 && intervals < 100) {
    (void)guest.tick_closed(3200);
    ++intervals;
  }
  // Doubling: 3 -> 6 -> 12 -> 24 -> 32; the kernel's rule takes 29.
  EXPECT_EQ(intervals, 4U);
}

TEST(TargetGovernor, NeverShrinksBelowTheLearnedFloor) {
  Knobs knobs;
  knobs.floor_window = 10;
  Guest guest("target", "cores=32,smt=1", knobs);
  for (int i = 0; i < 7; ++i) (void)guest.tick(2400, 800);  // shrink at 4, verified by 7
  ASSERT_EQ(guest.preferred(), 9U);
  // Contention worsens: only 4 CPUs' worth received, on the 9 preferred ones.
  for (int i = 0; i < 9; ++i) {
    (void)guest.tick(400, 400);
    EXPECT_EQ(guest.preferred(), 9U) << "interval " << i << ": 8 CPUs were received lately";
  }
  for (int i = 0; i < 10; ++i) (void)guest.tick(400, 400);
  EXPECT_EQ(guest.preferred(), 5U) << "the floor forgets after floor_window intervals";
}

// A host that shares by vCPU: each preferred vCPU gets half a CPU, so shrinking loses capacity.
TEST(TargetGovernor, AShrinkThatLosesCapacityIsUndone) {
  Guest guest("target");
  auto tick_half = [&guest] {
    return guest.tick(50ULL * guest.preferred(), 50ULL * guest.preferred());
  };
  for (int i = 0; i < 4; ++i) (void)tick_half();
  ASSERT_EQ(guest.preferred(), 18U) << "16 CPUs received, 1/8 headroom";
  (void)tick_half();
  (void)tick_half();
  EXPECT_EQ(guest.preferred(), 18U) << "watched for shrink_after intervals";
  Step undo = tick_half();
  EXPECT_EQ(undo.action, Action::kGrow);
  EXPECT_EQ(guest.preferred(), 32U) << "9 CPUs received where 16 were: back";
  for (int i = 0; i < 119; ++i) (void)tick_half();
  EXPECT_EQ(guest.preferred(), 32U) << "no shrink for 4 floor_windows";
  EXPECT_EQ(guest.changes(), 2U);
}

// The undo rule's margin: a shrink after which the guest still receives 15 of the 16 CPUs that
// justified it (above 7/8) stands, however contended it stays.
TEST(TargetGovernor, AShrinkThatKeepsSevenEighthsStands) {
  Guest guest("target");
  for (int i = 0; i < 4; ++i) (void)guest.tick(1600, 1600);
  ASSERT_EQ(guest.preferred(), 18U) << "16 CPUs received, 1/8 headroom";
  for (int i = 0; i < 6; ++i) {
    (void)guest.tick(300, 1500);
    EXPECT_EQ(guest.preferred(), 18U) << "interval " << i << ": 15 of 16 CPUs is not a loss";
  }
  EXPECT_EQ(guest.changes(), 1U);
}

// The undo rule compares like with like: the mean the guest received over the streak that
// justified the shrink against the mean over as many contended intervals after it. Noisy busy
// time (a max of 12 CPUs, a mean of 9.3) followed by a steady 9.7 keeps the shrink; a rule that
// held the window's max against what came after would undo it on noise alone.
TEST(TargetGovernor, NoiseDoesNotUndoAShrinkThatKeptTheMeanCapacity) {
  Guest guest("target");
  (void)guest.tick(2400, 1200);  // learns
  (void)guest.tick(2400, 800);
  (void)guest.tick(2400, 1200);
  (void)guest.tick(2400, 800);
  ASSERT_EQ(guest.preferred(), 14U) << "12 CPUs at most received, 1/8 headroom";
  for (std::uint64_t busy : {1000U, 900U, 1000U, 1000U, 900U, 1000U, 1000U, 900U}) {
    (void)guest.tick(1200, busy);
    EXPECT_EQ(guest.preferred(), 14U) << "9.3 CPUs before, 9.7 after: the shrink stands";
  }
  EXPECT_EQ(guest.changes(), 1U);
}

TEST(TargetGovernor, ShrinkNeedsShrinkAfterConsistentIntervals) {
  Guest guest("target");
  (void)guest.tick(0, 0);  // learns
  for (int round = 0; round < 5; ++round) {
    (void)guest.tick(2400, 800);
    (void)guest.tick(2400, 800);
    (void)guest.tick(0, 800);  // one quiet interval breaks the streak
  }
  EXPECT_EQ(guest.preferred(), 32U);
  EXPECT_EQ(guest.changes(), 0U);
}

TEST(TargetGovernor, GrowsOnlyWhenBusyOnItsPreferredSet) {
  Guest guest("target");
  for (int i = 0; i < 5; ++i) (void)guest.tick(2400, 800);
  ASSERT_EQ(guest.preferred(), 9U);
  for (int i = 0; i < 20; ++i) (void)guest.tick(0, 840);  // no steal, 8.4 of 9 CPUs busy
  EXPECT_EQ(guest.preferred(), 9U) << "below 15/16 busy the guest does not need more CPUs";
  (void)guest.tick(0, 850);  // 8.5 of 9: at least 15/16
  EXPECT_EQ(guest.preferred(), 18U);
}

TEST(TargetGovernor, AFailedProbeDoublesTheWaitBeforeTheNextGrow) {
  Guest guest("target");
  for (int i = 0; i < 5; ++i) (void)guest.tick(2400, 800);
  ASSERT_EQ(guest.preferred(), 9U);
  (void)guest.tick(0, 900);  // saturated, no steal: probe
  ASSERT_EQ(guest.preferred(), 18U);
  for (int i = 0; i < 3; ++i) (void)guest.tick(1800, 900);  // the capacity was not there
  ASSERT_EQ(guest.preferred(), 11U) << "ceil(9 CPUs received * 9/8)";
  (void)guest.tick(0, 1100);
  EXPECT_EQ(guest.preferred(), 11U) << "one saturated interval is no longer enough";
  (void)guest.tick(0, 1100);
  EXPECT_EQ(guest.preferred(), 22U);
}

TEST(TargetGovernor, SteadyTraceMakesNoChangeAfterConvergence) {
  for (std::uint64_t busy : {100U, 800U, 1250U, 3200U}) {
    Guest guest("target");
    for (int i = 0; i < 10; ++i) (void)guest.tick(3200 - busy, busy);
    unsigned converged = guest.changes();
    for (int i = 0; i < 600; ++i) (void)guest.tick(3200 - busy, busy);
    EXPECT_EQ(guest.changes(), converged) << "busy " << busy;
  }
}

TEST(TargetGovernor, ClosedLoopSteadyStateBarelyMoves) {
  // The headroom (9/8) and the grow threshold (15/16) leave a dead band: a fitted guest that
  // keeps receiving the same capacity never looks saturated, even on a whole number of CPUs.
  for (std::uint64_t capacity : {850U, 800U, 100U, 3100U}) {
    Guest guest("target");
    for (int i = 0; i < 10; ++i) (void)guest.tick_closed(capacity);
    EXPECT_EQ(guest.changes(), capacity >= 3100 ? 0U : 1U) << "capacity " << capacity;
    for (int i = 0; i < 600; ++i) (void)guest.tick_closed(capacity);
    EXPECT_EQ(guest.changes(), capacity >= 3100 ? 0U : 1U) << "capacity " << capacity;
    EXPECT_GE(100 * guest.preferred(), capacity) << "never below what it receives";
  }
}

TEST(TargetGovernor, StepsAreTheKernelsMaskRulesRepeated) {
  Guest guest("target", "cores=8,smt=2,layout=spread");
  for (int i = 0; i < 5; ++i) (void)guest.tick(1000, 500);  // 5 CPUs received of 16
  // Whole cores: 5 CPUs need 3 cores (6 CPUs), taken as the kernel would, one core at a time.
  auto topology = *parse_topology_spec("cores=8,smt=2,layout=spread");
  CpuSet expect = topology.online();
  for (int i = 0; i < 5; ++i) expect = shrink_preferred(expect, topology.online(), topology);
  EXPECT_EQ(format_cpulist(guest.monitor().preferred()), format_cpulist(expect));
  EXPECT_EQ(guest.preferred(), 6U);
}

TEST(TargetGovernor, KeepsTheHousekeepingCore) {
  Guest guest("target", "cores=4,smt=2");
  for (int i = 0; i < 5; ++i) (void)guest.tick(790, 10);
  EXPECT_EQ(format_cpulist(guest.monitor().preferred()), "0-1");
}

TEST(TargetGovernor, HoldsWithoutBusyTime) {
  auto topology = *parse_topology_spec("cores=4,smt=1");
  auto m = *StealMonitor::create(topology, {}, std::move(*make_governor("target")), 100);
  for (std::int64_t i = 0; i < 10; ++i) {
    Step step = m.observe({i * kSecond, static_cast<std::uint64_t>(i) * 300, topology.online()});
    EXPECT_FALSE(step.busy_cpu_bp);
    EXPECT_FALSE(step.changed());
  }
}

TEST(TargetGovernor, RuntimeSwitchStartsFromTheCurrentMask) {
  Guest guest("kernel");
  for (int i = 0; i < 12; ++i) (void)guest.tick(2400, 800);
  ASSERT_EQ(guest.preferred(), 20U);
  guest.monitor().set_governor(std::move(*make_governor("target")));
  unsigned changes = guest.changes();
  // The first interval learns and the next shrink_after-1 build the streak: nothing moves.
  for (int i = 0; i < 3; ++i) {
    Step step = guest.tick(2400, 800);
    EXPECT_EQ(step.preferred.count(), 20U) << "interval " << i;
  }
  EXPECT_EQ(guest.changes(), changes);
  (void)guest.tick(2400, 800);
  EXPECT_EQ(guest.preferred(), 9U);
}

TEST(TargetKnobs, ValidatedWithTheAcceptedRange) {
  Knobs knobs;
  auto zero = set_knob(knobs, "shrink_after", "0");
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message, "shrink_after 0 is out of range: expected 1..100 intervals");
  auto small = set_knob(knobs, "floor_window", "2");
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().message,
            "floor_window 2 is out of range: expected shrink_after (3)..3600 intervals");
  EXPECT_FALSE(set_knob(knobs, "floor_window", "3601"));
  EXPECT_FALSE(set_knob(knobs, "shrink_after", "31")) << "above floor_window 30";
  EXPECT_EQ(knobs, Knobs{});
  EXPECT_TRUE(set_knob(knobs, "floor_window", "120"));
  EXPECT_TRUE(set_knob(knobs, "shrink_after", "5"));
  EXPECT_EQ(knobs.shrink_after, 5U);
  EXPECT_EQ(knobs.floor_window, 120U);
}

}  // namespace
}  // namespace prefcpu
