// The task side of the cpuset actuator: prefcpu-pinned (v1), the v2 difference, the shield, v1
// hotplug, and recovery from a journal left by a crash.
#include <gtest/gtest.h>

#include "cpuset_fixture.h"
#include "linux/cgroup/cpuset_actuator.h"
#include "support/cpus.h"
#include "support/fixture_tree.h"

namespace prefcpu::testing {
namespace {

class CpusetTasks : public ::testing::Test, public CpusetFixture {
 protected:
  explicit CpusetTasks(CgroupVersion version = CgroupVersion::kV1) : CpusetFixture(version) {}

  std::size_t index_of(std::string_view path, std::string_view value = {}) const {
    const auto& writes = fake.writes();
    for (std::size_t i = 0; i < writes.size(); ++i) {
      if (writes[i].path == path && (value.empty() || writes[i].value == value)) return i;
    }
    return writes.size();
  }
};

class CpusetTasksV2 : public CpusetTasks {
 protected:
  CpusetTasksV2() : CpusetTasks(CgroupVersion::kV2) {}
};

TEST_F(CpusetTasks, V1MovesTasksPinnedOnlyToLeavingCpusBeforeTheShrink) {
  fake.make_cgroup("work", "0-3");
  fake.add_task(200, {"work", cpus("3")});     // pinned to a CPU that will leave
  fake.add_task(201, {"work", cpus("0")});     // pinned inside preferred
  fake.add_task(202, {"work", std::nullopt});  // not pinned
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());

  EXPECT_EQ(fake.cgroup_of(200), "prefcpu-pinned");
  EXPECT_EQ(fake.allowed(200), cpus("3")) << "keeps running on its non-preferred CPU";
  EXPECT_LT(index_of("prefcpu-pinned/tasks", "200"), index_of("work/cpuset.cpus"))
      << "moved before the shrink, so its pin never falls back";
  EXPECT_EQ(fake.cgroup_of(201), "work");
  EXPECT_EQ(fake.allowed(201), cpus("0"));
  EXPECT_EQ(fake.allowed(202), cpus("0-2"));
  EXPECT_EQ(fake.cpus("prefcpu-pinned"), "0-3") << "all online CPUs";
  EXPECT_EQ(journal.section("cpusets")["pinned"][0]["origin"], "work");

