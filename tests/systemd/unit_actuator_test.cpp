#include "linux/systemd/unit_actuator.h"

#include <gtest/gtest.h>

#include "fake_bus.h"
#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using testing::FakeBus;
using testing::FakeSystemd;
using testing::FixtureTree;

const CpuSet kOnline = CpuSet::range(0, 7);

class UnitActuatorTest : public ::testing::Test {
 protected:
  UnitActuatorTest() : journal(testing::real_fs(), tree.path("journal.json")) {
    systemd.add("system.slice");
    systemd.add("user.slice", CpuSet::range(0, 5));
    systemd.add("machine.slice");
  }
  std::unique_ptr<UnitActuator> make(std::vector<std::string> units = {}) {
    SystemdOptions options;
    options.units = std::move(units);
    options.notice = [this](NoticeLevel, const std::string& text) { notices.push_back(text); };
    options.now_ns = [this] { return now_ns; };
    auto created = UnitActuator::create(std::make_unique<FakeBus>(systemd), journal, options);
    EXPECT_TRUE(created) << (created ? "" : created.error().message);
    return created ? std::move(*created) : nullptr;
  }
  CpuSet allowed(const std::string& unit) { return systemd.units.at(unit).allowed; }
  nlohmann::json journal_on_disk() {
    auto loaded = Journal::load(testing::real_fs(), journal.path());
    return loaded && *loaded ? **loaded : nlohmann::json();
  }

  FixtureTree tree;
  Journal journal;
  FakeSystemd systemd;
  std::vector<std::string> notices;
  std::int64_t now_ns = 1'000'000'000;
};

TEST_F(UnitActuatorTest, ConfinesTheDefaultSlicesToOriginalAndPreferred) {
  auto units = make();
  ASSERT_TRUE(units);
  EXPECT_EQ(units->managed_units(),
            (std::vector<std::string>{"machine.slice", "system.slice", "user.slice"}));
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  EXPECT_EQ(allowed("system.slice"), CpuSet::range(0, 3));  // unset original: every online CPU
  EXPECT_EQ(allowed("user.slice"), CpuSet::range(0, 3));
  ASSERT_TRUE(units->apply(CpuSet::range(0, 1), kOnline));
  EXPECT_EQ(allowed("system.slice"), CpuSet::range(0, 1));
  // The full mask: every online CPU for an unset unit (unsetting would leave its tasks on the
  // last CPUs), the original for the others.
  ASSERT_TRUE(units->apply(kOnline, kOnline));
  EXPECT_EQ(allowed("system.slice"), kOnline);
  EXPECT_EQ(allowed("user.slice"), CpuSet::range(0, 5));
  // A hotplugged CPU reaches it.
  ASSERT_TRUE(units->apply(CpuSet::range(0, 8), CpuSet::range(0, 8)));
  EXPECT_EQ(allowed("system.slice"), CpuSet::range(0, 8));
}

TEST_F(UnitActuatorTest, AnUnsetUnitIsWidenedToEveryOnlineCpuBeforeItIsUnset) {
  auto units = make({"system.slice"});
  ASSERT_TRUE(units->apply(CpuSet::range(0, 1), kOnline));
  systemd.sets.clear();
  ASSERT_TRUE(units->restore());
  ASSERT_EQ(systemd.sets.size(), 2U);
  EXPECT_EQ(systemd.sets[0].second, kOnline);
  EXPECT_TRUE(systemd.sets[1].second.empty());
}

TEST_F(UnitActuatorTest, WritesNothingWhenNothingChanges) {
  auto units = make();
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  auto writes = systemd.sets.size();
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  EXPECT_EQ(systemd.sets.size(), writes);
}

TEST_F(UnitActuatorTest, TheJournalHoldsTheOriginalsBeforeTheFirstChange) {
  auto units = make({"user.slice"});
  nlohmann::json at_first_set;
  systemd.on_set = [&](const std::string&, const CpuSet&) {
    if (at_first_set.is_null()) at_first_set = journal_on_disk();
  };
  ASSERT_TRUE(units->apply(CpuSet::range(0, 1), kOnline));
  EXPECT_EQ(at_first_set["systemd"]["units"]["user.slice"], "0-5");
}

