// The whole prefcpud with the systemd backend on a fake bus: `backend = auto` picks it on a
// fixture tree where PID 1 is systemd on cgroup v2, and the status (and so the metrics' label)
// says so.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "daemon/daemon.h"
#include "fake_bus.h"
#include "support/fake_cpus.h"
#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using testing::FakeBus;
using testing::FakeSystemd;
using testing::FixtureTree;

class DaemonSystemdTest : public ::testing::Test {
 protected:
  DaemonSystemdTest() {
    write_fake_guest_cpus(tree);
    tree.file("proc/1/comm", "systemd\n");
    tree.file("cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
    tree.file("proc/self/mountinfo", "30 1 0:26 / " + tree.path("cgroup").string() +
                                         " rw - cgroup2 cgroup2 rw,nsdelegate\n");
    write_stat();
    config.irq_mode = IrqMode::kOff;
    systemd.add("system.slice");
    systemd.add("user.slice");
    systemd.add("machine.slice");
  }
  void write_stat() {
    tree.file("proc/stat", "cpu  10 0 10 100 0 0 0 " + std::to_string(steal_ticks) +
                               " 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\ncpu1 1 0 1 1 0 0 0 0 0 0\n"
                               "cpu2 1 0 1 1 0 0 0 0 0 0\ncpu3 1 0 1 1 0 0 0 0 0 0\nintr 0\n");
  }
  std::unique_ptr<Daemon> start() {
    DaemonDeps deps{fs, clock, log, [this]() -> Result<Config> { return config; }};
    deps.user_hz = 100;
    deps.make_bus = [this] { return std::make_unique<FakeBus>(systemd); };
    auto daemon = std::make_unique<Daemon>(std::move(deps),
                                           DaemonPaths{tree.path("state"), tree.path("proc/stat"),
                                                       tree.path("sys"), tree.path("proc")},
                                           config);
    auto started = daemon->start();
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().message);
    return daemon;
  }
  // One period with `fraction` of all CPU time stolen.
  void period(Daemon& daemon, double fraction) {
    auto interval_ms = daemon.monitor().knobs().interval_ms;
    clock.advance(std::int64_t{interval_ms} * 1'000'000);
    steal_ticks += testing::fake_guest_steal_ticks(fraction, interval_ms);
    write_stat();
    daemon.run_period();
  }

  FixtureTree tree;
  RealKernelFs fs;
  FakeClock clock{5'000'000'000};
  Logger log{LogSink::kCapture};
  Config config;
  FakeSystemd systemd;
  std::uint64_t steal_ticks = 1000;
};

TEST_F(DaemonSystemdTest, AutoConfinesTheSlicesThroughSystemdAndReportsTheBackend) {
  auto daemon = start();
  ASSERT_TRUE(daemon);
  EXPECT_EQ(daemon->status()["backend"], "systemd");
  EXPECT_EQ(systemd.units.at("system.slice").allowed, CpuSet::range(0, 3));  // every online CPU
  period(*daemon, 0.5);  // steal_bp 5000 > 500: one core leaves
  EXPECT_EQ(systemd.units.at("system.slice").allowed, CpuSet::range(0, 2));
  EXPECT_EQ(systemd.units.at("machine.slice").allowed, CpuSet::range(0, 2));
  ASSERT_TRUE(daemon->stop().ok());
  EXPECT_TRUE(systemd.units.at("system.slice").allowed.empty());  // unset again, as it was
}

TEST_F(DaemonSystemdTest, CgroupfsIsReportedWhenAsked) {
  config.backend = Backend::kCgroupfs;
  tree.file("cgroup/cpuset.cpus.effective", "0-3\n");
  auto daemon = start();
  ASSERT_TRUE(daemon);
  EXPECT_EQ(daemon->status()["backend"], "cgroupfs");
  EXPECT_TRUE(systemd.sets.empty());
}

}  // namespace
}  // namespace prefcpu
