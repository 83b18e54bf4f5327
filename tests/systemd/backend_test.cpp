#include "linux/systemd/backend.h"

#include <gtest/gtest.h>

#include "daemon/config.h"
#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using testing::FixtureTree;

class BackendTest : public ::testing::Test {
 protected:
  Result<BackendChoice> choose(Backend wanted, const Result<CpusetHierarchy>& hierarchy) {
    return choose_backend(wanted, fs, tree.path("proc"), hierarchy);
  }
  FixtureTree tree;
  RealKernelFs fs;
  CpusetHierarchy v2{CgroupVersion::kV2, "/sys/fs/cgroup"};
  CpusetHierarchy v1{CgroupVersion::kV1, "/sys/fs/cgroup/cpuset"};
};

TEST_F(BackendTest, AutoPicksSystemdWhenPid1IsSystemdOnCgroupV2AndSaysWhy) {
  tree.file("proc/1/comm", "systemd\n");
  auto choice = choose(Backend::kAuto, v2);
  ASSERT_TRUE(choice);
  EXPECT_EQ(choice->backend, Backend::kSystemd);
  EXPECT_EQ(choice->reason,
            "backend = auto: PID 1 is systemd and the cpuset controller is available on cgroup "
            "v2 (/sys/fs/cgroup): setting AllowedCPUs= through systemd");
}

TEST_F(BackendTest, AutoFallsBackToCgroupfsAndSaysWhy) {
  tree.file("proc/1/comm", "init\n");
  auto other_init = choose(Backend::kAuto, v2);
  ASSERT_TRUE(other_init);
  EXPECT_EQ(other_init->backend, Backend::kCgroupfs);
  EXPECT_EQ(other_init->reason,
            "backend = auto: PID 1 is init, not systemd: writing cpuset.cpus directly");
  tree.file("proc/1/comm", "systemd\n");
  auto on_v1 = choose(Backend::kAuto, v1);
  EXPECT_EQ(on_v1->backend, Backend::kCgroupfs);
  EXPECT_NE(on_v1->reason.find("v1 hierarchy"), std::string::npos);
  auto no_cpuset = choose(Backend::kAuto, make_error("no cpuset controller found"));
  EXPECT_EQ(no_cpuset->backend, Backend::kCgroupfs);
  EXPECT_NE(no_cpuset->reason.find("no cpuset controller found"), std::string::npos);
}

TEST_F(BackendTest, SystemdWhereItCannotWorkIsAnError) {
  auto choice = choose(Backend::kSystemd, v2);  // no proc/1/comm at all
  ASSERT_FALSE(choice);
  EXPECT_NE(choice.error().message.find("backend = systemd cannot work here: cannot tell PID 1"),
            std::string::npos);
}

TEST_F(BackendTest, CgroupfsIsAlwaysCgroupfs) {
  tree.file("proc/1/comm", "systemd\n");
  EXPECT_EQ(choose(Backend::kCgroupfs, v2)->backend, Backend::kCgroupfs);
}

TEST(BackendNames, ParseAndPrint) {
  EXPECT_EQ(*parse_backend("systemd"), Backend::kSystemd);
  EXPECT_EQ(backend_name(*parse_backend("cgroupfs")), "cgroupfs");
  auto bad = parse_backend("sytemd");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "backend \"sytemd\" is unknown: expected auto, systemd or cgroupfs");
}

TEST(BackendConfig, TheKeyIsParsedCheckedAndRestartOnly) {
  auto config = parse_config("backend = \"systemd\"\n", "f.toml");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->backend, Backend::kSystemd);
  EXPECT_EQ(Config{}.backend, Backend::kAuto);
  auto bad = parse_config("\nbackend = \"dbus\"\n", "f.toml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "f.toml:2: backend \"dbus\" is unknown: expected auto, systemd or cgroupfs");
  EXPECT_EQ(restart_only_changes(Config{}, *config), std::vector<std::string>{"backend"});
}

}  // namespace
}  // namespace prefcpu
