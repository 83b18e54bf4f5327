// Pure parsers and rules of the cpuset backend: mountinfo, /proc/PID files, write planning.
#include <gtest/gtest.h>

#include "linux/cgroup/cpuset_plan.h"
#include "linux/cgroup/mountinfo.h"
#include "linux/cgroup/task_probe.h"
#include "support/cpus.h"
#include "support/fixture_tree.h"

namespace prefcpu::testing {
namespace {

// This machine type: cgroup v1 controllers beside an empty v2 "unified" mount.
constexpr std::string_view kHybrid =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(Mountinfo, ParsesFieldsAndOptionalTags) {
  auto mounts = parse_mountinfo(
      "36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 shared:2 - ext3 /dev/root "
      "rw,errors=continue\n");
  ASSERT_TRUE(mounts.ok()) << mounts.error().message;
  ASSERT_EQ(mounts->size(), 1U);
  EXPECT_EQ((*mounts)[0].mount_point, "/mnt two");
  EXPECT_EQ((*mounts)[0].fstype, "ext3");
  EXPECT_EQ((*mounts)[0].super_options, "rw,errors=continue");
}

TEST(Mountinfo, RejectsALineWithoutSeparator) {
  auto mounts = parse_mountinfo("1 2 3:4 / /x rw ext4 /dev/x rw\n");
  ASSERT_FALSE(mounts.ok());
  EXPECT_NE(mounts.error().message.find("line 1"), std::string::npos);
}

TEST(Mountinfo, FindsTheV1CpusetHierarchyOnAHybridHost) {
  RealKernelFs fs;
  auto hierarchy = find_cpuset_hierarchy(fs, *parse_mountinfo(kHybrid));
  ASSERT_TRUE(hierarchy.ok());
  EXPECT_EQ(hierarchy->version, CgroupVersion::kV1);
  EXPECT_EQ(hierarchy->root, "/sys/fs/cgroup/cpuset");
}

TEST(Mountinfo, FindsV2OnlyWhenItListsCpuset) {
  FixtureTree tree;
  tree.file("cg/cgroup.controllers", "cpu io memory pids\n");
  RealKernelFs fs;
  std::string line = "30 23 0:26 / " + tree.path("cg").string() + " rw - cgroup2 cgroup2 rw\n";
  auto none = find_cpuset_hierarchy(fs, *parse_mountinfo(line));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no cpuset controller"), std::string::npos);
  tree.file("cg/cgroup.controllers", "cpuset cpu io memory pids\n");
  auto found = find_cpuset_hierarchy(fs, *parse_mountinfo(line));
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->version, CgroupVersion::kV2);
}

TEST(Mountinfo, ResolvesAnExplicitRoot) {
  RealKernelFs fs;
  auto mounts = *parse_mountinfo(kHybrid);
  auto below = resolve_cpuset_root(fs, mounts, "/sys/fs/cgroup/cpuset/prefcpu-test");
  ASSERT_TRUE(below.ok());
  EXPECT_EQ(below->version, CgroupVersion::kV1);
  auto wrong = resolve_cpuset_root(fs, mounts, "/sys/fs/cgroup/cpu/x");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("no cpuset controller"), std::string::npos);
  FixtureTree tree;
  tree.file("v1/tasks", "");
  tree.file("v2/cgroup.controllers", "cpuset\n");
  EXPECT_EQ(resolve_cpuset_root(fs, mounts, tree.path("v1"))->version, CgroupVersion::kV1);
  EXPECT_EQ(resolve_cpuset_root(fs, mounts, tree.path("v2"))->version, CgroupVersion::kV2);
  EXPECT_FALSE(resolve_cpuset_root(fs, mounts, tree.path("")).ok());
}

