// NUMA splicing (docs/policy.md): which node a shrink takes from and a grow adds to, per mode.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/mask_rules.h"
#include "core/steal_monitor.h"
#include "support/cpus.h"

namespace prefcpu {
namespace {

constexpr NumaMode kModes[] = {NumaMode::kOff, NumaMode::kBalance, NumaMode::kPack};

using testing::cpus;
using testing::topology;

// `base`'s cores, with the given online CPUs, node cpulists and nohz_full CPUs.
Topology rebuilt_sets(const Topology& base, const char* online, const std::vector<CpuSet>& nodes,
                      const char* nohz_full = "") {
  TopologyInput input;
  input.online = cpus(online);
  input.cores = base.cores();
  input.nohz_full = cpus(nohz_full);
  input.nodes = nodes;
  auto topo = Topology::build(input);
  EXPECT_TRUE(topo);
  return *topo;
}

Topology rebuilt(const Topology& base, const char* online, const std::vector<const char*>& nodes,
                 const char* nohz_full = "") {
  std::vector<CpuSet> sets;
  sets.reserve(nodes.size());
  for (const char* node : nodes) sets.push_back(cpus(node));
  return rebuilt_sets(base, online, sets, nohz_full);
}

// Shrinks from all online CPUs until nothing moves; each mask on the way, the last included.
std::vector<std::string> shrink_all(const Topology& topo, NumaMode numa) {
  std::vector<std::string> seen;
  CpuSet preferred = topo.online();
  while (true) {
    CpuSet next = shrink_preferred(preferred, topo.online(), topo, numa);
    if (next == preferred) return seen;
    preferred = next;
    seen.push_back(format_cpulist(preferred));
  }
}

// Grows from `from` until nothing moves.
std::vector<std::string> grow_all(const Topology& topo, const char* from, NumaMode numa) {
  std::vector<std::string> seen;
  CpuSet preferred = cpus(from);
  while (true) {
    CpuSet next = grow_preferred(preferred, topo.online(), topo, numa);
    if (next == preferred) return seen;
    preferred = next;
    seen.push_back(format_cpulist(preferred));
  }
}

using Seq = std::vector<std::string>;

// The VM rig's guest: node 0 = CPUs 0-3, node 1 = CPUs 4-7, siblings consecutive.
TEST(NumaSplice, TwoEqualNodesBalanceAlternatesAndPackEmptiesTheHighNode) {
  Topology topo = topology("cores=4,smt=2,nodes=2");
  EXPECT_EQ(shrink_all(topo, NumaMode::kOff), (Seq{"0-5", "0-3", "0-1"}));
  EXPECT_EQ(shrink_all(topo, NumaMode::kBalance), (Seq{"0-5", "0-1,4-5", "0-1"}));
  EXPECT_EQ(shrink_all(topo, NumaMode::kPack), (Seq{"0-5", "0-3", "0-1"}));
  // Grow mirrors shrink: the same masks in reverse order.
  EXPECT_EQ(grow_all(topo, "0-1", NumaMode::kBalance), (Seq{"0-1,4-5", "0-5", "0-7"}));
  EXPECT_EQ(grow_all(topo, "0-1", NumaMode::kPack), (Seq{"0-3", "0-5", "0-7"}));
}

TEST(NumaSplice, UnequalNodesPackTakesTheSmallerNodeFirst) {
  // Node 0: cores 0-1, 2-3 (housekeeping 0-1); node 1: cores 4-5, 6-7, 8-9.
  Topology topo = rebuilt(topology("cores=5,smt=2"), "0-9", {"0-3", "4-9"});
  EXPECT_EQ(shrink_all(topo, NumaMode::kOff), (Seq{"0-7", "0-5", "0-3", "0-1"}));
  EXPECT_EQ(shrink_all(topo, NumaMode::kPack), (Seq{"0-1,4-9", "0-1,4-7", "0-1,4-5", "0-1"}));
  // Balance: node 1 has 3 cores to node 0's 2; then 2 and 2 (tie: the higher node); then node 0.
  EXPECT_EQ(shrink_all(topo, NumaMode::kBalance), (Seq{"0-7", "0-5", "0-1,4-5", "0-1"}));
  EXPECT_EQ(grow_all(topo, "0-1", NumaMode::kBalance), (Seq{"0-1,4-5", "0-5", "0-7", "0-9"}));
  EXPECT_EQ(grow_all(topo, "0-1", NumaMode::kPack), (Seq{"0-3", "0-5", "0-7", "0-9"}));
  // Pack grow fills the node with the most preferred cores that is not full.
  EXPECT_EQ(grow_all(topo, "0-1,4-7", NumaMode::kPack), (Seq{"0-1,4-9", "0-9"}));
  EXPECT_EQ(grow_all(topo, "0-1,4-7", NumaMode::kOff), (Seq{"0-7", "0-9"}));
}

TEST(NumaSplice, ThreeNodesBalanceKeepsCountsWithinOne) {
  Topology topo = topology("cores=6,smt=1,nodes=3");  // nodes 0-1, 2-3, 4-5
  EXPECT_EQ(shrink_all(topo, NumaMode::kBalance), (Seq{"0-4", "0-2,4", "0,2,4", "0,2", "0"}));
  EXPECT_EQ(grow_all(topo, "0", NumaMode::kBalance), (Seq{"0,2", "0,2,4", "0-2,4", "0-4", "0-5"}));
  EXPECT_EQ(shrink_all(topo, NumaMode::kPack), (Seq{"0-4", "0-3", "0-2", "0-1", "0"}));
  EXPECT_EQ(grow_all(topo, "0", NumaMode::kPack), (Seq{"0-1", "0-2", "0-3", "0-4", "0-5"}));
  // Pack refills the fuller of partial nodes first (ties: the lower node), not the lowest CPU.
  Topology nine = topology("cores=9,smt=1,nodes=3");  // nodes 0-2, 3-5, 6-8
  EXPECT_EQ(grow_all(nine, "0,3,6-7", NumaMode::kPack),
            (Seq{"0,3,6-8", "0-1,3,6-8", "0-3,6-8", "0-4,6-8", "0-8"}));
}

TEST(NumaSplice, HousekeepingCoreStaysOnItsNodeInEveryMode) {
  // nohz_full=0-1: the protected core is 2-3 (node 0); node 1 is 4-7.
  Topology topo = rebuilt(topology("cores=4,smt=2"), "0-7", {"0-3", "4-7"}, "0-1");
  EXPECT_EQ(shrink_all(topo, NumaMode::kOff), (Seq{"0-5", "0-3", "2-3"}));
  EXPECT_EQ(shrink_all(topo, NumaMode::kBalance), (Seq{"0-5", "2-5", "2-3"}));
  EXPECT_EQ(shrink_all(topo, NumaMode::kPack), (Seq{"0-5", "0-3", "2-3"}));
  // Housekeeping on node 1 (nohz_full 0-3): pack's grow refills node 1 before node 0.
  Topology high = rebuilt(topology("cores=4,smt=2"), "0-7", {"0-3", "4-7"}, "0-3");
  for (NumaMode mode : kModes) {
    auto seq = shrink_all(high, mode);
    ASSERT_FALSE(seq.empty());
    EXPECT_EQ(seq.back(), "4-5") << numa_mode_name(mode);
  }
  EXPECT_EQ(grow_all(high, "4-5", NumaMode::kPack), (Seq{"4-7", "0-1,4-7", "0-7"}));
  EXPECT_EQ(grow_all(high, "4-5", NumaMode::kOff), (Seq{"0-1,4-5", "0-5", "0-7"}));
  // No housekeeping CPU preferred: nothing moves, as the kernel's rule.
  Topology none = rebuilt(topology("cores=4,smt=2"), "0-7", {"0-3", "4-7"}, "0-7");
  for (NumaMode mode : kModes) EXPECT_TRUE(shrink_all(none, mode).empty());
}

TEST(NumaSplice, SpreadSiblingsAndOfflineCpus) {
  // x86 numbering: core k = {k, k+4}; node 0 = cores 0-1, node 1 = cores 2-3.
  Topology spread = topology("cores=4,smt=2,layout=spread,nodes=2");
  EXPECT_EQ(shrink_all(spread, NumaMode::kBalance), (Seq{"0-2,4-6", "0,2,4,6", "0,4"}));
  // CPU 6 offline: core 2-6 keeps CPU 2, and grow adds online siblings only.
  Topology part = rebuilt_sets(spread, "0-5,7", spread.nodes());
  EXPECT_EQ(grow_all(part, "0,4", NumaMode::kBalance), (Seq{"0,2,4", "0-2,4-5", "0-5,7"}));
  // Core 4-5 offline on node 1 of the rig's topology: node 1 has one core to node 0's two.
  Topology rig = topology("cores=4,smt=2,nodes=2");
  Topology hot = rebuilt(rig, "0-3,6-7", {"0-3", "4-7"});
  EXPECT_EQ(shrink_all(hot, NumaMode::kBalance), (Seq{"0-1,6-7", "0-1"}));
  EXPECT_EQ(shrink_all(hot, NumaMode::kPack), (Seq{"0-3", "0-1"}));
}

TEST(NumaSplice, CpulessNodesAndMissingNodeInfo) {
  Topology rig = topology("cores=4,smt=2,nodes=2");
  // A CPU-less (or memory-only) node between the two is never chosen.
  Topology gap = rebuilt(rig, "0-7", {"0-3", "", "4-7"});
  for (NumaMode mode : kModes) {
    Topology plain = rebuilt(rig, "0-7", {"0-3", "4-7"});
    EXPECT_EQ(shrink_all(gap, mode), shrink_all(plain, mode)) << numa_mode_name(mode);
    EXPECT_EQ(grow_all(gap, "0-1", mode), grow_all(plain, "0-1", mode)) << numa_mode_name(mode);
  }
  // No node info, or a CPU in no node: the kernel's rule.
  Topology bare = rebuilt(rig, "0-7", {});
  Topology partial = rebuilt(rig, "0-7", {"0-3"});
  for (NumaMode mode : kModes) {
    EXPECT_EQ(shrink_all(bare, mode), (Seq{"0-5", "0-3", "0-1"}));
    EXPECT_EQ(shrink_all(partial, mode), (Seq{"0-5", "0-3", "0-1"}));
    EXPECT_EQ(grow_all(bare, "0-1", mode), (Seq{"0-3", "0-5", "0-7"}));
  }
}

// One node: every mode is the kernel's rule, for every preferred mask of an 8-CPU SMT guest,
// with and without nohz_full, offline CPUs, either numbering.
TEST(NumaSplice, OneNodeEveryModeEqualsOffOnEveryMask) {
  std::vector<Topology> topologies;
  for (const char* text : {"cores=4,smt=2,nodes=1", "cores=4,smt=2,layout=spread,nodes=1"}) {
    Topology base = topology(text);
    topologies.push_back(base);
    topologies.push_back(rebuilt(base, "0-7", {"0-7"}, "0"));
    topologies.push_back(rebuilt(base, "0-2,4-7", {"0-7"}));
  }
  for (const Topology& topo : topologies) {
    for (unsigned bits = 1; bits < 256; ++bits) {
      CpuSet preferred;
      for (unsigned cpu = 0; cpu < 8; ++cpu) {
        if ((bits >> cpu & 1U) != 0) preferred.set(cpu);
      }
      preferred = within_online(preferred, topo.online());
      CpuSet off_shrink = shrink_preferred(preferred, topo.online(), topo);
      CpuSet off_grow = grow_preferred(preferred, topo.online(), topo);
      for (NumaMode mode : kModes) {
        EXPECT_EQ(shrink_preferred(preferred, topo.online(), topo, mode), off_shrink);
        EXPECT_EQ(grow_preferred(preferred, topo.online(), topo, mode), off_grow);
      }
    }
  }
}

// Every mode keeps the housekeeping core and one-core steps; shrink then grow visits the same
// masks in reverse on nodes of equal size.
TEST(NumaSplice, EveryModeMovesOneCoreAndKeepsTheProtectedCore) {
  Topology topo = topology("cores=16,smt=2,nodes=4");
  for (NumaMode mode : kModes) {
    CpuSet preferred = topo.online();
    std::vector<CpuSet> down{preferred};
    while (true) {
      CpuSet next = shrink_preferred(preferred, topo.online(), topo, mode);
      if (next == preferred) break;
      CpuSet gone = preferred - next;
      EXPECT_EQ(gone, topo.siblings(*gone.first())) << numa_mode_name(mode);
      preferred = next;
      down.push_back(preferred);
    }
    EXPECT_EQ(preferred, cpus("0-1")) << numa_mode_name(mode);
    for (auto it = down.rbegin() + 1; it != down.rend(); ++it) {
      preferred = grow_preferred(preferred, topo.online(), topo, mode);
      EXPECT_EQ(format_cpulist(preferred), format_cpulist(*it)) << numa_mode_name(mode);
    }
  }
}

// The target governor's multi-step plan goes through the same splice, step by step.
class FixedTarget final : public Governor {
 public:
  explicit FixedTarget(unsigned target) : target_(target) {}
  std::string_view name() const override { return "fixed"; }
  Decision decide(std::uint64_t /*steal_bp*/, const Knobs& /*knobs*/) override {
    return Decision::kHold;
  }
  Plan plan(const Interval& /*interval*/, const Knobs& /*knobs*/) override {
    return {Decision::kHold, target_};
  }

