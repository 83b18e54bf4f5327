// The kthread actuator on a fixture /proc with a fake sched_setaffinity (FakeKthreads): which
// kernel threads move, journal before the move, grow, restore at exit, a thread someone else
// re-pinned, EINVAL, EPERM, exited threads, recovery from a crash journal, and no /proc scan
// while no thread can move.
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "linux/housekeeping/kthread_actuator.h"
#include "support/fake_kthreads.h"
#include "support/fixture_tree.h"
#include "support/forwarding_fs.h"

namespace prefcpu {
namespace {

using testing::FakeKthread;
using testing::FakeKthreads;
using testing::FixtureTree;

const CpuSet kOnline = CpuSet::range(0, 3);
const CpuSet kShrunk{0, 1};
constexpr pid_t kKthreadd = 2;
constexpr pid_t kKsoftirqd = 10;
constexpr pid_t kKworker = 11;
constexpr pid_t kKhugepaged = 40;
constexpr pid_t kKcompactd = 41;
constexpr pid_t kIrqThread = 42;
constexpr pid_t kNarrow = 43;
constexpr pid_t kInit = 1;

// Counts the calls that reach the fixture /proc: listing it, and each task's stat and status.
class ProcCountingFs final : public testing::ForwardingKernelFs {
 public:
  ProcCountingFs(KernelFs& inner, std::filesystem::path proc)
      : ForwardingKernelFs(inner), proc_(std::move(proc)) {}
  Result<std::string> read(const std::filesystem::path& path) const override {
    count(path);
    return ForwardingKernelFs::read(path);
  }
  Result<std::string> reread(const std::filesystem::path& path) override {
    count(path);
    return ForwardingKernelFs::reread(path);
  }
  Result<std::vector<std::string>> list(const std::filesystem::path& dir) const override {
    count(dir);
    return ForwardingKernelFs::list(dir);
  }
  mutable int proc_calls = 0;

 private:
  void count(const std::filesystem::path& path) const {
    if (path.native().starts_with(proc_.native())) ++proc_calls;
  }
  std::filesystem::path proc_;
};

PidStat stat_of(std::uint64_t flags, pid_t ppid = 2) {
  PidStat stat;
  stat.pid = 40;
  stat.ppid = ppid;
  stat.flags = flags;
  return stat;
}

TEST(ClassifyKthread, OnlyUnboundKthreadsThatAcceptAffinityMove) {
  EXPECT_EQ(classify_kthread(stat_of(0x00400100, 1), kOnline), KthreadKind::kNotKthread);
  EXPECT_EQ(classify_kthread(stat_of(kPfKthread, 0), kOnline), KthreadKind::kKthreadd);
  EXPECT_EQ(classify_kthread(stat_of(kPfKthread | kPfNoSetaffinity), kOnline),
            KthreadKind::kNoSetaffinity);
  EXPECT_EQ(classify_kthread(stat_of(kPfKthread), CpuSet{2}), KthreadKind::kPerCpu);
  EXPECT_EQ(classify_kthread(stat_of(kPfKthread), kShrunk), KthreadKind::kMovable);
}

TEST(ParsePidStat, KeepsTheCommAndTheNoSetaffinityFlag) {
  auto stat = parse_pid_stat(
      "33 (rcu_tasks (x)) S 2 0 0 0 -1 69238848 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0 "
      "18446744073709551615 "
      "0 0 0 0 0 0 0 2147483647 0 0 0 0 17 1 0 0 0 0 0\n");
  ASSERT_TRUE(stat) << stat.error().message;
  EXPECT_EQ(stat->comm, "rcu_tasks (x)");
  EXPECT_TRUE(stat->kernel_thread());
  EXPECT_TRUE(stat->no_setaffinity());  // 69238848 = 0x04208040
}

class KthreadTest : public ::testing::Test {
 protected:
  KthreadTest()
      : kthreads_(tree_.dir("proc"), kOnline),
        journal_(testing::real_fs(), tree_.path("journal.json")),
        fs_(testing::real_fs(), tree_.path("proc")) {
    tree_.file("sys/devices/system/cpu/online", "0-3\n");
    kthreads_.add(kInit, {.comm = "init", .allowed = kOnline, .kernel_thread = false, .ppid = 0});
    kthreads_.add(kKthreadd, {.comm = "kthreadd", .allowed = kOnline, .ppid = 0});
    kthreads_.add(kKsoftirqd, {.comm = "ksoftirqd/0", .allowed = {0}, .no_setaffinity = true});
    kthreads_.add(kKworker, {.comm = "kworker/u8:0", .allowed = kOnline, .no_setaffinity = true});
    kthreads_.add(kKhugepaged, {.comm = "khugepaged", .allowed = kOnline});
    kthreads_.add(kKcompactd, {.comm = "kcompactd0", .allowed = kOnline});
    kthreads_.add(kIrqThread, {.comm = "irq/24-ACPI:Ged", .allowed = {1}});
    kthreads_.add(kNarrow, {.comm = "rcu_preempt", .allowed = {2, 3}});
  }