TEST_F(UnitActuatorTest, AMissingOrUnsuitableUnitIsRejectedByNameAndTheOthersAreManaged) {
  systemd.units["masked.service"].load_state = "masked";
  auto units = make({"system.slice", "nosuch.slice", "multi-user.target", "masked.service"});
  ASSERT_TRUE(units);
  EXPECT_EQ(units->managed_units(), (std::vector<std::string>{"system.slice"}));
  ASSERT_EQ(units->rejected().size(), 3U);
  EXPECT_EQ(units->rejected()[0], "unit nosuch.slice has LoadState \"not-found\"");
  EXPECT_NE(units->rejected()[1].find("multi-user.target: not a unit with cgroup settings"),
            std::string::npos);
  EXPECT_EQ(units->rejected()[2], "unit masked.service has LoadState \"masked\"");
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  EXPECT_EQ(allowed("system.slice"), CpuSet::range(0, 3));
}

TEST_F(UnitActuatorTest, NoUsableUnitIsAnErrorThatNamesThem) {
  auto created = UnitActuator::create(std::make_unique<FakeBus>(systemd), journal,
                                      SystemdOptions{{"nosuch.slice"}, {}, {}});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().message,
            "systemd backend: no unit can be managed (unit nosuch.slice has LoadState "
            "\"not-found\")");
}

TEST_F(UnitActuatorTest, ACgroupPathNamesItsUnit) {
  systemd.add("foo.service", CpuSet::range(2, 7));
  auto units = make({"system.slice/foo.service"});
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  EXPECT_EQ(allowed("foo.service"), CpuSet::range(2, 3));
}

TEST_F(UnitActuatorTest, AnEmptyIntersectionLeavesTheUnitAsItWasAndSaysSoOnce) {
  systemd.add("batch.slice", CpuSet::range(6, 7));
  auto units = make({"batch.slice"});
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  ASSERT_TRUE(units->apply(CpuSet::range(0, 1), kOnline));
  EXPECT_EQ(allowed("batch.slice"), CpuSet::range(6, 7));
  EXPECT_EQ(notices.size(), 1U);
}

TEST_F(UnitActuatorTest, RestorePutsEveryOriginalBackAndEmptiesItsSection) {
  auto units = make();
  ASSERT_TRUE(units->apply(CpuSet::range(0, 1), kOnline));
  ASSERT_TRUE(units->restore());
  EXPECT_TRUE(allowed("system.slice").empty());
  EXPECT_EQ(allowed("user.slice"), CpuSet::range(0, 5));
  EXPECT_TRUE(journal.section("systemd").empty());
}

TEST_F(UnitActuatorTest, RecoverUndoesWhatACrashedInstanceLeft) {
  {
    auto crashed = make();
    ASSERT_TRUE(crashed->apply(CpuSet::range(0, 1), kOnline));
  }  // SIGKILL: no restore
  EXPECT_EQ(allowed("user.slice"), CpuSet::range(0, 1));
  auto section = journal_on_disk()["systemd"];
  Journal recovery(testing::real_fs(), tree.path("journal.json"));
  auto recovering = UnitActuator::for_recovery(std::make_unique<FakeBus>(systemd), recovery, {});
  ASSERT_TRUE(recovering->recover(section));
  EXPECT_TRUE(allowed("system.slice").empty());
  EXPECT_EQ(allowed("user.slice"), CpuSet::range(0, 5));
  EXPECT_TRUE(allowed("machine.slice").empty());
}

TEST_F(UnitActuatorTest, AGarbledSectionIsRefusedByName) {
  auto recovering = UnitActuator::for_recovery(std::make_unique<FakeBus>(systemd), journal, {});
  auto status = recovering->recover({{"units", {{"system.slice", 7}}}});
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message,
            "journal section \"systemd\": unit system.slice has 7, expected a cpulist string");
}

