// prefcpud's housekeeping actuators on fixture trees. Workqueues: follows the mask, costs nothing
// in steady state, restores at stop and from a crash journal, and can be turned off. Kernel
// threads (a fake sched_setaffinity): the same, and never under a fixture /proc by default.
#include <gtest/gtest.h>

#include "daemon/daemon.h"
#include "daemon_fixture.h"
#include "support/fake_kthreads.h"
#include "support/forwarding_fs.h"

namespace prefcpu::testing {
namespace {

constexpr const char* kCpumask = "sys/devices/virtual/workqueue/cpumask";

// Counts the reads and writes of one file.
class FileCountingFs final : public ForwardingKernelFs {
 public:
  FileCountingFs(KernelFs& inner, std::filesystem::path watched)
      : ForwardingKernelFs(inner), watched_(std::move(watched)) {}
  Result<std::string> read(const std::filesystem::path& path) const override {
    if (path == watched_) ++calls;
    return ForwardingKernelFs::read(path);
  }
  Status write(const std::filesystem::path& path, std::string_view value) override {
    if (path == watched_) ++calls;
    return ForwardingKernelFs::write(path, value);
  }
  mutable int calls = 0;

 private:
  std::filesystem::path watched_;
};

class DaemonWorkqueueTest : public DaemonTest {
 protected:
  DaemonWorkqueueTest() {
    fake.make_cgroup("work", "0-3");
    tree.file(kCpumask, "f\n");
  }
  std::string cpumask() const { return tree.read(kCpumask); }
};

TEST_F(DaemonWorkqueueTest, FollowsPreferredAndIsRestoredAtStop) {
  auto d = start();
  EXPECT_TRUE(logged("workqueues: unbound workqueues follow preferred"));
  period(*d, 0.5);
  EXPECT_EQ(cpumask(), "7");
  period(*d, 0.5);
  period(*d, 0.5);
  EXPECT_EQ(cpumask(), "1");
  auto status = status_file()["actuators"]["workqueues"];
  EXPECT_EQ(status["state"], "following");
  EXPECT_EQ(status["original"], "f");
  EXPECT_EQ(status["cpus"], 1);
  auto journal = nlohmann::json::parse(tree.read("state/journal.json"));
  EXPECT_EQ(journal["workqueues"]["cpumask"], "f");
  period(*d, 0.0);  // grow
  EXPECT_EQ(cpumask(), "3");
  ASSERT_TRUE(d->stop().ok());
  EXPECT_EQ(cpumask(), "f");
  EXPECT_FALSE(tree.exists("state/journal.json"));
}

TEST_F(DaemonWorkqueueTest, SteadyPeriodsTouchItOnlyAtTheReconcileCadence) {
  config.reconcile_interval_ms = 3000;
  FileCountingFs counting(fake, tree.path(kCpumask));
  daemon = make(counting);
  ASSERT_TRUE(daemon->start().ok());
  auto d = std::move(daemon);
  EXPECT_EQ(counting.calls, 1) << "the baseline reads it once";
  period(*d, 0.5);
  EXPECT_EQ(counting.calls, 3) << "a change: one read, one write";
  counting.calls = 0;
  period(*d, 0.03);  // hold
  period(*d, 0.03);
  EXPECT_EQ(counting.calls, 0) << "a steady period leaves the file alone";
  period(*d, 0.03);  // 3 s after the last apply: the reconcile cadence
  EXPECT_EQ(counting.calls, 1) << "the reconcile reads it and writes nothing";
  EXPECT_EQ(cpumask(), "7");
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonWorkqueueTest, OffLeavesItAlone) {
  config.workqueues = false;
  auto d = start();
  period(*d, 0.5);
  EXPECT_EQ(fake.cpus("work"), "0-2");
  EXPECT_EQ(cpumask(), "f\n");
  EXPECT_TRUE(logged("workqueues: not steered (workqueues = false)"));
  EXPECT_FALSE(status_file()["actuators"].contains("workqueues"));
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonWorkqueueTest, AMissingFileIsOneLineAndNoActuator) {
  std::filesystem::remove(tree.path(kCpumask));
  auto d = start();
  period(*d, 0.5);
  EXPECT_TRUE(logged("workqueues: not steered ("));
  EXPECT_FALSE(status_file()["actuators"].contains("workqueues"));
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonWorkqueueTest, DryRunWritesNothing) {
  config.dry_run = true;
  auto d = start();
  period(*d, 0.5);
  EXPECT_EQ(cpumask(), "f\n");
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonWorkqueueTest, ACrashJournalIsRestoredEvenWhenTurnedOffNow) {
  tree.file(kCpumask, "1\n");  // what a SIGKILLed prefcpud left
  tree.file("state/journal.json",
            nlohmann::json{{"version", 1}, {"workqueues", {{"cpumask", "f"}}}}.dump());
  config.workqueues = false;
  auto d = start();
  EXPECT_EQ(cpumask(), "f");
  EXPECT_TRUE(logged("restored workqueues from the journal"));
  ASSERT_TRUE(d->stop().ok());
  EXPECT_FALSE(tree.exists("state/journal.json"));
}

class DaemonKthreadTest : public DaemonTest {
 protected:
  DaemonKthreadTest() {
    fake.make_cgroup("work", "0-3");
    kthreads->add(40, {.comm = "khugepaged", .allowed = CpuSet::range(0, 3)});
    kthreads->add(41, {.comm = "ksoftirqd/0", .allowed = {0}, .no_setaffinity = true});
    affinity_setter = kthreads;
  }
  std::shared_ptr<FakeKthreads> kthreads =
      std::make_shared<FakeKthreads>(fake.proc_root(), CpuSet::range(0, 3));
};

TEST_F(DaemonKthreadTest, FollowPreferredAndAreRestoredAtStop) {
  auto d = start();
  EXPECT_TRUE(logged("kthreads: unbound kernel threads follow preferred"));
  period(*d, 0.5);
  EXPECT_EQ(kthreads->allowed(40), CpuSet::range(0, 2));
  period(*d, 0.5);
  period(*d, 0.5);
  EXPECT_EQ(kthreads->allowed(40), CpuSet{0});
  EXPECT_EQ(kthreads->allowed(41), CpuSet{0});
  EXPECT_TRUE(logged("kthreads: 1 unbound kernel threads confined to 0: khugepaged (40)"));
  auto status = status_file()["actuators"]["kthreads"];
  EXPECT_EQ(status["state"], "following");
  EXPECT_EQ(status["confined"], 1);
  EXPECT_NE(format_metrics(metrics_from_status(d->status())).find("prefcpu_kthreads_confined 1"),
            std::string::npos);
  auto journal = nlohmann::json::parse(tree.read("state/journal.json"));
  EXPECT_EQ(journal["kthreads"]["threads"][0]["original"], "0-3");
  period(*d, 0.0);  // grow
  EXPECT_EQ(kthreads->allowed(40), (CpuSet{0, 1}));
  ASSERT_TRUE(d->stop().ok());
  EXPECT_EQ(kthreads->allowed(40), CpuSet::range(0, 3));
  EXPECT_FALSE(tree.exists("state/journal.json"));
}

TEST_F(DaemonKthreadTest, OffLeavesThemAlone) {
  config.kthreads = false;
  auto d = start();
  period(*d, 0.5);
  EXPECT_EQ(fake.cpus("work"), "0-2");
  EXPECT_TRUE(kthreads->calls().empty());
  EXPECT_TRUE(logged("kthreads: not moved (kthreads = false)"));
  EXPECT_FALSE(status_file()["actuators"].contains("kthreads"));
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonKthreadTest, AFixtureProcIsNeverThisMachinesTasks) {
  affinity_setter.reset();  // the default factory: sched_setaffinity on /proc only
  auto d = start();
  period(*d, 0.5);
  EXPECT_TRUE(logged("kthreads: not moved (no sched_setaffinity for proc root"));
  EXPECT_FALSE(status_file()["actuators"].contains("kthreads"));
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonKthreadTest, ACrashJournalIsRestoredEvenWhenTurnedOffNow) {
  kthreads->repin(40, CpuSet{0});  // what a SIGKILLed prefcpud left
  tree.file(
      "state/journal.json",
      nlohmann::json{
          {"version", 1},
          {"kthreads",
           {{"threads", {{{"pid", 40}, {"start_time", 100}, {"original", "0-3"}, {"set", "0"}}}}}}}
          .dump());
  config.kthreads = false;
  auto d = start();
  EXPECT_EQ(kthreads->allowed(40), CpuSet::range(0, 3));
  EXPECT_TRUE(logged("restored kthreads from the journal"));
  ASSERT_TRUE(d->stop().ok());
  EXPECT_FALSE(tree.exists("state/journal.json"));
}

}  // namespace
}  // namespace prefcpu::testing
