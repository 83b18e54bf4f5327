// Builtin IRQ steering on fixture /proc/irq trees, through the actuator contract.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "linux/irq/irq_actuator.h"
#include "support/faulty_fs.h"
#include "support/fixture_tree.h"
#include "support/forwarding_fs.h"

namespace prefcpu {
namespace {

using testing::FaultyKernelFs;
using testing::FixtureTree;

const CpuSet kOnline = CpuSet::range(0, 3);
const CpuSet kShrunk{0, 1};

class BuiltinTest : public ::testing::Test {
 protected:
  BuiltinTest() : faulty_(real_), journal_(testing::real_fs(), tree_.path("journal.json")) {
    irq("24", "0-3");  // spans both halves: keeps its preferred part
    irq("25", "2-3");  // only non-preferred CPUs: falls back to preferred
    irq("26", "3");    // a single non-preferred CPU: a deliberate pin, left alone
    irq("27", "0-1");  // already preferred: never written
    tree_.file("irq/default_smp_affinity", "f\n");
  }

  void irq(const std::string& number, const std::string& list) const {
    tree_.file("irq/" + number + "/smp_affinity_list", list + "\n");
  }
  std::string affinity(const std::string& number) const {
    return tree_.read("irq/" + number + "/smp_affinity_list");
  }
  std::filesystem::path affinity_path(const std::string& number) const {
    return tree_.path("irq/" + number + "/smp_affinity_list");
  }
  IrqOptions options() {
    IrqOptions out;
    out.mode = IrqMode::kBuiltin;
    out.irq_root = tree_.path("irq");
    out.proc_interrupts = tree_.path("interrupts");
    out.irqbalance_run_dir = tree_.path("run-irqbalance");
    out.irqbalance_abstract_socket = false;
    out.on_event = [this](std::string_view line) { events_.emplace_back(line); };
    return out;
  }
  std::unique_ptr<Actuator> make(KernelFs& fs) {
    return make_irq_actuator(fs, journal_, options());
  }
  nlohmann::json journal_on_disk() const {
    auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
    EXPECT_TRUE(loaded) << loaded.error().message;
    if (!loaded || !loaded->has_value()) return nullptr;
    return (**loaded).value("irqs", nlohmann::json());  // none: nothing left to restore
  }

  FixtureTree tree_;
  RealKernelFs real_;
  FaultyKernelFs faulty_;
  Journal journal_;
  std::vector<std::string> events_;
};

TEST_F(BuiltinTest, ShrinkWritesIntersectionsAndRestoreWritesOriginals) {
  auto actuator = make(faulty_);
  ASSERT_NE(actuator, nullptr);
  EXPECT_EQ(actuator->name(), "irqs");
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(affinity("24"), "0-1");
  EXPECT_EQ(affinity("25"), "0-1");
  EXPECT_EQ(affinity("26"), "3\n");
  EXPECT_EQ(affinity("27"), "0-1\n");
  EXPECT_EQ(tree_.read("irq/default_smp_affinity"), "3");
  // Read before write: nothing written where nothing changes.
  EXPECT_EQ(faulty_.write_attempts(affinity_path("26")), 0);
  EXPECT_EQ(faulty_.write_attempts(affinity_path("27")), 0);

  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["mode"], "builtin");
  EXPECT_EQ(status["active"], "builtin");
  EXPECT_EQ(status["irqs_total"], 4);
  EXPECT_EQ(status["irqs_managed"], 3);
  EXPECT_EQ(status["irqs_pinned"], 1);
  EXPECT_EQ(status["pinned"], nlohmann::json::array({26}));
  EXPECT_EQ(status["irqs_changed"], 2);
  EXPECT_EQ(status["irqs_unmanaged"], 0);
  EXPECT_EQ(status["irqs_pending_retry"], 0);
  EXPECT_EQ(status["default_smp_affinity"]["original"], "f");
  EXPECT_EQ(status["default_smp_affinity"]["current"], "3");