  std::unique_ptr<Actuator> make(Journal& journal) {
    KthreadOptions options;
    options.proc_root = tree_.path("proc");
    options.online = tree_.path("sys/devices/system/cpu/online");
    options.setter = std::shared_ptr<AffinitySetter>(&kthreads_, [](AffinitySetter*) {});
    options.on_event = [this](std::string_view line) { events_.emplace_back(line); };
    return make_kthread_actuator(fs_, journal, std::move(options));
  }
  std::unique_ptr<Actuator> make() { return make(journal_); }
  // A reconcile every reconcile_interval_ms, with nothing changed.
  void reconcile(Actuator& actuator, const CpuSet& preferred, int times) {
    for (int i = 0; i < times; ++i) ASSERT_TRUE(actuator.apply(preferred, kOnline));
  }
  nlohmann::json journal_on_disk() const {
    auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
    EXPECT_TRUE(loaded) << loaded.error().message;
    if (!loaded || !loaded->has_value()) return nullptr;
    return (**loaded).value("kthreads", nlohmann::json());
  }
  std::vector<pid_t> called() const {
    std::vector<pid_t> pids;
    for (const auto& [pid, cpus] : kthreads_.calls()) pids.push_back(pid);
    return pids;
  }
  bool saw_event(std::string_view needle) const {
    for (const auto& line : events_) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  FixtureTree tree_;
  FakeKthreads kthreads_;
  Journal journal_;
  ProcCountingFs fs_;
  std::vector<std::string> events_;
};

TEST_F(KthreadTest, ShrinkMovesOnlyTheMovableUnboundKthreads) {
  auto actuator = make();
  EXPECT_EQ(actuator->name(), "kthreads");
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(called(), (std::vector<pid_t>{kKhugepaged, kKcompactd}));
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kShrunk);
  EXPECT_EQ(kthreads_.allowed(kKcompactd), kShrunk);
  EXPECT_EQ(kthreads_.allowed(kKthreadd), kOnline) << "new kthreads start from kthreadd's mask";
  EXPECT_EQ(kthreads_.allowed(kKworker), kOnline) << "PF_NO_SETAFFINITY: the workqueues' business";
  EXPECT_EQ(kthreads_.allowed(kIrqThread), CpuSet{1}) << "one CPU: per-CPU or pinned";
  EXPECT_EQ(kthreads_.allowed(kNarrow), (CpuSet{2, 3})) << "no preferred CPU in it: kept";
  EXPECT_EQ(kthreads_.allowed(kInit), kOnline) << "user space is the cpusets' business";
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["state"], "following");
  EXPECT_EQ(status["confined"], 2);
  EXPECT_EQ(status["movable"], 3);
  EXPECT_EQ(status["kthreads"], 7);
  EXPECT_EQ(status["moves"], 2);
  EXPECT_TRUE(
      saw_event("2 unbound kernel threads confined to 0-1: khugepaged (40), kcompactd0 (41)"));
  kthreads_.clear_calls();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_TRUE(kthreads_.calls().empty()) << "nothing changes: nothing written";
}

TEST_F(KthreadTest, NothingConfinedAndEveryOnlineCpuPreferredReadsNoProc) {
  auto actuator = make();
  reconcile(*actuator, kOnline, 10);
  EXPECT_EQ(fs_.proc_calls, 0) << "no thread can move: /proc is not listed, no task is read";
  EXPECT_TRUE(kthreads_.calls().empty());
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["state"], "original");
  EXPECT_EQ(status["scans"], 0);
  EXPECT_TRUE(status["kthreads"].is_null()) << "not scanned yet: not known";
  EXPECT_FALSE(tree_.exists("journal.json"));
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_GT(fs_.proc_calls, 0);
  EXPECT_EQ(actuator->status()["scans"], 1);
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kShrunk);
}