  ASSERT_TRUE(actuator->apply(online, online).ok());
  EXPECT_EQ(fake.cgroup_of(200), "work") << "back on grow";
  EXPECT_EQ(fake.allowed(200), cpus("3"));
  EXPECT_EQ(fake.allowed(202), cpus("0-3"));
  EXPECT_TRUE(journal.section("cpusets")["pinned"].empty());

  ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
  EXPECT_EQ(fake.cgroup_of(200), "prefcpu-pinned");
  ASSERT_TRUE(actuator->restore().ok());
  EXPECT_EQ(fake.cgroup_of(200), "work") << "back at exit";
  EXPECT_EQ(fake.allowed(200), cpus("3"));
  EXPECT_FALSE(fake.cgroup_exists("prefcpu-pinned")) << "what we created is removed";
}

TEST_F(CpusetTasks, ChildrenBornInPrefcpuPinnedGoBackWithTheirParent) {
  fake.make_cgroup("work", "0-3");
  fake.add_task(300, {"work", cpus("3")});
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  fake.add_task(301, {"prefcpu-pinned", cpus("3"), 3, false, false, 0, 300});  // forked child
  ASSERT_TRUE(actuator->restore().ok());
  EXPECT_EQ(fake.cgroup_of(301), "work");
  EXPECT_EQ(fake.cgroup_of(300), "work");
}

TEST_F(CpusetTasksV2, V2LeavesPinnedTasksInPlaceAndCountsThem) {
  fake.make_cgroup("work", "0-3");
  fake.add_task(200, {"work", cpus("3")});
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  EXPECT_EQ(fake.cgroup_of(200), "work");
  EXPECT_FALSE(fake.cgroup_exists("prefcpu-pinned"));
  EXPECT_EQ(fake.allowed(200), cpus("0-2")) << "the kernel falls it back to the cgroup's CPUs";
  EXPECT_EQ(actuator->status()["pinned_left_in_place"], 1);
  ASSERT_TRUE(actuator->apply(online, online).ok());
  EXPECT_EQ(fake.allowed(200), cpus("3")) << "and gives its request back on grow";
}

TEST_F(CpusetTasksV2, V2InheritIsKeptAndRestoredAsEmpty) {
  fake.make_cgroup("work", "");
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
  EXPECT_EQ(fake.cpus("work"), "0-1");
  ASSERT_TRUE(actuator->apply(online, online).ok());
  EXPECT_EQ(fake.cpus("work"), "") << "back to inheriting the parent, not a fixed 0-3";
}

TEST_F(CpusetTasksV2, ShieldNeedsV1) {
  CpusetOptions options;
  options.hierarchy = fake.hierarchy();
  options.shield = true;
  auto actuator = CpusetActuator::create(fake, journal, options);
  ASSERT_FALSE(actuator.ok());
  EXPECT_NE(actuator.error().message.find("--shield needs the cgroup v1"), std::string::npos);
}

TEST_F(CpusetTasks, ShieldMovesUserTasksOutOfTheRootAndBackAtExit) {
  fake.add_task(2, {"", std::nullopt, 0, /*kernel_thread=*/true});
  fake.add_task(20, {"", std::nullopt, 1, /*kernel_thread=*/false, /*refuses_move=*/true});
  fake.add_task(500, {"", std::nullopt});
  fake.add_task(501, {"", cpus("3")});
  auto actuator = make({}, /*shield=*/true);
  auto applied = actuator->apply(online, online);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(fake.cgroup_of(500), "prefcpu-workload");
  EXPECT_EQ(fake.cgroup_of(501), "prefcpu-workload");
  EXPECT_EQ(fake.cgroup_of(2), "") << "kernel threads stay";
  EXPECT_EQ(index_of("prefcpu-workload/tasks", "2"), fake.writes().size()) << "never tried";
  EXPECT_EQ(fake.cgroup_of(20), "") << "a task that refuses (EINVAL) is skipped quietly";
  for (const auto& notice : notices) EXPECT_EQ(notice.find("warning"), std::string::npos) << notice;

  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  EXPECT_EQ(fake.cpus("prefcpu-workload"), "0-2");
  EXPECT_EQ(fake.cgroup_of(501), "prefcpu-pinned");
  fake.add_task(502, {"", std::nullopt});  // started after the shield went up
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  EXPECT_EQ(fake.cgroup_of(502), "prefcpu-workload");

  ASSERT_TRUE(actuator->restore().ok());
  for (pid_t tid : {500, 501, 502, 2, 20}) EXPECT_EQ(fake.cgroup_of(tid), "") << tid;
  EXPECT_EQ(fake.allowed(501), cpus("3"));
  EXPECT_FALSE(fake.cgroup_exists("prefcpu-workload"));
  EXPECT_FALSE(fake.cgroup_exists("prefcpu-pinned"));
}

TEST_F(CpusetTasks, V1HotplugRemovalIsNotAForeignWrite) {
  fake.make_cgroup("work", "0-3");
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(online, online).ok());
  fake.offline_cpu_v1(3);
  ASSERT_TRUE(actuator->apply(cpus("0-2"), cpus("0-2")).ok());
  EXPECT_EQ(actuator->status()["adopted"], 0);
  EXPECT_EQ(journal.section("cpusets")["originals"]["work"], "0-3");
}

TEST_F(CpusetTasks, RecoversEverythingFromACrashJournal) {
  fake.make_cgroup("work", "0-3");
  fake.add_task(200, {"work", cpus("3")});
  fake.add_task(500, {"", std::nullopt});
  nlohmann::json section;
  {
    Journal crashed(testing::real_fs(), tree.path("crashed.json"));
    CpusetOptions options;
    options.hierarchy = fake.hierarchy();
    options.shield = true;
    options.proc_root = fake.proc_root();
    auto actuator = *CpusetActuator::create(fake, crashed, options);
    ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
    ASSERT_EQ(fake.cgroup_of(200), "prefcpu-pinned");
    ASSERT_EQ(fake.cgroup_of(500), "prefcpu-workload");
    section = crashed.section("cpusets");
    // SIGKILL: the actuator is gone without restore(); only the journal is left.
  }
  ASSERT_EQ(fake.cpus("work"), "0-1");
  auto recovering = CpusetActuator::for_recovery(fake, journal, recovery_options());
  auto recovered = recovering->recover(section);
  ASSERT_TRUE(recovered.ok()) << recovered.error().message;
  EXPECT_EQ(fake.cpus("work"), "0-3");
  EXPECT_EQ(fake.cgroup_of(200), "work");
  EXPECT_EQ(fake.allowed(200), cpus("3"));
  EXPECT_EQ(fake.cgroup_of(500), "");
  EXPECT_FALSE(fake.cgroup_exists("prefcpu-pinned"));
  EXPECT_FALSE(fake.cgroup_exists("prefcpu-workload"));
}

TEST_F(CpusetTasks, AMalformedJournalSectionIsRefused) {
  auto recovering = CpusetActuator::for_recovery(fake, journal, recovery_options());
  auto status = recovering->recover({{"root", 5}});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("malformed"), std::string::npos);
}

}  // namespace
}  // namespace prefcpu::testing
