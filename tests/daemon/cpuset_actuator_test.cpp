// The cpuset actuator on fixture cgroupfs trees (v1 and v2) that keep the kernel's rules.
#include "linux/cgroup/cpuset_actuator.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>

#include "cpuset_fixture.h"
#include "linux/clock.h"
#include "support/cpus.h"
#include "support/faulty_fs.h"
#include "support/fixture_tree.h"

namespace prefcpu::testing {
namespace {

class CpusetActuatorTest : public ::testing::TestWithParam<CgroupVersion>, public CpusetFixture {
 protected:
  CpusetActuatorTest() : CpusetFixture(GetParam()) {}
  CgroupVersion version() const { return GetParam(); }

  nlohmann::json journal_on_disk() const {
    auto loaded = Journal::load(testing::real_fs(), journal.path());
    return loaded.ok() && *loaded ? **loaded : nlohmann::json();
  }
  int count_notices(std::string_view needle) const {
    int n = 0;
    for (const auto& notice : notices) n += notice.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }
};

TEST_P(CpusetActuatorTest, WritesOriginalIntersectPreferredAndSkipsUnchanged) {
  fake.make_cgroup("work", "1-3");
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(online, online).ok());
  EXPECT_TRUE(fake.writes().empty()) << "nothing to change at full preferred";

  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  EXPECT_EQ(fake.cpus("work"), "1-2");
  ASSERT_EQ(fake.writes().size(), 1U);
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  EXPECT_EQ(fake.writes().size(), 1U) << "an unchanged write is skipped";

  ASSERT_TRUE(actuator->apply(online, online).ok());
  EXPECT_EQ(fake.cpus("work"), "1-3") << "grows back to the original, not to preferred";
}

TEST_P(CpusetActuatorTest, JournalHoldsOriginalsBeforeTheFirstWrite) {
  fake.make_cgroup("work", "0-3");
  auto actuator = make();
  bool checked = false;
  fake.before_write = [&](const FakeCgroupFs::Write& write) {
    if (write.path != "work/cpuset.cpus" || checked) return;
    checked = true;
    auto section = journal_on_disk()["cpusets"];
    EXPECT_EQ(section["originals"]["work"], "0-3");
    EXPECT_EQ(section["root"], fake.cgroup_root().string());
  };
  ASSERT_TRUE(actuator->apply(cpus("0"), online).ok());
  EXPECT_TRUE(checked);
}

TEST_P(CpusetActuatorTest, NestedCgroupsShrinkBottomUpAndGrowTopDown) {
  fake.make_cgroup("a", "0-3");
  fake.make_cgroup("a/b", "0-3");
  fake.make_cgroup("a/b/c", "2-3");
  // v1 tracks descendants by itself; on v2 they must be named (they are not constrained).
  auto actuator = version() == CgroupVersion::kV1 ? make() : make({"a", "a/b", "a/b/c"});
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  std::vector<std::string> order;
  for (const auto& write : fake.writes()) order.push_back(write.path);
  EXPECT_EQ(order,
            (std::vector<std::string>{"a/b/c/cpuset.cpus", "a/b/cpuset.cpus", "a/cpuset.cpus"}));
  EXPECT_EQ(fake.cpus("a/b/c"), "2");

  fake.clear_writes();
  ASSERT_TRUE(actuator->apply(online, online).ok());
  order.clear();
  for (const auto& write : fake.writes()) order.push_back(write.path);
  EXPECT_EQ(order,
            (std::vector<std::string>{"a/cpuset.cpus", "a/b/cpuset.cpus", "a/b/c/cpuset.cpus"}));
  EXPECT_EQ(fake.cpus("a/b/c"), "2-3");
}

TEST_P(CpusetActuatorTest, AMixedChangeGoesThroughTheUnionFirst) {
  fake.make_cgroup("a", "0-3");
  fake.make_cgroup("a/b", "0-3");
  auto actuator = version() == CgroupVersion::kV1 ? make() : make({"a", "a/b"});
  ASSERT_TRUE(actuator->apply(cpus("0"), online).ok());
  fake.clear_writes();
  ASSERT_TRUE(actuator->apply(cpus("3"), online).ok());  // a custom mask: 0 leaves, 3 comes
  std::vector<std::string> values;
  for (const auto& write : fake.writes()) values.push_back(write.path + "=" + write.value);
  EXPECT_EQ(values, (std::vector<std::string>{"a/cpuset.cpus=0,3\n", "a/b/cpuset.cpus=0,3\n",
                                              "a/b/cpuset.cpus=3\n", "a/cpuset.cpus=3\n"}));
}

TEST_P(CpusetActuatorTest, EmptyIntersectionLeavesTheCgroupAndSaysSoOnce) {
  fake.make_cgroup("work", "3");
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
  ASSERT_TRUE(actuator->apply(cpus("0"), online).ok());
  EXPECT_EQ(fake.cpus("work"), "3");
  EXPECT_TRUE(fake.writes().empty());
  EXPECT_EQ(count_notices("do not intersect"), 1);
}

TEST_P(CpusetActuatorTest, RestorePutsOriginalsBackAndEmptiesTheSection) {
  fake.make_cgroup("work", "1-3");
  fake.make_cgroup("other", "0-3");
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(cpus("0"), online).ok());
  EXPECT_EQ(fake.cpus("other"), "0");
  ASSERT_TRUE(actuator->restore().ok());
  EXPECT_EQ(fake.cpus("work"), "1-3");
  EXPECT_EQ(fake.cpus("other"), "0-3");
  EXPECT_TRUE(journal_on_disk()["cpusets"].empty());
}