TEST_F(KthreadTest, WhileShrunkEachReconcileScansThenAfterTheGrowNoneDoes) {
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  // Created since the last scan: it starts from kthreadd's mask, all of online.
  constexpr pid_t kKswapd = 50;
  kthreads_.add(kKswapd, {.comm = "kswapd0", .allowed = kOnline, .start_time = 300});
  reconcile(*actuator, kShrunk, 1);
  EXPECT_EQ(kthreads_.allowed(kKswapd), kShrunk) << "the reconcile confines a new kthread";
  EXPECT_EQ(actuator->status()["confined"], 3);
  EXPECT_EQ(actuator->status()["scans"], 2);
  // The grow puts every original back: that needs the scan, and one failure keeps it needed.
  kthreads_.fail_with(ENOMEM, 1);
  ASSERT_FALSE(actuator->apply(kOnline, kOnline));
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kShrunk);
  EXPECT_EQ(actuator->status()["confined"], 1);
  reconcile(*actuator, kOnline, 1);
  for (pid_t pid : {kKhugepaged, kKcompactd, kKswapd}) EXPECT_EQ(kthreads_.allowed(pid), kOnline);
  EXPECT_EQ(actuator->status()["confined"], 0);
  EXPECT_EQ(actuator->status()["scans"], 4);
  EXPECT_EQ(journal_on_disk(), nullptr);
  fs_.proc_calls = 0;
  kthreads_.clear_calls();
  reconcile(*actuator, kOnline, 10);
  EXPECT_EQ(fs_.proc_calls, 0) << "every original back, every CPU preferred: nothing to scan for";
  EXPECT_TRUE(kthreads_.calls().empty());
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["scans"], 4);
  EXPECT_EQ(status["kthreads"], 8) << "as the last scan saw them";
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(kthreads_.allowed(kKswapd), kShrunk) << "a shrink scans again";
}

TEST_F(KthreadTest, TheJournalHoldsTheOriginalBeforeTheMove) {
  int unjournaled = 0;
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_TRUE(kthreads_.calls().empty());
  EXPECT_FALSE(tree_.exists("journal.json")) << "a run that moved nothing leaves no journal";
  // Checked at the moment of each move, through a setter that reads the journal on disk first.
  class Checking final : public AffinitySetter {
   public:
    Checking(AffinitySetter& inner, std::filesystem::path journal, int& unjournaled)
        : inner_(inner), journal_(std::move(journal)), unjournaled_(unjournaled) {}
    Status set_affinity(pid_t pid, const CpuSet& cpus) override {
      auto loaded = Journal::load(testing::real_fs(), journal_);
      bool found = false;
      if (loaded && loaded->has_value() && (**loaded).contains("kthreads")) {
        for (const auto& entry : (**loaded)["kthreads"]["threads"]) {
          found = found || (entry["pid"] == pid && entry["original"] == "0-3" &&
                            entry["set"] == format_cpulist(cpus));
        }
      }
      if (!found) ++unjournaled_;
      return inner_.set_affinity(pid, cpus);
    }

   private:
    AffinitySetter& inner_;
    std::filesystem::path journal_;
    int& unjournaled_;
  };
  KthreadOptions options;
  options.proc_root = tree_.path("proc");
  options.online = tree_.path("sys/devices/system/cpu/online");
  options.setter = std::make_shared<Checking>(kthreads_, tree_.path("journal.json"), unjournaled);
  Journal journal(testing::real_fs(), tree_.path("journal.json"));
  auto checked = make_kthread_actuator(testing::real_fs(), journal, std::move(options));
  ASSERT_TRUE(checked->apply(kShrunk, kOnline));
  ASSERT_TRUE(checked->apply(CpuSet{0}, kOnline));
  EXPECT_EQ(kthreads_.calls().size(), 4u);
  EXPECT_EQ(unjournaled, 0);
  auto section = journal_on_disk();
  ASSERT_TRUE(section.is_object());
  EXPECT_EQ(section["threads"].size(), 2u);
  EXPECT_EQ(section["threads"][0], (nlohmann::json{{"pid", 40},
                                                   {"start_time", 100},
                                                   {"comm", "khugepaged"},
                                                   {"original", "0-3"},
                                                   {"set", "0"}}))
      << "no \"previous\" once the move is made";
}

