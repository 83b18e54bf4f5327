// The workqueue actuator on a fixture /sys/devices/virtual/workqueue/cpumask, through the
// actuator contract: apply, no-op, empty intersection, refused write, restore, recovery, a missing
// file.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "linux/housekeeping/workqueue_actuator.h"
#include "support/faulty_fs.h"
#include "support/fixture_tree.h"
#include "support/forwarding_fs.h"

namespace prefcpu {
namespace {

using testing::FaultyKernelFs;
using testing::FixtureTree;

const CpuSet kOnline = CpuSet::range(0, 3);
const CpuSet kShrunk{0, 1};
constexpr const char* kFile = "sys/devices/virtual/workqueue/cpumask";

// Counts reads of one path, and checks at each write of it that the journal on disk already
// holds the original the write replaces.
class WatchingFs final : public testing::ForwardingKernelFs {
 public:
  WatchingFs(KernelFs& inner, std::filesystem::path watched, std::filesystem::path journal)
      : ForwardingKernelFs(inner), watched_(std::move(watched)), journal_(std::move(journal)) {}
  Result<std::string> read(const std::filesystem::path& path) const override {
    if (path == watched_) ++reads;
    return ForwardingKernelFs::read(path);
  }
  Status write(const std::filesystem::path& path, std::string_view value) override {
    if (path == watched_) {
      auto loaded = Journal::load(testing::real_fs(), journal_);
      bool journaled = loaded && loaded->has_value() && (**loaded).contains("workqueues");
      if (!journaled) ++unjournaled_writes;
    }
    return ForwardingKernelFs::write(path, value);
  }
  mutable int reads = 0;
  int unjournaled_writes = 0;

 private:
  std::filesystem::path watched_;
  std::filesystem::path journal_;
};

class WorkqueueTest : public ::testing::Test {
 protected:
  WorkqueueTest() : faulty_(real_), journal_(testing::real_fs(), tree_.path("journal.json")) {
    tree_.file(kFile, "f\n");  // as a 4-CPU kernel prints it: "%*pb\n", nr_cpu_ids wide
  }

  std::unique_ptr<Actuator> make(KernelFs& fs) {
    WorkqueueOptions options;
    options.cpumask = workqueue_cpumask_path(tree_.path("sys"));
    options.on_event = [this](std::string_view line) { events_.emplace_back(line); };
    return make_workqueue_actuator(fs, journal_, std::move(options));
  }
  std::string cpumask() const { return tree_.read(kFile); }
  std::filesystem::path path() const { return tree_.path(kFile); }
  nlohmann::json journal_on_disk() const {
    auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
    EXPECT_TRUE(loaded) << loaded.error().message;
    if (!loaded || !loaded->has_value()) return nullptr;
    return (**loaded).value("workqueues", nlohmann::json());
  }

  FixtureTree tree_;
  RealKernelFs real_;
  FaultyKernelFs faulty_;
  Journal journal_;
  std::vector<std::string> events_;
};

TEST(WorkqueueTarget, IntersectionOrTheOriginal) {
  EXPECT_EQ(workqueue_target(CpuSet::range(0, 3), kShrunk, kOnline), kShrunk);
  EXPECT_EQ(workqueue_target(CpuSet{1, 2, 3}, kShrunk, kOnline), CpuSet{1});
  // Never widened beyond the original (the housekeeping CPUs), never empty.
  EXPECT_EQ(workqueue_target(CpuSet{2, 3}, kShrunk, kOnline), (CpuSet{2, 3}));
  EXPECT_EQ(workqueue_target(CpuSet{1}, kOnline, kOnline), CpuSet{1});
  // Possible but offline CPUs stay in it while every online one is preferred.
  EXPECT_EQ(workqueue_target(CpuSet::range(0, 7), kOnline, kOnline), CpuSet::range(0, 7));
  EXPECT_EQ(workqueue_target(CpuSet::range(0, 7), kShrunk, kOnline), kShrunk);
}

TEST_F(WorkqueueTest, OfflinePossibleCpusComeBackWithTheOriginal) {
  tree_.file(kFile, "ff\n");  // 8 possible CPUs, 4 online
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_EQ(faulty_.write_attempts(path()), 0) << "nothing to steer while all online are preferred";
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(cpumask(), "03");
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_EQ(cpumask(), "ff");
  EXPECT_EQ(journal_on_disk(), nullptr);
}

TEST_F(WorkqueueTest, ShrinkWritesTheIntersectionJournalledFirst) {
  WatchingFs fs(real_, path(), tree_.path("journal.json"));
  auto actuator = make(fs);
  EXPECT_EQ(actuator->name(), "workqueues");
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(cpumask(), "3");
  EXPECT_EQ(fs.unjournaled_writes, 0);
  EXPECT_EQ(journal_on_disk(), (nlohmann::json{{"cpumask", "f"}}));
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["state"], "following");
  EXPECT_EQ(status["original"], "f");
  EXPECT_EQ(status["current"], "3");
  EXPECT_EQ(status["cpus"], 2);
  EXPECT_EQ(status["writes"], 1);
}

TEST_F(WorkqueueTest, NothingWrittenWhenNothingChanges) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_EQ(faulty_.write_attempts(path()), 0);
  EXPECT_FALSE(tree_.exists("journal.json")) << "a run that changed nothing leaves no journal";
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(faulty_.write_attempts(path()), 1);
  EXPECT_EQ(actuator->status()["writes"], 1);
}

