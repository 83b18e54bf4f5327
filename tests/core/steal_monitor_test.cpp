#include "core/steal_monitor.h"

#include <gtest/gtest.h>

namespace prefcpu {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

CpuSet list(const char* text) {
  return *parse_cpulist(text);
}

StealMonitor monitor(const char* topo_spec, const char* governor = "kernel", Knobs knobs = {}) {
  auto topo = parse_topology_spec(topo_spec);
  EXPECT_TRUE(topo);
  auto gov = make_governor(governor);
  EXPECT_TRUE(gov);
  auto made = StealMonitor::create(*topo, knobs, std::move(*gov), 100);
  EXPECT_TRUE(made) << (made ? "" : made.error().message);
  return std::move(*made);
}

// Steal ticks that give `bp` basis points over one second on `cpus` CPUs at USER_HZ 100.
std::uint64_t ticks_for(std::uint64_t bp, unsigned cpus) {
  return bp * cpus / 100;
}

TEST(StealMonitor, BaselineStartsFromAllOnlineCpus) {
  auto m = monitor("cores=4,smt=2");
  Step step = m.observe({0, 0, list("0-7")});
  EXPECT_EQ(step.action, Action::kBaseline);
  EXPECT_FALSE(step.steal_bp);
  EXPECT_EQ(format_cpulist(step.preferred), "0-7");
  EXPECT_FALSE(step.changed());
}

TEST(StealMonitor, ShrinksOneCorePerSampleThenGrowsBack) {
  auto m = monitor("cores=4,smt=2");
  std::uint64_t steal = 0;
  (void)m.observe({0, steal, list("0-7")});
  steal += ticks_for(1000, 8);
  Step s1 = m.observe({kSecond, steal, list("0-7")});
  EXPECT_EQ(s1.action, Action::kShrink);
  EXPECT_EQ(s1.steal_bp, 1000U);
  EXPECT_EQ(format_cpulist(s1.preferred), "0-5");
  EXPECT_EQ(format_cpulist(s1.removed), "6-7");
  EXPECT_TRUE(s1.added.empty());

  steal += ticks_for(300, 8);  // middle band
  Step s2 = m.observe({2 * kSecond, steal, list("0-7")});
  EXPECT_EQ(s2.action, Action::kHold);
  EXPECT_EQ(format_cpulist(s2.preferred), "0-5");

  Step s3 = m.observe({3 * kSecond, steal, list("0-7")});  // no new steal
  EXPECT_EQ(s3.action, Action::kGrow);
  EXPECT_EQ(s3.steal_bp, 0U);
  EXPECT_EQ(format_cpulist(s3.preferred), "0-7");
  EXPECT_EQ(format_cpulist(s3.added), "6-7");
}

TEST(StealMonitor, ActionIsTheDecisionEvenWhenTheMaskCannotChange) {
  auto m = monitor("cores=1,smt=2");
  (void)m.observe({0, 0, list("0-1")});
  Step step = m.observe({kSecond, ticks_for(5000, 2), list("0-1")});
  EXPECT_EQ(step.action, Action::kShrink);
  EXPECT_FALSE(step.changed());
  Step grow = m.observe({2 * kSecond, ticks_for(5000, 2), list("0-1")});
  EXPECT_EQ(grow.action, Action::kGrow);
  EXPECT_FALSE(grow.changed());
}

TEST(StealMonitor, SkippedSampleStillFollowsHotplug) {
  auto m = monitor("cores=4,smt=1");
  (void)m.observe({0, 0, list("0-3")});
  Step skip = m.observe({kSecond / 2000, 0, list("0-2")});  // 0.5 ms later, CPU 3 gone
  EXPECT_EQ(skip.action, Action::kSkip);
  EXPECT_FALSE(skip.steal_bp);
  EXPECT_EQ(format_cpulist(skip.preferred), "0-2");
  EXPECT_EQ(format_cpulist(skip.removed), "3");
}

TEST(StealMonitor, HotplugOfTheLastPreferredCoreFallsBackToOnline) {
  auto m = monitor("cores=4,smt=1");
  std::uint64_t steal = 0;
  (void)m.observe({0, steal, list("0-3")});
  for (int i = 1; i <= 3; ++i) {
    steal += ticks_for(2000, 4);
    (void)m.observe({i * kSecond, steal, list("0-3")});
  }
  ASSERT_EQ(format_cpulist(m.preferred()), "0");
  // CPU 0 goes offline with steal still high: preferred falls back to online, then shrinks.
  steal += ticks_for(2000, 3);
  Step step = m.observe({4 * kSecond, steal, list("1-3")});
  EXPECT_EQ(step.action, Action::kShrink);
  EXPECT_EQ(format_cpulist(step.preferred), "1-2");
}

TEST(StealMonitor, KernelV2WaitsForASecondSample) {
  auto m = monitor("cores=4,smt=1", "kernel-v2");
  std::uint64_t steal = 0;
  (void)m.observe({0, steal, list("0-3")});
  steal += ticks_for(1000, 4);
  EXPECT_EQ(m.observe({kSecond, steal, list("0-3")}).action, Action::kHold);
  steal += ticks_for(1000, 4);
  EXPECT_EQ(m.observe({2 * kSecond, steal, list("0-3")}).action, Action::kShrink);
}

TEST(StealMonitor, CustomMaskTurnsTheMonitorOffUntilCleared) {
  auto m = monitor("cores=4,smt=1");
  (void)m.observe({0, 0, list("0-3")});
  ASSERT_TRUE(m.set_custom_preferred(list("1-2")));
  EXPECT_FALSE(m.automatic());
  EXPECT_EQ(format_cpulist(m.preferred()), "1-2");
  Step step = m.observe({kSecond, ticks_for(5000, 4), list("0-3")});
  EXPECT_EQ(step.action, Action::kManual);
  EXPECT_EQ(step.steal_bp, 5000U);
  EXPECT_EQ(format_cpulist(step.preferred), "1-2");
  // Hotplug still applies to the custom mask.
  Step gone = m.observe({2 * kSecond, ticks_for(5000, 4), list("0-1,3")});
  EXPECT_EQ(format_cpulist(gone.preferred), "1");
  m.clear_custom_preferred();
  EXPECT_TRUE(m.automatic());
  EXPECT_EQ(format_cpulist(m.preferred()), "0-1,3");
}

TEST(StealMonitor, CustomMaskIsValidated) {
  auto m = monitor("cores=4,smt=1");
  (void)m.observe({0, 0, list("0-3")});
  auto empty = m.set_custom_preferred(CpuSet{});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message,
            "custom preferred mask is empty: expected at least one online CPU (or --auto to go "
            "back to the monitor)");
  auto offline = m.set_custom_preferred(list("2-5"));
  ASSERT_FALSE(offline);
  EXPECT_EQ(offline.error().message,
            "custom preferred mask \"2-5\" includes CPUs that are not online (\"4-5\"): expected "
            "a subset of online \"0-3\"");
  EXPECT_TRUE(m.automatic());
  EXPECT_EQ(format_cpulist(m.preferred()), "0-3");
}