TEST_F(KthreadTest, GrowWidensThenPutsTheOriginalBack) {
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(CpuSet{0}, kOnline));
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), CpuSet{0});
  ASSERT_TRUE(actuator->apply(CpuSet{0, 1, 2}, kOnline));
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), (CpuSet{0, 1, 2}));
  EXPECT_EQ(kthreads_.allowed(kNarrow), CpuSet{2}) << "2-3 ∩ 0-2: it has a preferred CPU now";
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kOnline);
  EXPECT_EQ(kthreads_.allowed(kKcompactd), kOnline);
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["state"], "original");
  EXPECT_EQ(status["confined"], 0);
  EXPECT_EQ(status["restored"], 3);
  EXPECT_EQ(kthreads_.allowed(kNarrow), (CpuSet{2, 3}));
  EXPECT_EQ(journal_on_disk(), nullptr) << "nothing left to restore: the section is dropped";
}

TEST_F(KthreadTest, RestorePutsBackEveryOriginalAndSkipsExitedThreads) {
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  kthreads_.exit(kKcompactd);
  kthreads_.clear_calls();
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(called(), std::vector<pid_t>{kKhugepaged});
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kOnline);
  EXPECT_EQ(journal_on_disk(), nullptr);
  EXPECT_EQ(actuator->status()["confined"], 0);
  ASSERT_TRUE(actuator->restore()) << "idempotent";
}

TEST_F(KthreadTest, AThreadSomeoneElseRepinnedIsLeftAlone) {
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  kthreads_.repin(kKhugepaged, CpuSet{3});  // taskset -p 8 40, while shrunk
  kthreads_.repin(kKcompactd, CpuSet{0});   // narrower, inside what prefcpu set: still theirs
  kthreads_.clear_calls();
  ASSERT_TRUE(actuator->apply(kOnline, kOnline));
  EXPECT_TRUE(kthreads_.calls().empty());
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), CpuSet{3});
  EXPECT_EQ(kthreads_.allowed(kKcompactd), CpuSet{0});
  EXPECT_EQ(actuator->status()["left_alone"], 2);
  EXPECT_TRUE(saw_event("khugepaged (40) was set to 3 by someone else; left as it is"));
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_TRUE(kthreads_.calls().empty()) << "a mask of one CPU is a pin: never moved again";
}

TEST_F(KthreadTest, ARepinAfterTheLastApplyIsLeftAloneAtExit) {
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  kthreads_.repin(kKcompactd, CpuSet{1, 2});
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(kthreads_.allowed(kKcompactd), (CpuSet{1, 2}));
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kOnline);
  EXPECT_EQ(journal_on_disk(), nullptr);
}

TEST_F(KthreadTest, EinvalIsSkippedAndNotTriedAgain) {
  kthreads_.fail_with(EINVAL, 1);  // the first move: PF_NO_SETAFFINITY set since the scan
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline)) << "a refusal is not an error";
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kOnline);
  EXPECT_EQ(kthreads_.allowed(kKcompactd), kShrunk);
  EXPECT_EQ(actuator->status()["refused"], 1);
  EXPECT_EQ(actuator->status()["confined"], 1);
  kthreads_.clear_calls();
  ASSERT_TRUE(actuator->apply(CpuSet{0}, kOnline));
  EXPECT_EQ(called(), std::vector<pid_t>{kKcompactd});
  ASSERT_TRUE(actuator->restore());
  auto section = journal_on_disk();
  EXPECT_EQ(section, nullptr);
}