  nlohmann::json journal = journal_on_disk();
  EXPECT_EQ(journal["builtin"]["irqs"], (nlohmann::json{{"24", "0-3"}, {"25", "2-3"}}));
  EXPECT_EQ(journal["builtin"]["default_smp_affinity"], "f");

  // A second period with the same mask writes nothing.
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(faulty_.write_attempts(affinity_path("24")), 1);

  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(affinity("24"), "0-3");
  EXPECT_EQ(affinity("25"), "2-3");
  EXPECT_EQ(affinity("26"), "3\n");
  EXPECT_EQ(tree_.read("irq/default_smp_affinity"), "f");
  EXPECT_EQ(journal_on_disk(), nullptr) << "nothing left to restore: the section is dropped";
}

TEST_F(BuiltinTest, GrowPutsTheOriginalsBack) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(CpuSet{0}, kOnline));
  EXPECT_EQ(affinity("24"), "0");
  EXPECT_EQ(affinity("27"), "0");
  ASSERT_TRUE(actuator->apply(CpuSet{0, 1, 2}, kOnline));
  EXPECT_EQ(affinity("24"), "0-2");
  EXPECT_EQ(affinity("25"), "2");
  EXPECT_EQ(affinity("27"), "0-1");  // its original, all preferred again
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_EQ(affinity("24"), "0-3");
  EXPECT_EQ(affinity("25"), "2-3");
  EXPECT_EQ(tree_.read("irq/default_smp_affinity"), "f");
  EXPECT_EQ(actuator->status()["irqs_changed"], 0);
  EXPECT_EQ(journal_on_disk(), nullptr) << "nothing left to restore: the section is dropped";
}

TEST_F(BuiltinTest, NoJournalFileWhenNothingChanges) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_FALSE(tree_.exists("journal.json"));
  EXPECT_EQ(faulty_.write_attempts(affinity_path("24")), 0);
}

// Checks at each affinity write that the journal on disk already holds that IRQ's original.
class JournalFirstFs final : public testing::ForwardingKernelFs {
 public:
  JournalFirstFs(KernelFs& inner, std::filesystem::path journal, std::filesystem::path irq_root)
      : ForwardingKernelFs(inner), journal_(std::move(journal)), irq_root_(std::move(irq_root)) {}
  Status write(const std::filesystem::path& path, std::string_view value) override {
    if (path.filename() == "smp_affinity_list") {
      std::string irq = path.parent_path().filename().string();
      auto current = inner().read(path);
      std::string before = current ? *current : "";
      if (before.ends_with('\n')) before.pop_back();
      auto loaded = Journal::load(testing::real_fs(), journal_);
      bool journaled = loaded && loaded->has_value() &&
                       (**loaded)["irqs"]["builtin"]["irqs"].value(irq, "") == before;
      if (!journaled) ++unjournaled_writes;
    }
    return ForwardingKernelFs::write(path, value);
  }
  int unjournaled_writes = 0;

 private:
  std::filesystem::path journal_;
  std::filesystem::path irq_root_;
};

TEST_F(BuiltinTest, JournalHoldsTheOriginalBeforeTheFirstWrite) {
  JournalFirstFs fs(real_, tree_.path("journal.json"), tree_.path("irq"));
  auto actuator = make(fs);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(affinity("24"), "0-1");
  EXPECT_EQ(fs.unjournaled_writes, 0);
}

class UnmanagedErrnoTest : public BuiltinTest, public ::testing::WithParamInterface<int> {};

TEST_P(UnmanagedErrnoTest, IrqIsNeverTouchedAgain) {
  faulty_.fail_writes(affinity_path("24"), GetParam());
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(affinity("24"), "0-3\n");
  EXPECT_EQ(affinity("25"), "0-1");  // the others go on
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["irqs_unmanaged"], 1);
  EXPECT_EQ(status["unmanaged"], nlohmann::json::array({24}));
  EXPECT_EQ(status["irqs_managed"], 2);
  EXPECT_FALSE(journal_on_disk()["builtin"]["irqs"].contains("24"));

  ASSERT_TRUE(actuator->apply(CpuSet{0}, kOnline));
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(faulty_.write_attempts(affinity_path("24")), 1);
  EXPECT_EQ(actuator->status()["irqs_unmanaged"], 1);
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(faulty_.write_attempts(affinity_path("24")), 1);
  EXPECT_EQ(affinity("24"), "0-3\n");
}

