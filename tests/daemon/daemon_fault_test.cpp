// Faults through the seams and input no kernel produces: each ends with nothing lost, one clear
// log line, and recovery at the next period or at restart.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "daemon/daemon.h"
#include "daemon_fixture.h"
#include "support/cpus.h"
#include "support/faulty_fs.h"

namespace prefcpu::testing {
namespace {

int count_logged(const Logger& log, std::string_view needle) {
  int n = 0;
  for (const auto& line : log.captured()) n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

void write_stat_text(FixtureTree& tree, const std::string& total, const std::string& cpus) {
  tree.file("proc/stat", "cpu  " + total + "\n" + cpus + "intr 0\n");
}

const std::string kFourCpus =
    "cpu0 1 0 1 1 0 0 0 0 0 0\ncpu1 1 0 1 1 0 0 0 0 0 0\ncpu2 1 0 1 1 0 0 0 0 0 0\n"
    "cpu3 1 0 1 1 0 0 0 0 0 0\n";

// A cgroup found after start must have its original on disk before any cpuset is written. The
// gap this found: the second period's discovery saw nothing new, skipped the journal, and wrote.
TEST_F(DaemonTest, AFailedJournalWriteWritesNothingLogsOnceAndIsRetried) {
  fake.make_cgroup("work", "0-3");
  FaultyKernelFs faulty(fake);
  daemon = make(faulty);
  ASSERT_TRUE(daemon->start().ok());
  auto d = std::move(daemon);
  fake.make_cgroup("late", "0-3");  // its original must be journaled before anything is written
  fake.clear_writes();
  faulty.fail_writes(tree.path("state/journal.json"), ENOSPC, 2);
  period(*d, 0.5);
  period(*d, 0.03);
  EXPECT_TRUE(fake.writes().empty()) << "no cpuset changes without its original on disk";
  EXPECT_EQ(count_logged(log, "No space left on device"), 1);
  period(*d, 0.03);  // retried though the mask did not change
  EXPECT_EQ(fake.cpus("work"), "0-2");
  EXPECT_EQ(fake.cpus("late"), "0-2");
  EXPECT_TRUE(logged("cpusets: applied again after earlier errors"));
  ASSERT_TRUE(d->stop().ok());
  EXPECT_EQ(fake.cpus("late"), "0-3");
}

TEST_F(DaemonTest, RefusedCpusetWritesAreRetriedUntilTheyPass) {
  for (int err : {EBUSY, ENOSPC, EIO}) {
    SCOPED_TRACE(err);
    FixtureTree t;
    FakeCgroupFs cgroups(t, CgroupVersion::kV1);
    cgroups.make_cgroup("a", "0-3");
    cgroups.make_cgroup("b", "0-3");
    t.file("sys/devices/system/cpu/online", "0-3\n");
    for (int cpu = 0; cpu < 4; ++cpu) {
      t.file("sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list",
             std::to_string(cpu) + "\n");
    }
    t.file("proc/cpuinfo", "flags\t\t: hypervisor\n");
    t.file("proc/self/mountinfo", "1 0 8:1 / / rw - ext4 /dev/vda rw\n");
    FaultyKernelFs faulty(cgroups);
    Logger quiet(LogSink::kCapture);
    Config c = config;
    c.cgroup_root = cgroups.cgroup_root().string();
    DaemonDeps deps{faulty, clock, quiet, nullptr};
    deps.user_hz = 100;
    deps.make_task_probe = [](const KernelFs& kernel, const std::filesystem::path& proc) {
      return std::make_shared<const ProcTaskProbe>(kernel, proc, false);
    };
    Daemon d(std::move(deps),
             {t.path("state"), t.path("proc/stat"), t.path("sys"), cgroups.proc_root()}, c);
    std::uint64_t steal = 1000;
    auto stat = [&](std::uint64_t add) {
      steal += add;
      write_stat_text(t, "10 0 10 100 0 0 0 " + std::to_string(steal) + " 0 0", kFourCpus);
    };
    stat(0);
    ASSERT_TRUE(d.start().ok());
    faulty.fail_writes(cgroups.cgroup_root() / "b/cpuset.cpus", err, 2);
    for (int i = 0; i < 3; ++i) {
      stat(i == 0 ? 200 : 12);  // a shrink, then holds
      clock.advance(1'000'000'000);
      d.run_period();
    }
    EXPECT_EQ(cgroups.cpus("a"), "0-2");
    EXPECT_EQ(cgroups.cpus("b"), "0-2") << "retried every period until it passed";
    EXPECT_EQ(count_logged(quiet, std::strerror(err)), 1) << "said once";
    EXPECT_EQ(count_logged(quiet, "applied again"), 1);
    ASSERT_TRUE(d.stop().ok());
    EXPECT_EQ(cgroups.cpus("b"), "0-3");
  }
}

TEST_F(DaemonTest, AManagedCgroupRemovedMidRunIsForgottenOnce) {
  fake.make_cgroup("work", "0-3");
  fake.make_cgroup("gone", "0-3");
  config.cgroups = {"work", "gone"};
  auto d = start();
  ASSERT_TRUE(fake.remove_directory(fake.cgroup_root() / "gone").ok());
  period(*d, 0.5);
  period(*d, 0.5);
  EXPECT_EQ(fake.cpus("work"), "0-1");
  EXPECT_EQ(count_logged(log, "cgroup gone is gone"), 1);
  EXPECT_FALSE(d->fatal().has_value());
  ASSERT_TRUE(d->stop().ok());
  EXPECT_EQ(fake.cpus("work"), "0-3");
}

TEST_F(DaemonTest, AFullStateDirectoryIsSaidOnceAndTheExitSaysWhy) {
  fake.make_cgroup("work", "0-3");
  FaultyKernelFs faulty(fake);
  daemon = make(faulty);
  ASSERT_TRUE(daemon->start().ok());
  auto d = std::move(daemon);
  for (const char* file : {"state/status.json", "state/preferred", "state/journal.json"}) {
    faulty.fail_writes(tree.path(file), ENOSPC);
  }
  for (int i = 0; i < 3; ++i) {
    period(*d, 0.5);
    period(*d, 0.0);
  }
  EXPECT_EQ(count_logged(log, "publishing " + tree.path("state/status.json").string()), 1);
  EXPECT_EQ(count_logged(log, "publishing " + tree.path("state/preferred").string()), 1);
  EXPECT_EQ(fake.cpus("work"), "0-3") << "no shrink without a journal";
  auto stopped = d->stop();
  faulty.clear_faults();
  EXPECT_EQ(fake.cpus("work"), "0-3") << "restored all the same";
  if (!stopped.ok()) {
    EXPECT_TRUE(logged("stopping: "));
  }
}

TEST_F(DaemonTest, ACorruptOrTruncatedJournalStopsTheStart) {
  fake.make_cgroup("work", "0-2");  // shrunk by the crashed run
  for (const char* text :
       {"", "{\"version\": 1, \"cpusets\": {\"root\"", "{\"version\": 1, \"cpusets\": null}",
        "{\"version\": 1, \"cpusets\": {}}", "{\"version\": 7, \"cpusets\": {\"root\": \"/x\"}}"}) {
    SCOPED_TRACE(text);
    tree.file("state/journal.json", text);
    fake.clear_writes();
    auto d = make(fake);
    auto status = d->start();
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.error().message.find("restore by hand"), std::string::npos);
    EXPECT_TRUE(fake.writes().empty()) << "the shrunk value is not taken as the original";
    EXPECT_EQ(tree.read("state/journal.json"), text) << "the journal is kept";
    d.reset();
  }
}

TEST_F(DaemonTest, AStateDirectoryOthersCanWriteIsRefused) {
  tree.file("state/placeholder", "");
  ASSERT_EQ(::chmod(tree.path("state").c_str(), 0777), 0);
  auto d = make(fake);
  auto status = d->start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("has mode 0777, writable by others"), std::string::npos)
      << status.error().message;
  EXPECT_FALSE(tree.exists("state/prefcpud.lock"));
}

TEST_F(DaemonTest, AStateDirectoryOwnedBySomeoneElseIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown the fixture directory";
  tree.file("state/placeholder", "");
  ASSERT_EQ(::chmod(tree.path("state").c_str(), 0755), 0);
  ASSERT_EQ(::chown(tree.path("state").c_str(), 65534, 65534), 0);
  auto d = make(fake);
  auto status = d->start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("is owned by uid 65534, not by uid 0"), std::string::npos)
      << status.error().message;
}

TEST_F(DaemonTest, AStateDirectoryThatIsASymlinkIsRefused) {
  tree.file("elsewhere/placeholder", "");
  std::filesystem::create_symlink(tree.path("elsewhere"), tree.path("state"));
  auto d = make(fake);
  auto status = d->start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("is a symlink"), std::string::npos);
}