TEST_F(KthreadTest, EpermStopsForTheRunWithoutAnError) {
  kthreads_.fail_with(EPERM);  // no CAP_SYS_NICE
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(actuator->status()["state"], "unavailable");
  EXPECT_EQ(actuator->status()["confined"], 0);
  EXPECT_EQ(kthreads_.calls().size(), 1u) << "stops at the first refusal";
  EXPECT_EQ(journal_on_disk(), nullptr);
  ASSERT_TRUE(actuator->apply(CpuSet{0}, kOnline));
  EXPECT_EQ(kthreads_.calls().size(), 1u);
}

TEST_F(KthreadTest, ATransientErrorIsReportedAndRetried) {
  kthreads_.fail_with(ENOMEM, 1);
  auto actuator = make();
  auto status = actuator->apply(kShrunk, kOnline);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("sched_setaffinity(40)"), std::string::npos);
  EXPECT_EQ(kthreads_.allowed(kKcompactd), kShrunk) << "the others still move";
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kShrunk);
  EXPECT_TRUE(actuator->status()["last_error"].is_null());
}

TEST_F(KthreadTest, AReusedTidIsANewThread) {
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  kthreads_.exit(kKhugepaged);
  kthreads_.add(kKhugepaged, {.comm = "kswapd0", .allowed = kOnline, .start_time = 999});
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kShrunk);
  EXPECT_EQ(actuator->status()["exited"], 1);
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kOnline);
}

TEST_F(KthreadTest, ACrashIsUndoneFromTheJournal) {
  {
    auto crashed = make();
    ASSERT_TRUE(crashed->apply(kShrunk, kOnline));
  }  // SIGKILL: no restore()
  ASSERT_EQ(kthreads_.allowed(kKhugepaged), kShrunk);
  kthreads_.repin(kKcompactd, CpuSet{3});  // re-pinned by someone between crash and restart
  auto section = journal_on_disk();
  ASSERT_TRUE(section.is_object());
  Journal recovery(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(recovery.record("kthreads", section));
  auto actuator = make(recovery);
  ASSERT_TRUE(actuator->recover(section));
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kOnline);
  EXPECT_EQ(kthreads_.allowed(kKcompactd), CpuSet{3});
  EXPECT_EQ(journal_on_disk(), nullptr);
}

TEST_F(KthreadTest, RecoveryKnowsAMoveInFlightAndAReusedTid) {
  kthreads_.repin(kKhugepaged, kShrunk);  // the move from 0-1 to 0 never happened
  kthreads_.repin(kKcompactd, kShrunk);   // a new thread with the TID: other start time
  nlohmann::json section = {
      {"threads",
       {{{"pid", kKhugepaged},
         {"start_time", 100},
         {"original", "0-3"},
         {"set", "0"},
         {"previous", "0-1"}},
        {{"pid", kKcompactd}, {"start_time", 7}, {"original", "0-3"}, {"set", "0-1"}},
        {{"pid", 77}, {"start_time", 1}, {"original", "0-3"}, {"set", "0-1"}}}}};
  auto actuator = make();
  auto status = actuator->recover(section);
  ASSERT_TRUE(status) << status.error().message;
  EXPECT_EQ(kthreads_.allowed(kKhugepaged), kOnline);
  EXPECT_EQ(kthreads_.allowed(kKcompactd), kShrunk) << "not the thread prefcpu moved";
  EXPECT_EQ(called(), std::vector<pid_t>{kKhugepaged}) << "exited 77 is skipped";
}

TEST_F(KthreadTest, RecoveryRefusesAJournalItCannotRead) {
  auto actuator = make();
  for (const auto& bad :
       {nlohmann::json{{"threads", 3}}, nlohmann::json{{"thread", {}}},
        nlohmann::json{{"threads", {{{"pid", 40}}}}},
        nlohmann::json{
            {"threads", {{{"pid", 40}, {"start_time", 1}, {"original", "x"}, {"set", "0"}}}}}}) {
    auto status = actuator->recover(bad);
    ASSERT_FALSE(status) << bad.dump();
    EXPECT_NE(status.error().message.find("journal section kthreads"), std::string::npos);
  }
  EXPECT_TRUE(kthreads_.calls().empty());
}

}  // namespace
}  // namespace prefcpu