INSTANTIATE_TEST_SUITE_P(EioEperm, UnmanagedErrnoTest, ::testing::Values(EIO, EPERM));

class RetryErrnoTest : public BuiltinTest, public ::testing::WithParamInterface<int> {};

TEST_P(RetryErrnoTest, RetriedNextPeriod) {
  faulty_.fail_writes(affinity_path("24"), GetParam(), /*times=*/2);
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(affinity("24"), "0-3\n");
  EXPECT_EQ(actuator->status()["irqs_pending_retry"], 1);
  EXPECT_EQ(actuator->status()["pending_retry"], nlohmann::json::array({24}));
  // Journaled before the attempt, so a crash mid-retry is still undone.
  EXPECT_EQ(journal_on_disk()["builtin"]["irqs"]["24"], "0-3");

  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(actuator->status()["irqs_pending_retry"], 1);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(faulty_.write_attempts(affinity_path("24")), 3);
  EXPECT_EQ(affinity("24"), "0-1");
  EXPECT_EQ(actuator->status()["irqs_pending_retry"], 0);
  EXPECT_EQ(actuator->status()["irqs_managed"], 3);

  // One line when it starts refusing and one when it accepts, not one per period.
  int refused = 0, accepted = 0;
  for (const std::string& line : events_) {
    if (line.starts_with("IRQ 24 refused")) ++refused;
    if (line.starts_with("IRQ 24 accepted")) ++accepted;
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(accepted, 1);
}

INSTANTIATE_TEST_SUITE_P(BusyAgainInvalNospc, RetryErrnoTest,
                         ::testing::Values(EBUSY, EAGAIN, EINVAL, ENOSPC));

TEST_F(BuiltinTest, DefaultAffinityRefusalIsSortedToo) {
  faulty_.fail_writes(tree_.path("irq/default_smp_affinity"), EIO);
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(tree_.read("irq/default_smp_affinity"), "f\n");
  EXPECT_EQ(actuator->status()["default_smp_affinity"]["state"], "unmanaged");
  EXPECT_FALSE(journal_on_disk()["builtin"].contains("default_smp_affinity"));
}

TEST_F(BuiltinTest, IrqsAppearAndVanish) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  irq("30", "1-3");
  std::filesystem::remove_all(tree_.path("irq/25"));
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(affinity("30"), "1");
  nlohmann::json journal = journal_on_disk()["builtin"]["irqs"];
  EXPECT_EQ(journal, (nlohmann::json{{"24", "0-3"}, {"30", "1-3"}}));
  EXPECT_EQ(actuator->status()["irqs_total"], 4);
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(affinity("30"), "1-3");
  EXPECT_FALSE(tree_.exists("irq/25"));
}

TEST_F(BuiltinTest, ForeignWriteIsAdoptedAsTheOriginal) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  irq("24", "1-2");  // an administrator's choice
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(affinity("24"), "1");
  EXPECT_EQ(journal_on_disk()["builtin"]["irqs"]["24"], "1-2");
  bool logged = false;
  for (const std::string& line : events_) logged |= line.starts_with("IRQ 24 was set to \"1-2\"");
  EXPECT_TRUE(logged);
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(affinity("24"), "1-2");
}

