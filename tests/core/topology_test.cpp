#include "core/topology.h"

#include <gtest/gtest.h>

namespace prefcpu {
namespace {

TEST(TopologySpec, ConsecutiveSiblingsAsOnPowerPC) {
  auto topo = parse_topology_spec("cores=4,smt=2,layout=consecutive");
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_EQ(format_cpulist(topo->online()), "0-7");
  EXPECT_EQ(format_cpulist(topo->siblings(0)), "0-1");
  EXPECT_EQ(format_cpulist(topo->siblings(5)), "4-5");
  EXPECT_EQ(topo->core_count(), 4U);
}

TEST(TopologySpec, SpreadSiblingsAsOnX86) {
  auto topo = parse_topology_spec("cores=4,smt=2,layout=spread");
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_EQ(format_cpulist(topo->siblings(0)), "0,4");
  EXPECT_EQ(format_cpulist(topo->siblings(7)), "3,7");
}

TEST(TopologySpec, DefaultsToConsecutiveAndOneNode) {
  auto topo = parse_topology_spec("cores=3,smt=4");
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_EQ(format_cpulist(topo->siblings(5)), "4-7");
  ASSERT_EQ(topo->nodes().size(), 1U);
  EXPECT_EQ(format_cpulist(topo->nodes()[0]), "0-11");
  EXPECT_EQ(format_cpulist(topo->housekeeping()), "0-11");
}

TEST(TopologySpec, NodesTakeEqualRunsOfCores) {
  auto topo = parse_topology_spec("cores=4,smt=2,layout=spread,nodes=2");
  ASSERT_TRUE(topo) << topo.error().message;
  ASSERT_EQ(topo->nodes().size(), 2U);
  EXPECT_EQ(format_cpulist(topo->nodes()[0]), "0-1,4-5");
  EXPECT_EQ(format_cpulist(topo->nodes()[1]), "2-3,6-7");
  EXPECT_EQ(topo->node_of(6), 1U);
  EXPECT_EQ(topo->node_of(100), std::nullopt);
}

TEST(TopologySpec, RejectsClearly) {
  auto expect_error = [](const char* spec, const char* message) {
    auto topo = parse_topology_spec(spec);
    ASSERT_FALSE(topo) << spec;
    EXPECT_EQ(topo.error().message, message);
  };
  expect_error("smt=2", "invalid topology \"smt=2\": cores=C is required");
  expect_error("cores=0", "invalid topology \"cores=0\": cores=\"0\", expected a positive integer");
  expect_error("cores=4,layout=zigzag",
               "invalid topology \"cores=4,layout=zigzag\": layout=\"zigzag\", expected "
               "\"consecutive\" or \"spread\"");
  expect_error("cores=4,threads=2",
               "invalid topology \"cores=4,threads=2\": unknown key \"threads\", expected cores, "
               "smt, layout or nodes");
  expect_error("cores=4096,smt=4",
               "invalid topology \"cores=4096,smt=4\": 16384 CPUs, at most 8192 are supported");
  expect_error(
      "cores=2,nodes=3",
      "invalid topology \"cores=2,nodes=3\": 3 nodes for 2 cores, expected nodes <= cores");
  expect_error("cores",
               "invalid topology \"cores\": \"cores\", expected key=value with keys "
               "cores, smt, layout, nodes");
}

TEST(Topology, UnknownCpuIsItsOwnCore) {
  Topology topo;
  EXPECT_EQ(format_cpulist(topo.siblings(9)), "9");
}

TEST(Topology, HousekeepingExcludesNohzFullAndIsolated) {
  TopologyInput input;
  input.online = CpuSet::range(0, 7);
  input.nohz_full = CpuSet::range(1, 3);
  input.isolated = CpuSet{7};
  auto topo = Topology::build(input);
  ASSERT_TRUE(topo);
  EXPECT_EQ(format_cpulist(topo->housekeeping()), "0,4-6");
}

TEST(Topology, DuplicateSiblingListsAreMergedButConflictsRejected) {
  TopologyInput input;
  input.online = CpuSet::range(0, 3);
  input.cores = {CpuSet{0, 1}, CpuSet{0, 1}, CpuSet{2, 3}};
  auto topo = Topology::build(input);
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_EQ(topo->core_count(), 2U);

  input.cores = {CpuSet{0, 1}, CpuSet{1, 2}};
  auto bad = Topology::build(input);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "inconsistent topology: CPU 1 is in cores \"0-1\" and \"1-2\"");
}

TEST(Topology, WithOnlineKeepsCores) {
  auto topo = parse_topology_spec("cores=2,smt=2");
  ASSERT_TRUE(topo);
  Topology fewer = topo->with_online(CpuSet{0, 1, 2});
  EXPECT_EQ(format_cpulist(fewer.online()), "0-2");
  EXPECT_EQ(format_cpulist(fewer.siblings(2)), "2-3");
}

}  // namespace
}  // namespace prefcpu
