#include "linux/sysfs_topology.h"

#include <gtest/gtest.h>

#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using testing::FixtureTree;

// An x86-like machine: 2 cores x 2 threads, siblings {0,2} and {1,3}, two nodes.
void x86_sysfs(const FixtureTree& tree) {
  tree.file("devices/system/cpu/online", "0-3\n");
  tree.file("devices/system/cpu/cpu0/topology/thread_siblings_list", "0,2\n");
  tree.file("devices/system/cpu/cpu1/topology/thread_siblings_list", "1,3\n");
  tree.file("devices/system/cpu/cpu2/topology/thread_siblings_list", "0,2\n");
  tree.file("devices/system/cpu/cpu3/topology/thread_siblings_list", "1,3\n");
  tree.file("devices/system/cpu/nohz_full", "(null)\n");
  tree.file("devices/system/cpu/isolated", "\n");
  tree.file("devices/system/node/node0/cpulist", "0,2\n");
  tree.file("devices/system/node/node1/cpulist", "1,3\n");
  tree.file("devices/system/node/online", "0-1\n");
}

TEST(SysfsTopology, ReadsSiblingsNodesAndHousekeeping) {
  FixtureTree tree;
  x86_sysfs(tree);
  tree.file("devices/system/cpu/nohz_full", "3\n");
  RealKernelFs fs;
  auto topo = read_sysfs_topology(fs, tree.root());
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_EQ(format_cpulist(topo->online()), "0-3");
  EXPECT_EQ(format_cpulist(topo->siblings(2)), "0,2");
  EXPECT_EQ(format_cpulist(topo->siblings(1)), "1,3");
  EXPECT_EQ(topo->core_count(), 2U);
  ASSERT_EQ(topo->nodes().size(), 2U);
  EXPECT_EQ(format_cpulist(topo->nodes()[1]), "1,3");
  EXPECT_EQ(format_cpulist(topo->housekeeping()), "0-2");
}

// The bytes of a 6.12 kernel with CONFIG_NO_HZ_FULL=y and no nohz_full= (seen in the VM rig).
TEST(SysfsTopology, PaddedNullNohzFullMeansNone) {
  FixtureTree tree;
  x86_sysfs(tree);
  tree.file("devices/system/cpu/nohz_full", "  (null)\n");
  RealKernelFs fs;
  auto topo = read_sysfs_topology(fs, tree.root());
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_TRUE(topo->nohz_full().empty());
  EXPECT_EQ(format_cpulist(topo->housekeeping()), "0-3");
}

TEST(SysfsTopology, MissingOptionalFilesMeanNone) {
  FixtureTree tree;
  tree.file("devices/system/cpu/online", "0-1\n");
  RealKernelFs fs;
  auto topo = read_sysfs_topology(fs, tree.root());
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_EQ(format_cpulist(topo->siblings(1)), "1");
  EXPECT_TRUE(topo->nohz_full().empty());
  EXPECT_TRUE(topo->nodes().empty());
}

TEST(SysfsTopology, OfflineCpusHaveNoTopologyDirectory) {
  FixtureTree tree;
  x86_sysfs(tree);
  tree.file("devices/system/cpu/online", "0-2\n");
  tree.file("devices/system/cpu/cpu2/topology/thread_siblings_list", "2\n");
  tree.file("devices/system/cpu/cpu0/topology/thread_siblings_list", "0\n");
  RealKernelFs fs;
  auto topo = read_sysfs_topology(fs, tree.root());
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_EQ(format_cpulist(topo->siblings(1)), "1");  // sibling 3 is offline
}

TEST(SysfsTopology, ErrorsNameTheFile) {
  FixtureTree tree;
  RealKernelFs fs;
  auto missing = read_sysfs_topology(fs, tree.root());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("devices/system/cpu/online"), std::string::npos);

  tree.file("devices/system/cpu/online", "0-x\n");
  auto bad = read_sysfs_topology(fs, tree.root());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            (tree.root() / "devices/system/cpu/online").string() +
                ": invalid cpulist \"0-x\n\" at column 3: expected a CPU number");
}

// fuzz_sysfs_topology: a node id indexed a vector, so "node52222222" allocated 53 GB.
TEST(SysfsTopology, ANodeIdBeyondTheKernelsLimitIsAnError) {
  FixtureTree tree;
  x86_sysfs(tree);
  tree.file("devices/system/node/node52222222/cpulist", "0\n");
  RealKernelFs fs;
  auto topology = read_sysfs_topology(fs, tree.root());
  ASSERT_FALSE(topology);
  EXPECT_NE(topology.error().message.find("node id 52222222 is beyond the kernel's limit"),
            std::string::npos)
      << topology.error().message;
  std::filesystem::remove_all(tree.path("devices/system/node/node52222222"));
  tree.file("devices/system/node/node1023/cpulist", "3\n");
  EXPECT_TRUE(read_sysfs_topology(fs, tree.root()));
}

TEST(SysfsTopology, ReadsThisMachine) {
  RealKernelFs fs;
  auto topo = read_sysfs_topology(fs, "/sys");
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_FALSE(topo->online().empty());
  EXPECT_TRUE(topo->online().test(0));
}

}  // namespace
}  // namespace prefcpu