TEST_F(BuiltinTest, CrashIsUndoneFromTheJournal) {
  {
    auto crashed = make(faulty_);
    ASSERT_TRUE(crashed->apply(CpuSet{0}, kOnline));
    EXPECT_EQ(affinity("24"), "0");
    // No restore(): the instance dies here, as on SIGKILL.
  }
  auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(loaded && loaded->has_value());
  // Seeded with what it restores, as Daemon::recover_from_journal does.
  Journal fresh(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(fresh.record("irqs", (**loaded)["irqs"]));
  auto actuator = make_irq_actuator(faulty_, fresh, options());
  ASSERT_TRUE(actuator->recover((**loaded)["irqs"]));
  EXPECT_EQ(affinity("24"), "0-3");
  EXPECT_EQ(affinity("25"), "2-3");
  EXPECT_EQ(affinity("27"), "0-1");
  EXPECT_EQ(tree_.read("irq/default_smp_affinity"), "f");
  auto after = Journal::load(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(after && after->has_value());
  EXPECT_FALSE((**after).contains("irqs")) << "nothing left to restore: the section is dropped";
}

TEST_F(BuiltinTest, RecoveryRefusedNowIsFinishedLaterFromTheJournalsOriginal) {
  {
    auto crashed = make(faulty_);
    ASSERT_TRUE(crashed->apply(CpuSet{0}, kOnline));
  }
  auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(loaded && loaded->has_value());
  faulty_.fail_writes(affinity_path("24"), EBUSY, /*times=*/1);
  Journal fresh(testing::real_fs(), tree_.path("journal.json"));
  auto actuator = make_irq_actuator(faulty_, fresh, options());
  auto recovered = actuator->recover((**loaded)["irqs"]);
  ASSERT_FALSE(recovered);
  EXPECT_NE(recovered.error().message.find("24"), std::string::npos);
  EXPECT_EQ(affinity("24"), "0");  // still what the crashed run wrote
  EXPECT_EQ(affinity("25"), "2-3");
  // The journal's "0-3" stays the original; "0" is not mistaken for one.
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_EQ(affinity("24"), "0-3");
}

TEST_F(BuiltinTest, RecoverRejectsAMalformedSection) {
  auto actuator = make(faulty_);
  EXPECT_TRUE(actuator->recover(nullptr));
  EXPECT_TRUE(actuator->recover(nlohmann::json::object()));
  auto bad = actuator->recover({{"builtin", {{"irqs", {{"24", "0-x"}}}}}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("irqs.builtin"), std::string::npos);
  EXPECT_FALSE(actuator->recover({{"builtin", {{"irqs", {{"ab", "0"}}}}}}));
  EXPECT_FALSE(actuator->recover("text"));
}

TEST_F(BuiltinTest, CountsInterruptsOnNonPreferredCpusPerPeriod) {
  tree_.file("interrupts",
             "   CPU0  CPU1  CPU2  CPU3\n"
             " 24:  10    20    30    40  IO-APIC x\n"
             " 25:   0     0     0     0  IO-APIC y\n"
             "LOC: 100   100   100   100  Local timer interrupts\n");
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_TRUE(actuator->status()["interrupts_non_preferred"].is_null());
  tree_.file("interrupts",
             "   CPU0  CPU1  CPU2  CPU3\n"
             " 24:  11    20    35    40  IO-APIC x\n"
             " 25:   0     1     0     7  IO-APIC y\n"
             "LOC: 900   900   900   900  Local timer interrupts\n");
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["interrupts_total"], 14);
  EXPECT_EQ(status["interrupts_non_preferred"], 12);
  EXPECT_EQ(status["interrupts_non_preferred_top"],
            (nlohmann::json::array({{{"irq", 25}, {"count", 7}}, {{"irq", 24}, {"count", 5}}})));
  EXPECT_TRUE(status["last_error"].is_null());
  EXPECT_TRUE(status["irqbalance"].is_null());
}

TEST(IrqMode, ParseAndOff) {
  EXPECT_EQ(*parse_irq_mode("builtin"), IrqMode::kBuiltin);
  EXPECT_EQ(*parse_irq_mode("irqbalance"), IrqMode::kIrqbalance);
  auto bad = parse_irq_mode("on");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("auto, builtin, irqbalance or off"), std::string::npos);
  RealKernelFs fs;
  Journal journal(testing::real_fs(), "/nonexistent/journal.json");
  IrqOptions options;
  options.mode = IrqMode::kOff;
  EXPECT_EQ(make_irq_actuator(fs, journal, options), nullptr);
}

}  // namespace
}  // namespace prefcpu