TEST(StealMonitor, ClearingTheCustomMaskResetsTheGovernor) {
  auto m = monitor("cores=4,smt=1", "kernel-v2");
  (void)m.observe({0, 0, list("0-3")});
  std::uint64_t steal = ticks_for(900, 4);
  EXPECT_EQ(m.observe({kSecond, steal, list("0-3")}).action, Action::kHold);  // one high sample
  ASSERT_TRUE(m.set_custom_preferred(list("1")));
  m.clear_custom_preferred();
  steal += ticks_for(900, 4);
  auto step = m.observe({2 * kSecond, steal, list("0-3")});
  EXPECT_EQ(step.action, Action::kHold) << "the high sample before the custom mask is forgotten";
  EXPECT_EQ(format_cpulist(step.preferred), "0-3");
}

TEST(StealMonitor, ImplausibleSamplesAreSkipsWithAReasonWhenAsked) {
  auto m = monitor("cores=4,smt=1");
  m.reject_implausible(true);
  (void)m.observe({0, 1000, list("0-3")});
  auto back = m.observe({kSecond, 500, list("0-3")});
  EXPECT_EQ(back.action, Action::kSkip);
  EXPECT_EQ(back.skip_reason, "steal went back from 1000 to 500 ticks");
  EXPECT_FALSE(back.steal_bp.has_value());
  auto jump = m.observe({2 * kSecond, 1000, list("0-3")});
  EXPECT_EQ(jump.action, Action::kSkip);
  EXPECT_EQ(jump.skip_reason,
            "steal_bp 12500 is more than all the time of 4 online CPUs (10000, plus 100 for tick "
            "rounding)");
  EXPECT_EQ(format_cpulist(jump.preferred), "0-3");
  EXPECT_EQ(m.observe({3 * kSecond, 1000 + ticks_for(10100, 4), list("0-3")}).action,
            Action::kShrink)
      << "all of the time plus one tick per CPU is still believed";
}