TEST(PidStat, CountsFieldsFromTheLastParenthesis) {
  std::string text = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560";
  for (int field = 10; field <= 21; ++field) text += " 0";
  text += " 987654";  // 22: starttime
  for (int field = 23; field <= 38; ++field) text += " 0";
  text += " 3 0 0\n";  // 39: processor
  auto stat = parse_pid_stat(text);
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_EQ(stat->pid, 4242);
  EXPECT_EQ(stat->ppid, 1);
  EXPECT_EQ(stat->start_time, 987654U);
  EXPECT_EQ(stat->processor, 3U);
  EXPECT_FALSE(stat->kernel_thread());
  EXPECT_FALSE(parse_pid_stat("12 (x) S 1 2 3").ok());
  // A PID is positive (fuzz_pid_stat found "-42 (a) ..." taken as PID -42).
  std::string negative = text;
  negative.replace(0, 4, "-42");
  auto refused = parse_pid_stat(negative);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("above 0"), std::string::npos) << refused.error().message;
}

TEST(PidStatus, ReadsTgidAndAllowedCpus) {
  auto status =
      parse_pid_status("Name:\tx\nTgid:\t77\nCpus_allowed:\tf\nCpus_allowed_list:\t0-3\n");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->tgid, 77);
  EXPECT_EQ(status->cpus_allowed, cpus("0-3"));
  EXPECT_FALSE(parse_pid_status("Name:\tx\n").ok());
}

TEST(TaskList, OneTidALine) {
  EXPECT_EQ(*parse_task_list("1\n22\n\n333\n"), (std::vector<pid_t>{1, 22, 333}));
  auto bad = parse_task_list("1\nx\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("\"x\""), std::string::npos);
}

TEST(RealTaskProbe, ReadsThisThread) {
  RealKernelFs fs;
  ProcTaskProbe probe(fs, "/proc", true);
  auto stat = probe.stat(::getpid());
  ASSERT_TRUE(stat.ok()) << stat.error().message;
  EXPECT_FALSE(stat->kernel_thread());
  auto allowed = probe.affinity(::getpid());
  ASSERT_TRUE(allowed.ok());
  EXPECT_TRUE(allowed->test(stat->processor) || allowed->count() > 0);
  EXPECT_EQ(*probe.tgid(::getpid()), ::getpid());
}

TEST(DesiredCpus, IntersectsOrRestoresTheOriginal) {
  CpuSet online = cpus("0-3");
  auto v1 = CgroupVersion::kV1;
  auto v2 = CgroupVersion::kV2;
  EXPECT_EQ(desired_cpus({false, cpus("1-3")}, cpus("0-1"), online, v1)->cpus, cpus("1"));
  EXPECT_FALSE(desired_cpus({false, cpus("3")}, cpus("0-1"), online, v1).has_value());
  CpusValue inherit{true, {}};
  EXPECT_EQ(*desired_cpus(inherit, online, online, v2), inherit);
  EXPECT_EQ(desired_cpus(inherit, cpus("0"), online, v2)->cpus, cpus("0"));
  // v2 keeps an offline CPU in the configured value; v1 cannot hold one.
  EXPECT_EQ(desired_cpus({false, cpus("0-5")}, online, online, v2)->cpus, cpus("0-5"));
  EXPECT_EQ(desired_cpus({false, cpus("0-5")}, online, online, v1)->cpus, cpus("0-3"));
}

TEST(OrderWrites, GrowsTopDownThenShrinksBottomUp) {
  CpuSet online = cpus("0-3");
  std::vector<CgroupPlan> plans{
      {"a", {false, cpus("0-1")}, {false, cpus("0-2")}},
      {"a/b", {false, cpus("0-1")}, {false, cpus("0-2")}},
      {"x/y", {false, cpus("0-3")}, {false, cpus("0")}},
      {"x", {false, cpus("0-3")}, {false, cpus("0")}},
      {"same", {false, cpus("0")}, {false, cpus("0")}},
  };
  std::vector<std::string> order;
  for (const auto& write : order_writes(plans, online)) {
    order.push_back(write.relative + (write.shrinks ? "-" : "+"));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"a+", "a/b+", "x/y-", "x-"}));
}

}  // namespace
}  // namespace prefcpu::testing