TEST_F(DaemonTest, SymlinksPlantedForStateFilesAreNeverFollowed) {
  tree.file("victim", "root's file\n");
  tree.file("state/placeholder", "");
  ASSERT_EQ(::chmod(tree.path("state").c_str(), 0755), 0);
  for (const char* name : {"status.json", "preferred", ".status.json.spare"}) {
    std::filesystem::create_symlink(tree.path("victim"), tree.path("state") / name);
  }
  auto d = start();
  EXPECT_EQ(tree.read("victim"), "root's file\n");
  EXPECT_EQ(tree.read("state/preferred"), "0-3\n") << "the link itself was replaced";
  period(*d, 0.5);
  period(*d, 0.0);  // the spares are now the old links: replaced again, not followed
  EXPECT_EQ(tree.read("state/preferred"), "0-3\n");
  ASSERT_TRUE(d->stop().ok());
  EXPECT_EQ(tree.read("victim"), "root's file\n");
}

TEST_F(DaemonTest, ALockFileThatIsASymlinkIsRefused) {
  tree.file("victim", "root's file\n");
  tree.file("state/placeholder", "");
  ASSERT_EQ(::chmod(tree.path("state").c_str(), 0755), 0);
  std::filesystem::create_symlink(tree.path("victim"), tree.path("state/prefcpud.lock"));
  auto d = make(fake);
  auto status = d->start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("Too many levels of symbolic links"), std::string::npos)
      << status.error().message;
  EXPECT_EQ(tree.read("victim"), "root's file\n");
}