TEST_F(WorkqueueTest, GrowPutsTheOriginalBack) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(CpuSet{0}, kOnline));
  EXPECT_EQ(cpumask(), "1");
  ASSERT_TRUE(actuator->apply(CpuSet{0, 1, 2}, kOnline));
  EXPECT_EQ(cpumask(), "7");
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_EQ(cpumask(), "f");
  EXPECT_EQ(actuator->status()["state"], "original");
  EXPECT_EQ(journal_on_disk(), nullptr) << "nothing left to restore: the section is dropped";
}

TEST_F(WorkqueueTest, EmptyIntersectionKeepsTheOriginalAndSaysSoOnce) {
  tree_.file(kFile, "c\n");  // housekeeping limited to CPUs 2-3 (isolcpus=0-1, say)
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(cpumask(), "c\n");
  EXPECT_EQ(faulty_.write_attempts(path()), 0);
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["state"], "kept_original");
  EXPECT_EQ(status["empty_intersections"], 1);
  ASSERT_EQ(events_.size(), 1U);
  EXPECT_NE(events_[0].find("no preferred CPU"), std::string::npos) << events_[0];
  // Preferred reaching the housekeeping CPUs again: followed.
  ASSERT_TRUE(actuator->apply(CpuSet{0, 1, 2}, kOnline));
  EXPECT_EQ(cpumask(), "4");
}

TEST_F(WorkqueueTest, RefusedWriteKeepsTheOriginalCountedAndLoggedOnce) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(CpuSet{0, 1, 2}, kOnline));
  EXPECT_EQ(cpumask(), "7");
  faulty_.fail_writes(path(), EINVAL, /*times=*/1);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(cpumask(), "f") << "the original is put back when the kernel refuses the new mask";
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(faulty_.write_attempts(path()), 3) << "7, 3 (refused), f; the refused mask not again";
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["state"], "refused");
  EXPECT_EQ(status["refused_writes"], 1);
  ASSERT_EQ(events_.size(), 1U);
  EXPECT_NE(events_[0].find("refused"), std::string::npos) << events_[0];
  EXPECT_EQ(journal_on_disk(), nullptr);
  // A new preferred mask is tried again.
  ASSERT_TRUE(actuator->apply(CpuSet{0}, kOnline));
  EXPECT_EQ(cpumask(), "1");
}

TEST_F(WorkqueueTest, TransientErrorIsAnErrorRetriedNextPeriod) {
  faulty_.fail_writes(path(), ENOMEM, /*times=*/1);
  auto actuator = make(faulty_);
  auto status = actuator->apply(kShrunk, kOnline);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("cpumask"), std::string::npos) << status.error().message;
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(cpumask(), "3");
}

TEST_F(WorkqueueTest, RestorePutsTheOriginalBackAndDropsTheSection) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(cpumask(), "f");
  EXPECT_EQ(journal_on_disk(), nullptr);
  ASSERT_TRUE(actuator->restore()) << "idempotent";
  EXPECT_EQ(faulty_.write_attempts(path()), 2);
}