TEST_F(UnitActuatorTest, ReappliesWhenADaemonReloadDropsTheRuntimeSetting) {
  auto units = make({"system.slice"});
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  systemd.daemon_reload({{"system.slice", CpuSet{}}});  // the drop-in is gone
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  EXPECT_EQ(allowed("system.slice"), CpuSet::range(0, 3));
  EXPECT_EQ(units->status()["reapplied"], 1);
  ASSERT_TRUE(units->restore());
  EXPECT_TRUE(allowed("system.slice").empty());  // still the real original
}

TEST_F(UnitActuatorTest, VerifiesAtTheSlowCadenceOnlyUnlessSystemdReloaded) {
  auto units = make({"system.slice"});
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  int reads = systemd.reads;
  now_ns += UnitActuator::kVerifyNs / 2;
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  EXPECT_EQ(systemd.reads, reads);
  // A change behind our back is found at the next verification.
  systemd.units["system.slice"].allowed = CpuSet{};
  now_ns += UnitActuator::kVerifyNs;
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  EXPECT_EQ(systemd.reads, reads + 1);
  EXPECT_EQ(allowed("system.slice"), CpuSet::range(0, 3));
}

TEST_F(UnitActuatorTest, AnOperatorsNewValueBecomesTheOriginal) {
  auto units = make({"system.slice"});
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  systemd.units["system.slice"].allowed = CpuSet::range(2, 7);  // systemctl set-property
  systemd.daemon_reload();
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  EXPECT_EQ(allowed("system.slice"), CpuSet::range(2, 3));
  ASSERT_TRUE(units->restore());
  EXPECT_EQ(allowed("system.slice"), CpuSet::range(2, 7));
}

TEST_F(UnitActuatorTest, TheBusGoingAwayIsRetriedAndNothingIsLost) {
  auto units = make();
  ASSERT_TRUE(units->apply(CpuSet::range(0, 3), kOnline));
  systemd.down = true;
  auto status = units->apply(CpuSet::range(0, 1), kOnline);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("Connection reset"), std::string::npos);
  EXPECT_FALSE(units->restore());  // fails while it is down; the journal keeps the originals
  EXPECT_EQ(journal_on_disk()["systemd"]["units"]["user.slice"], "0-5");
  systemd.down = false;
  ASSERT_TRUE(units->apply(CpuSet::range(0, 1), kOnline));
  EXPECT_EQ(allowed("system.slice"), CpuSet::range(0, 1));
  systemd.down = true;
  now_ns += 1;
  EXPECT_FALSE(units->apply(CpuSet::range(0, 3), kOnline));
  systemd.down = false;
  ASSERT_TRUE(units->restore());  // restore at exit works once it is back
  EXPECT_TRUE(allowed("system.slice").empty());
  EXPECT_EQ(allowed("user.slice"), CpuSet::range(0, 5));
}

TEST(UnitActuatorNames, AUnitIsTheLastComponentOfItsCgroupPath) {
  EXPECT_EQ(unit_of("system.slice"), "system.slice");
  EXPECT_EQ(unit_of("system.slice/foo.service"), "foo.service");
  EXPECT_EQ(unit_cgroup_interface("system.slice"), "org.freedesktop.systemd1.Slice");
  EXPECT_EQ(unit_cgroup_interface("a.service"), "org.freedesktop.systemd1.Service");
  EXPECT_EQ(unit_cgroup_interface("multi-user.target"), "");
  EXPECT_EQ(unit_cgroup_interface(".slice"), "");
}

TEST(AllowedCpusBytes, MatchSystemdsEncoding) {
  CpuSet cpus = CpuSet::range(0, 3);
  cpus.set(9);
  EXPECT_EQ(cpus_to_bytes(cpus), std::string("\x0f\x02", 2));
  EXPECT_EQ(cpus_to_bytes(CpuSet{}), "");
  const unsigned char bytes[] = {0x0f, 0x02};
  EXPECT_EQ(cpus_from_bytes(bytes, sizeof bytes), cpus);
}

}  // namespace
}  // namespace prefcpu