TEST_P(CpusetActuatorTest, AdoptsAForeignWriteAsTheNewOriginal) {
  fake.make_cgroup("work", "0-3");
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
  fake.foreign_write_cpus("work", "1-2");  // an administrator
  ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
  EXPECT_EQ(fake.cpus("work"), "1") << "the adopted original ∩ preferred";
  ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
  EXPECT_EQ(count_notices("by another writer"), 1) << "logged once";
  EXPECT_EQ(journal_on_disk()["cpusets"]["originals"]["work"], "1-2");
  EXPECT_EQ(actuator->status()["adopted"], 1);
  ASSERT_TRUE(actuator->restore().ok());
  EXPECT_EQ(fake.cpus("work"), "1-2") << "restore does not fight the administrator";
}

TEST_P(CpusetActuatorTest, ARefusedWriteIsRetriedNextPeriodWithNoStateLost) {
  fake.make_cgroup("work", "0-3");
  FaultyKernelFs faulty(fake);
  auto actuator = make(faulty);
  faulty.fail_writes(fake.cgroup_root() / "work/cpuset.cpus", EBUSY, 1);
  auto first = actuator->apply(cpus("0-1"), online);
  ASSERT_FALSE(first.ok());
  EXPECT_NE(first.error().message.find("Device or resource busy"), std::string::npos);
  EXPECT_EQ(fake.cpus("work"), "0-3");
  ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
  EXPECT_EQ(fake.cpus("work"), "0-1");
  EXPECT_EQ(actuator->status()["adopted"], 0) << "our own failed write is not a foreign one";
  ASSERT_TRUE(actuator->restore().ok());
  EXPECT_EQ(fake.cpus("work"), "0-3");
}

TEST_P(CpusetActuatorTest, CountsTasksLastOnACpuThatLeft) {
  fake.make_cgroup("work", "0-3");
  fake.add_task(100, {"work", std::nullopt, 3});
  fake.add_task(101, {"work", std::nullopt, 2});
  fake.add_task(102, {"work", std::nullopt, 0});
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
  EXPECT_EQ(actuator->status()["last_migrations"], 2);
  EXPECT_EQ(actuator->status()["migrations"], 2);
}

TEST_P(CpusetActuatorTest, RelistsTheTreeOnAMaskChangeOrOnceASecond) {
  fake.make_cgroup("work", "0-3");
  FakeClock clock(0);
  CpusetOptions options;
  options.hierarchy = fake.hierarchy();
  options.proc_root = fake.proc_root();
  options.clock = &clock;
  auto actuator = *CpusetActuator::create(fake, journal, options);
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  fake.make_cgroup("late", "0-3");
  clock.advance(100'000'000);
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  EXPECT_EQ(fake.cpus("late"), "0-3") << "not listed again 100 ms later with the same mask";
  clock.advance(900'000'000);
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  EXPECT_EQ(fake.cpus("late"), "0-2") << "listed again after a second";

  ASSERT_TRUE(fake.remove_directory(fake.cgroup_root() / "late").ok());
  clock.advance(100'000'000);
  auto vanished = actuator->apply(cpus("0-2"), online);
  EXPECT_TRUE(vanished.ok()) << "a removed cgroup is forgotten, not an error: "
                             << vanished.error().message;
  fake.make_cgroup("later", "0-3");
  clock.advance(100'000'000);
  ASSERT_TRUE(actuator->apply(cpus("0-1"), online).ok());
  EXPECT_EQ(fake.cpus("later"), "0-1") << "a mask change lists the tree at once";
  EXPECT_FALSE(journal.section("cpusets")["originals"].contains("late"));
}

TEST_P(CpusetActuatorTest, AForeignWriteIsSeenAtTheNextPeriodBetweenListings) {
  fake.make_cgroup("work", "0-3");
  FakeClock clock(0);
  CpusetOptions options;
  options.hierarchy = fake.hierarchy();
  options.proc_root = fake.proc_root();
  options.clock = &clock;
  auto actuator = *CpusetActuator::create(fake, journal, options);
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  clock.advance(100'000'000);
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());  // sees (and ignores) its own write
  EXPECT_EQ(actuator->status()["adopted"], 0);
  fake.foreign_write_cpus("work", "1-3");
  clock.advance(100'000'000);
  ASSERT_TRUE(actuator->apply(cpus("0-2"), online).ok());
  EXPECT_EQ(actuator->status()["adopted"], 1) << "100 ms later, with no re-listing";
  EXPECT_EQ(fake.cpus("work"), "1-2");
}

TEST_P(CpusetActuatorTest, NamedCgroupsMustExistAndHaveCpusets) {
  CpusetOptions options;
  options.hierarchy = fake.hierarchy();
  options.cgroups = {"missing"};
  auto missing = CpusetActuator::create(fake, journal, options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("\"missing\" does not exist"), std::string::npos);
  options.cgroups = {"../etc"};
  auto invalid = CpusetActuator::create(fake, journal, options);
  ASSERT_FALSE(invalid.ok());
  EXPECT_NE(invalid.error().message.find("is invalid"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(BothVersions, CpusetActuatorTest,
                         ::testing::Values(CgroupVersion::kV1, CgroupVersion::kV2),
                         [](const auto& param_info) {
                           return param_info.param == CgroupVersion::kV1 ? std::string("v1")
                                                                         : std::string("v2");
                         });

}  // namespace
}  // namespace prefcpu::testing