TEST_F(WorkqueueTest, RestoreLeavesAForeignWriteAlone) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  tree_.file(kFile, "e\n");
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(cpumask(), "e\n");
  EXPECT_EQ(journal_on_disk(), nullptr);
}

TEST_F(WorkqueueTest, ForeignWriteBecomesTheOriginal) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  tree_.file(kFile, "e\n");  // an admin narrows it to CPUs 1-3
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(cpumask(), "2");
  EXPECT_EQ(journal_on_disk(), (nlohmann::json{{"cpumask", "e"}}));
  EXPECT_EQ(actuator->status()["foreign_writes"], 1);
}

TEST_F(WorkqueueTest, FailedRestoreKeepsTheJournal) {
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  faulty_.fail_writes(path(), EBUSY);
  EXPECT_FALSE(actuator->restore());
  EXPECT_EQ(journal_on_disk(), (nlohmann::json{{"cpumask", "f"}}));
}

TEST_F(WorkqueueTest, RecoverWritesTheJournalledOriginal) {
  tree_.file(kFile, "3\n");  // what a SIGKILLed run left
  ASSERT_TRUE(journal_.record("workqueues", {{"cpumask", "f"}}));
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->recover(journal_on_disk()));
  EXPECT_EQ(cpumask(), "f");
  EXPECT_EQ(journal_on_disk(), nullptr);
}

TEST_F(WorkqueueTest, RecoverRefusesABadSectionAndChangesNothing) {
  tree_.file(kFile, "3\n");
  auto actuator = make(faulty_);
  for (const nlohmann::json& bad :
       {nlohmann::json{{"cpumask", 7}}, nlohmann::json{{"mask", "f"}}, nlohmann::json{"f"},
        nlohmann::json{{"cpumask", "xyz"}}, nlohmann::json{{"cpumask", "0"}}}) {
    auto status = actuator->recover(bad);
    ASSERT_FALSE(status) << bad.dump();
    EXPECT_NE(status.error().message.find("workqueues"), std::string::npos)
        << status.error().message;
  }
  EXPECT_EQ(cpumask(), "3\n");
  EXPECT_EQ(faulty_.write_attempts(path()), 0);
}

TEST_F(WorkqueueTest, MissingFileDisablesWithOneLineAndNoMoreIo) {
  std::filesystem::remove(path());
  WatchingFs fs(real_, path(), tree_.path("journal.json"));
  auto actuator = make(fs);
  for (int period = 0; period < 3; ++period) {
    ASSERT_TRUE(actuator->apply(kShrunk, kOnline)) << "a missing file is not an error";
  }
  EXPECT_EQ(fs.reads, 1);
  ASSERT_EQ(events_.size(), 1U);
  EXPECT_NE(events_[0].find("not steered"), std::string::npos) << events_[0];
  EXPECT_EQ(actuator->status()["state"], "unavailable");
  ASSERT_TRUE(actuator->restore());
  EXPECT_FALSE(tree_.exists("journal.json"));
}

TEST_F(WorkqueueTest, ReadOnlySysfsDisablesLikeAMissingFile) {
  faulty_.fail_writes(path(), EROFS);
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  ASSERT_TRUE(actuator->apply(CpuSet{0}, kOnline));
  EXPECT_EQ(faulty_.write_attempts(path()), 1);
  EXPECT_EQ(actuator->status()["state"], "unavailable");
  EXPECT_EQ(cpumask(), "f\n");
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(journal_on_disk(), nullptr);
}

TEST_F(WorkqueueTest, WideMasksKeepTheKernelsWidth) {
  tree_.file(kFile, "00000000,0000ffff\n");  // nr_cpu_ids 64 with 16 possible
  auto actuator = make(faulty_);
  ASSERT_TRUE(actuator->apply(CpuSet::range(0, 9), CpuSet::range(0, 15)));
  EXPECT_EQ(cpumask(), "00000000,000003ff");
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(cpumask(), "00000000,0000ffff");
}

}  // namespace
}  // namespace prefcpu
