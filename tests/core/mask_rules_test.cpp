#include "core/mask_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace prefcpu {
namespace {

CpuSet list(const char* text) {
  auto set = parse_cpulist(text);
  EXPECT_TRUE(set) << text;
  return *set;
}

Topology spec(const char* text) {
  auto topo = parse_topology_spec(text);
  EXPECT_TRUE(topo) << text;
  return *topo;
}

Topology with_housekeeping(const char* spec_text, const char* nohz_full, const char* isolated) {
  Topology base = spec(spec_text);
  TopologyInput input;
  input.online = base.online();
  input.cores = base.cores();
  input.nohz_full = list(nohz_full);
  input.isolated = list(isolated);
  auto topo = Topology::build(input);
  EXPECT_TRUE(topo);
  return *topo;
}

// Shrinks repeatedly from all online CPUs and returns each successive preferred mask.
std::vector<std::string> shrink_sequence(const Topology& topo, int steps) {
  std::vector<std::string> seen;
  CpuSet preferred = topo.online();
  for (int i = 0; i < steps; ++i) {
    preferred = shrink_preferred(preferred, topo.online(), topo);
    seen.push_back(format_cpulist(preferred));
  }
  return seen;
}

TEST(ShrinkPreferred, ConsecutiveSiblingsPeelTheHighestCore) {
  EXPECT_EQ(shrink_sequence(spec("cores=4,smt=2"), 4),
            (std::vector<std::string>{"0-5", "0-3", "0-1", "0-1"}));
}

TEST(ShrinkPreferred, SpreadSiblingsRemoveBothThreadsOfTheCore) {
  EXPECT_EQ(shrink_sequence(spec("cores=4,smt=2,layout=spread"), 4),
            (std::vector<std::string>{"0-2,4-6", "0-1,4-5", "0,4", "0,4"}));
}

TEST(ShrinkPreferred, NoSmtRemovesOneCpu) {
  EXPECT_EQ(shrink_sequence(spec("cores=3,smt=1"), 3), (std::vector<std::string>{"0-1", "0", "0"}));
}

TEST(ShrinkPreferred, ProtectedCoreWhenCpuZeroIsNohzFull) {
  // CPUs 0-1 are nohz_full: the first housekeeping preferred CPU is 2, so core 2-3 is kept and
  // core 0-1 is removed in its turn.
  Topology topo = with_housekeeping("cores=4,smt=2", "0-1", "");
  EXPECT_EQ(shrink_sequence(topo, 4), (std::vector<std::string>{"0-5", "0-3", "2-3", "2-3"}));
}

TEST(ShrinkPreferred, NohzFullAtTheEndIsRemovedFirst) {
  // kernel v6: "Don't assume housekeeping core is always at beginning".
  Topology topo = with_housekeeping("cores=4,smt=2", "6-7", "");
  EXPECT_EQ(shrink_sequence(topo, 2), (std::vector<std::string>{"0-5", "0-3"}));
}

TEST(ShrinkPreferred, IsolatedCpusAreNotHousekeeping) {
  Topology topo = with_housekeeping("cores=2,smt=1", "", "0");
  EXPECT_EQ(shrink_sequence(topo, 2), (std::vector<std::string>{"1", "1"}));
}

TEST(ShrinkPreferred, NothingHappensWithoutAHousekeepingPreferredCpu) {
  Topology topo = with_housekeeping("cores=4,smt=1", "0-1", "");
  CpuSet preferred = list("0-1");
  EXPECT_EQ(shrink_preferred(preferred, topo.online(), topo), preferred);
}

TEST(ShrinkPreferred, TargetIsTheHighestPreferredCpuNotTheHighestOnline) {
  Topology topo = spec("cores=4,smt=2");
  EXPECT_EQ(format_cpulist(shrink_preferred(list("0-1,4-5"), topo.online(), topo)), "0-1");
}

TEST(ShrinkPreferred, EightThousandCpus) {
  Topology topo = spec("cores=4096,smt=2,layout=spread");
  CpuSet after = shrink_preferred(topo.online(), topo.online(), topo);
  EXPECT_EQ(format_cpulist(after), "0-4094,4096-8190");
}

TEST(GrowPreferred, AddsTheLowestMissingCore) {
  Topology topo = spec("cores=4,smt=2,layout=spread");
  EXPECT_EQ(format_cpulist(grow_preferred(list("0-1,4-5"), topo.online(), topo)), "0-2,4-6");
  // Not LIFO when the holes are not at the top: the lowest missing CPU decides.
  EXPECT_EQ(format_cpulist(grow_preferred(list("0,2-4,6-7"), topo.online(), topo)), "0-7");
}

TEST(GrowPreferred, SkipsOfflineSiblings) {
  Topology topo = spec("cores=4,smt=2");
  CpuSet online = list("0-6");  // CPU 7 went offline
  EXPECT_EQ(format_cpulist(grow_preferred(list("0-5"), online, topo)), "0-6");
}

TEST(GrowPreferred, FullMaskIsUnchanged) {
  Topology topo = spec("cores=2,smt=2");
  EXPECT_EQ(grow_preferred(topo.online(), topo.online(), topo), topo.online());
}

TEST(GrowPreferred, UndoesShrinkOnContiguousNumbering) {
  Topology topo = spec("cores=8,smt=2");
  CpuSet preferred = topo.online();
  std::vector<CpuSet> down;
  for (int i = 0; i < 7; ++i) {
    down.push_back(preferred);
    preferred = shrink_preferred(preferred, topo.online(), topo);
  }
  for (auto it = down.rbegin(); it != down.rend(); ++it) {
    preferred = grow_preferred(preferred, topo.online(), topo);
    EXPECT_EQ(preferred, *it);
  }
}

TEST(FollowHotplug, APreferredCpuGoesOffline) {
  EXPECT_EQ(format_cpulist(follow_hotplug(list("0-3"), list("0-2,4-7"), list("0-7"))), "0-2");
}

TEST(FollowHotplug, ANewCpuIsPreferredOnArrival) {
  EXPECT_EQ(format_cpulist(follow_hotplug(list("0-3"), list("0-8"), list("0-7"))), "0-3,8");
}

TEST(FollowHotplug, ANonPreferredCpuComingBackIsPreferred) {
  // online - previous_online: CPU 7 was offline in the previous sample.
  EXPECT_EQ(format_cpulist(follow_hotplug(list("0-3"), list("0-7"), list("0-6"))), "0-3,7");
}

TEST(FollowHotplug, LastPreferredCoreGoingOfflineFallsBackToOnline) {
  EXPECT_EQ(format_cpulist(follow_hotplug(list("0-1"), list("2-7"), list("0-7"))), "2-7");
}

TEST(FollowHotplug, NoChangeIsIdentity) {
  EXPECT_EQ(format_cpulist(follow_hotplug(list("0-3"), list("0-7"), list("0-7"))), "0-3");
}

TEST(WithinOnline, KeepsTheOnlinePartAndIsNeverEmpty) {
  EXPECT_EQ(format_cpulist(within_online(*parse_cpulist("1-5"), *parse_cpulist("0-3"))), "1-3");
  EXPECT_EQ(format_cpulist(within_online(*parse_cpulist("7"), *parse_cpulist("0-3"))), "0-3");
  EXPECT_EQ(format_cpulist(within_online(CpuSet{}, *parse_cpulist("0-3"))), "0-3");
}

TEST(CheckCustomPreferred, NeedsANonEmptyOnlineMask) {
  auto online = *parse_cpulist("0-3");
  EXPECT_TRUE(check_custom_preferred(*parse_cpulist("1-2"), online));
  EXPECT_FALSE(check_custom_preferred(CpuSet{}, online));
  auto offline = check_custom_preferred(*parse_cpulist("3-4"), online);
  ASSERT_FALSE(offline);
  EXPECT_EQ(offline.error().message,
            "custom preferred mask \"3-4\" includes CPUs that are not online (\"4\"): expected "
            "a subset of online \"0-3\"");
}

}  // namespace
}  // namespace prefcpu