 private:
  unsigned target_;
};

TEST(NumaSplice, PlannedCountsSpliceStepByStep) {
  Topology topo = topology("cores=8,smt=1,nodes=2");  // node 0 = 0-3, node 1 = 4-7
  for (NumaMode mode : kModes) {
    Knobs knobs;
    knobs.numa = mode;
    auto monitor = StealMonitor::create(topo, knobs, std::make_unique<FixedTarget>(3), 100);
    ASSERT_TRUE(monitor);
    CpuSet online = topo.online();
    monitor->observe({1'000'000'000, 0, online});
    Step step = monitor->observe({2'000'000'000, 0, online});
    CpuSet expected = online;
    while (expected.count() > 3) expected = shrink_preferred(expected, online, topo, mode);
    EXPECT_EQ(step.action, Action::kShrink);
    EXPECT_EQ(format_cpulist(step.preferred), format_cpulist(expected)) << numa_mode_name(mode);
  }
  // Balance ends with two CPUs on node 0 and one on node 1; pack on node 0 only.
  Knobs balance;
  balance.numa = NumaMode::kBalance;
  auto monitor = StealMonitor::create(topo, balance, std::make_unique<FixedTarget>(3), 100);
  ASSERT_TRUE(monitor);
  monitor->observe({1'000'000'000, 0, topo.online()});
  EXPECT_EQ(format_cpulist(monitor->observe({2'000'000'000, 0, topo.online()}).preferred), "0-1,4");
}

}  // namespace
}  // namespace prefcpu