TEST_F(DaemonTest, ImplausibleStealIsSkippedAndSaidOnce) {
  fake.make_cgroup("work", "0-3");
  auto d = start();
  auto sample = [&](std::uint64_t steal) {
    write_stat_text(tree, "10 0 10 100 0 0 0 " + std::to_string(steal) + " 0 0", kFourCpus);
    clock.advance(1'000'000'000);
    d->run_period();
  };
  sample(500);                      // went back from 1000: not a grow
  sample(1000);                     // forward again: 500 ticks in 1 s on 4 CPUs is 12500 bp
  sample(18446744073709551615ULL);  // 2^64-1
  sample(1000);                     // back again
  sample(1012);                     // plausible: 300 bp, hold
  EXPECT_EQ(fake.cpus("work"), "0-3") << "no implausible sample shrank anything";
  EXPECT_EQ(status_file()["counters"]["shrinks"], 0);
  EXPECT_EQ(status_file()["counters"]["skips"], 4);
  EXPECT_EQ(count_logged(log, "implausible sample skipped"), 1);
  sample(1500);  // a new run of implausible samples is said again
  EXPECT_EQ(count_logged(log, "implausible sample skipped"), 2);
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, AnAggregateLineWithoutStealIsASampleError) {
  fake.make_cgroup("work", "0-3");
  auto d = start();
  for (int i = 0; i < 3; ++i) {
    write_stat_text(tree, "10 0 10 100 0", kFourCpus);
    clock.advance(1'000'000'000);
    d->run_period();
  }
  EXPECT_EQ(fake.cpus("work"), "0-3");
  EXPECT_EQ(status_file()["counters"]["sample_errors"], 3);
  EXPECT_EQ(count_logged(log, "the aggregate \"cpu\" line has 5 fields: expected at least 8"), 1);
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, AMissingCpuLineIsNotHotplugWhenSysfsSaysOnline) {
  fake.make_cgroup("work", "0-3");
  auto d = start();
  steal_ticks += 12;  // 300 bp: hold
  write_stat_text(tree, "10 0 10 100 0 0 0 " + std::to_string(steal_ticks) + " 0 0",
                  "cpu0 1 0 1 1 0 0 0 0 0 0\ncpu1 1 0 1 1 0 0 0 0 0 0\ncpu2 1 0 1 1 0 0 0 0 0 0\n");
  clock.advance(1'000'000'000);
  d->run_period();
  EXPECT_EQ(tree.read("state/preferred"), "0-3\n");
  EXPECT_EQ(fake.cpus("work"), "0-3");
  EXPECT_EQ(format_cpulist(d->online()), "0-3");
  EXPECT_TRUE(logged("believing sysfs"));
  ASSERT_TRUE(d->stop().ok());
}

}  // namespace
}  // namespace prefcpu::testing