TEST(StealMonitor, KnobsChangeAtRuntimeWithValidation) {
  auto m = monitor("cores=4,smt=1");
  (void)m.observe({0, 0, list("0-3")});
  EXPECT_FALSE(m.set_knobs({1000, 100, 200}));
  EXPECT_EQ(m.knobs(), Knobs{});
  ASSERT_TRUE(m.set_knobs({100, 200, 100}));
  Step step = m.observe({kSecond, ticks_for(250, 4), list("0-3")});
  EXPECT_EQ(step.action, Action::kShrink);  // 250 > new high 200
}

TEST(StealMonitor, GovernorCanBeSwappedAtRuntime) {
  auto m = monitor("cores=4,smt=1");
  (void)m.observe({0, 0, list("0-3")});
  m.set_governor(std::move(*make_governor("none")));
  EXPECT_EQ(m.governor().name(), "none");
  EXPECT_EQ(m.observe({kSecond, ticks_for(5000, 4), list("0-3")}).action, Action::kHold);
}

TEST(StealMonitor, RejectsInvalidConstruction) {
  auto topo = parse_topology_spec("cores=1");
  auto bad_knobs =
      StealMonitor::create(*topo, {50, 500, 200}, std::move(*make_governor("kernel")), 100);
  ASSERT_FALSE(bad_knobs);
  EXPECT_EQ(bad_knobs.error().message, "interval_ms 50 is out of range: expected 100..100000");
  auto no_gov = StealMonitor::create(*topo, {}, nullptr, 100);
  EXPECT_FALSE(no_gov);
  auto bad_hz = StealMonitor::create(*topo, {}, std::move(*make_governor("kernel")), 0);
  EXPECT_FALSE(bad_hz);
}

TEST(ActionName, MatchesTheReplayVocabulary) {
  EXPECT_EQ(action_name(Action::kBaseline), "baseline");
  EXPECT_EQ(action_name(Action::kShrink), "shrink");
  EXPECT_EQ(action_name(Action::kGrow), "grow");
  EXPECT_EQ(action_name(Action::kHold), "hold");
  EXPECT_EQ(action_name(Action::kSkip), "skip");
  EXPECT_EQ(action_name(Action::kManual), "manual");
  EXPECT_EQ(action_name(Action::kAuto), "auto");
  EXPECT_EQ(action_name(Action::kIdle), "idle");
  EXPECT_EQ(action_name(Action::kMirror), "mirror");
  EXPECT_EQ(action_name(Action::kError), "error");
}

}  // namespace
}  // namespace prefcpu
