// One owner of state, modes as sources, and a steady state that touches nothing but /proc/stat.
#include <gtest/gtest.h>

#include "daemon/daemon.h"
#include "daemon_fixture.h"
#include "support/cpus.h"
#include "support/forwarding_fs.h"

namespace prefcpu::testing {
namespace {

// Counts every call but rereads of /proc/stat: what a steady period must not do.
class CountingFs final : public ForwardingKernelFs {
 public:
  using ForwardingKernelFs::ForwardingKernelFs;
  Result<std::string> read(const std::filesystem::path& path) const override {
    ++calls;
    return ForwardingKernelFs::read(path);
  }
  Result<std::string> reread(const std::filesystem::path& path) override {
    ++rereads;
    return ForwardingKernelFs::reread(path);
  }
  Status write(const std::filesystem::path& path, std::string_view value) override {
    ++calls;
    return ForwardingKernelFs::write(path, value);
  }
  Result<std::vector<std::string>> list(const std::filesystem::path& dir) const override {
    ++calls;
    return ForwardingKernelFs::list(dir);
  }
  bool exists(const std::filesystem::path& path) const override {
    ++calls;
    return ForwardingKernelFs::exists(path);
  }
  bool is_directory(const std::filesystem::path& path) const override {
    ++calls;
    return ForwardingKernelFs::is_directory(path);
  }
  Status replace_file(const std::filesystem::path& path, std::string_view content,
                      bool durable) override {
    ++calls;
    return ForwardingKernelFs::replace_file(path, content, durable);
  }
  mutable int calls = 0;
  int rereads = 0;
};

// Reproduces issue 12's reload bug: the file's interval must retime the next period even when
// it equals the value the daemon started with, because `set` changed it in between.
TEST_F(DaemonTest, ReloadAfterARuntimeSetRetimesTheNextPeriod) {
  auto d = start();
  ASSERT_TRUE(ask(*d, {{"cmd", "set"}, {"knob", "interval_ms"}, {"value", "100000"}})["ok"]);
  EXPECT_EQ(d->next_period_ns(), clock.monotonic_ns() + 100'000'000'000);
  next_config = config;  // the file still says 1000
  ASSERT_TRUE(d->reload().ok());
  EXPECT_EQ(d->monitor().knobs().interval_ms, 1000U);
  EXPECT_EQ(d->next_period_ns(), clock.monotonic_ns() + 1'000'000'000)
      << "the 100 s period set at runtime must not survive the reload";
  ASSERT_TRUE(d->stop().ok());
}

// Reproduces issue 12's idle bug: counters count what was enforced, not what the monitor thought.
TEST_F(DaemonTest, IdleModeCountsNoShrinks) {
  tree.file("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme\n");
  auto d = start();
  for (int i = 0; i < 3; ++i) period(*d, 0.5);
  auto counters = status_file()["counters"];
  EXPECT_EQ(counters["shrinks"], 0);
  EXPECT_EQ(counters["mask_changes"], 0);
  EXPECT_EQ(status_file()["last_action"], "idle");
  EXPECT_EQ(status_file()["steal_bp"], 5000) << "steal is still measured and shown";
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, CountersCountEachEnforcedShrinkAndGrow) {
  fake.make_cgroup("work", "0-3");
  auto d = start();
  period(*d, 0.5);
  period(*d, 0.5);
  period(*d, 0.0);
  auto counters = status_file()["counters"];
  EXPECT_EQ(counters["shrinks"], 2);
  EXPECT_EQ(counters["grows"], 1);
  EXPECT_EQ(counters["mask_changes"], 3);
  EXPECT_EQ(counters["periods"], 4);
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, ASteadyPeriodRereadsProcStatAndDoesNothingElse) {
  fake.make_cgroup("work", "0-3");
  config.knobs.interval_ms = 100;
  config.reconcile_interval_ms = 2000;
  config.irq_mode = IrqMode::kAuto;
  CountingFs counting(fake);
  daemon = make(counting);
  ASSERT_TRUE(daemon->start().ok());
  auto d = std::move(daemon);
  ASSERT_EQ(irq_calls.applies, 1) << "the baseline applies once";
  EXPECT_EQ(watched, std::vector<std::filesystem::path>{"/run/irqbalance"});
  counting.calls = 0;
  counting.rereads = 0;
  for (int i = 0; i < 9; ++i) period(*d, 0.03);  // hold, within the second status.json waits
  EXPECT_EQ(counting.rereads, 9);
  EXPECT_EQ(counting.calls, 0) << "a steady period reads /proc/stat and nothing else";
  EXPECT_EQ(irq_calls.applies, 1);
  for (int i = 0; i < 11; ++i) period(*d, 0.03);  // the reconcile cadence is reached
  EXPECT_EQ(irq_calls.applies, 2);
  watcher_pending = true;
  d->notice_change();  // irqbalance's socket appeared
  period(*d, 0.03);
  EXPECT_EQ(irq_calls.applies, 3) << "a watched change reconciles at the next period";
  period(*d, 0.5);
  EXPECT_EQ(irq_calls.applies, 4) << "a change of mask applies at once";
  EXPECT_EQ(fake.cpus("work"), "0-2");
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, ForeignWritesAreUndoneAtTheReconcileCadence) {
  fake.make_cgroup("work", "0-3");
  config.reconcile_interval_ms = 3000;
  auto d = start();
  period(*d, 0.5);
  ASSERT_EQ(fake.cpus("work"), "0-2");
  fake.foreign_write_cpus("work", "0-1");
  period(*d, 0.03);
  EXPECT_EQ(fake.cpus("work"), "0-1") << "not looked at in a steady period";
  period(*d, 0.03);
  period(*d, 0.03);
  EXPECT_EQ(status_file()["actuators"]["cpusets"]["adopted"], 1) << "seen at the cadence";
  ASSERT_TRUE(d->stop().ok());
}

// A source that breaks the invariant: the check in run_period must stop everything.
class EmptySource final : public PreferredSource {
 public:
  Step step(const Step& monitored, const StealMonitor& /*monitor*/) override { return monitored; }
  CpuSet preferred(const StealMonitor& /*monitor*/) const override { return {}; }
};

TEST_F(DaemonTest, ABrokenInvariantIsFatalAndRestoresEverything) {
  fake.make_cgroup("work", "0-3");
  make_source = [](DaemonMode) { return std::make_unique<EmptySource>(); };
  auto d = make(fake);
  ASSERT_TRUE(d->start().ok());
  ASSERT_TRUE(d->fatal().has_value());
  EXPECT_NE(d->fatal()->find("invariant broken"), std::string::npos);
  EXPECT_TRUE(fake.writes().empty()) << "nothing is applied once the invariant broke";
  EXPECT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, MirrorModeNeverPublishesAnEmptyMask) {
  tree.file("sys/devices/system/cpu/preferred", "7\n");  // only an offline CPU
  config.irq_mode = IrqMode::kBuiltin;
  auto d = start();
  ASSERT_EQ(d->mode(), DaemonMode::kMirror);
  period(*d, 0.0);
  EXPECT_FALSE(d->fatal().has_value());
  EXPECT_EQ(tree.read("state/preferred"), "0-3\n") << "nothing online: all online CPUs";
  tree.file("sys/devices/system/cpu/preferred", "garbage\n");
  period(*d, 0.0);
  period(*d, 0.0);
  EXPECT_EQ(tree.read("state/preferred"), "0-3\n");
  int warnings = 0;
  for (const auto& line : log.captured()) {
    warnings += line.find("keeping the last mask") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(warnings, 1) << "a bad kernel file is said once";
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, CustomMaskIsValidatedOnceWithOneMessage) {
  auto d = start();
  auto empty = ask(*d, {{"cmd", "set-preferred"}, {"cpus", ""}});
  EXPECT_EQ(empty["error"],
            "custom preferred mask is empty: expected at least one online CPU (or --auto to go "
            "back to the monitor)");
  auto offline = ask(*d, {{"cmd", "set-preferred"}, {"cpus", "2-5"}});
  EXPECT_EQ(offline["error"],
            "custom preferred mask \"2-5\" includes CPUs that are not online (\"4-5\"): expected "
            "a subset of online \"0-3\"");
  ASSERT_TRUE(d->stop().ok());
}

}  // namespace
}  // namespace prefcpu::testing
