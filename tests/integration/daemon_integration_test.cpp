// The real prefcpud on the real kernel, as root: real child processes in a scratch cpuset,
// taskset pins, and a synthetic steal file (--proc-stat) that the test drives, so the policy
// sees chosen steal while enforcement stays real. With 2 CPUs preferred goes 0-1 -> 0 -> 0-1.
// The host's movable unbound kernel threads (khugepaged, kcompactd...) follow and come back; a
// test that leaves one changed puts it back and fails.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "host.h"
#include "linux/cgroup/affinity_setter.h"
#include "linux/housekeeping/kthread_actuator.h"
#include "support/cpus.h"
#include "support/fixture_tree.h"

namespace prefcpu::it {
namespace {

using testing::cpus;

class DaemonOnHost : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = cannot_run()) GTEST_SKIP() << *reason;
    online = online_cpus();
    last = *online.last();
    scratch = std::make_unique<ScratchCpuset>();
    feeder = std::make_unique<StealFeeder>(tree.path("stat"));
    if (std::filesystem::exists(kWorkqueues)) workqueues = workqueue_mask();
    kthreads = movable_kthreads();
  }
  void TearDown() override {
    daemon.reset();
    children.clear();
    feeder.reset();
    scratch.reset();
    if (!workqueues.empty() && workqueue_mask() != workqueues) {
      std::ofstream(kWorkqueues) << workqueues;
      ADD_FAILURE() << kWorkqueues << " was left changed; put back " << workqueues;
    }
    SyscallAffinitySetter setter;
    for (const auto& [pid, before] : kthreads) {
      auto now = probe.affinity(pid);
      if (!now || *now == before) continue;
      (void)setter.set_affinity(pid, before);
      ADD_FAILURE() << "kernel thread " << pid << " was left on " << format_cpulist(*now)
                    << "; put back " << format_cpulist(before);
    }
  }
  // The kernel threads prefcpud may move, with their masks.
  std::map<pid_t, CpuSet> movable_kthreads() const {
    std::map<pid_t, CpuSet> found;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      pid_t pid = std::atoi(entry.path().filename().c_str());
      if (pid <= 0) continue;
      auto stat = probe.stat(pid);
      auto allowed = probe.affinity(pid);
      if (stat && allowed && classify_kthread(*stat, *allowed) == KthreadKind::kMovable) {
        found[pid] = *allowed;
      }
    }
    return found;
  }
  // Each one (still there) holds `want(its mask before the test)`; names those that do not.
  std::string kthreads_astray(const std::function<CpuSet(const CpuSet&)>& want) const {
    std::string astray;
    for (const auto& [pid, before] : kthreads) {
      auto now = probe.affinity(pid);
      if (now && *now != want(before)) {
        astray +=
            fmt::format("{}: {} not {}; ", pid, format_cpulist(*now), format_cpulist(want(before)));
      }
    }
    return astray;
  }
  // While shrunk: their mask ∩ preferred, or their mask when that is empty.
  std::string kthreads_not_following() const {
    CpuSet pref = cpus(preferred());
    return kthreads_astray([&](const CpuSet& before) {
      CpuSet both = before & pref;
      return both.empty() || before.is_subset_of(pref) ? before : both;
    });
  }
  std::string kthreads_not_restored() const {
    return kthreads_astray([](const CpuSet& before) { return before; });
  }
  // The unbound workqueues' cpumask as a hex mask, without the newline.
  static std::string workqueue_mask() {
    std::string text = read_file(kWorkqueues);
    return text.empty() ? text : text.substr(0, text.size() - 1);
  }
  // The workqueues follow preferred: their boot mask ∩ preferred (or the boot mask).
  bool workqueues_follow() const {
    if (workqueues.empty()) return true;  // no such file on this kernel
    CpuSet original = *parse_cpumask_hex(workqueues);
    CpuSet want = original & cpus(preferred());
    return *parse_cpumask_hex(workqueue_mask()) == (want.empty() ? original : want);
  }

  // prefcpud managing the scratch cpuset's top-level cgroups, 100 ms periods.
  void start_daemon(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--state-dir",   state_dir().string(),
                                  "--proc-stat",   tree.path("stat").string(),
                                  "--cgroup-root", scratch->root().string(),
                                  "--interval-ms", "100",
                                  "--irq-mode",    "off",
                                  "--config",      "/dev/null"};
    args.insert(args.end(), extra.begin(), extra.end());
    daemon = std::make_unique<DaemonProcess>(args, tree.path("prefcpud.log"));
    ASSERT_TRUE(answering()) << daemon->log();
  }
  // This daemon (not a stale socket of a killed one) answers on its control socket.
  bool answering() const {
    return wait_for([&] {
      auto reply = run({PREFCPUCTL_PATH, "status", "--json", "--state-dir", state_dir().string()});
      if (reply.status != 0) return false;
      auto status = nlohmann::json::parse(reply.output, nullptr, false);
      return !status.is_discarded() && status["pid"] == daemon->pid();
    });
  }
  std::filesystem::path state_dir() const { return tree.path("state"); }
  std::string preferred() const {
    std::string text = read_file(state_dir() / "preferred");
    return text.empty() ? text : text.substr(0, text.size() - 1);
  }
  bool preferred_is(const std::string& expected) const { return preferred() == expected; }
  Child& spawn(const std::string& cgroup) {
    children.push_back(std::make_unique<Child>());
    scratch->attach(children.back()->pid(), cgroup);
    return *children.back();
  }

  static constexpr const char* kWorkqueues = "/sys/devices/virtual/workqueue/cpumask";
  testing::FixtureTree tree;
  std::string workqueues;  // its value before the test, or empty
  RealKernelFs fs;
  ProcTaskProbe probe{fs, "/proc", /*use_syscalls=*/true};
  std::map<pid_t, CpuSet> kthreads;  // the movable kernel threads and their masks before the test
  CpuSet online;
  unsigned last = 0;
  std::unique_ptr<ScratchCpuset> scratch;
  std::unique_ptr<StealFeeder> feeder;
  std::vector<std::unique_ptr<Child>> children;
  std::unique_ptr<DaemonProcess> daemon;
};

TEST_F(DaemonOnHost, UnpinnedFollowsPreferredAndPinsAreKept) {
  scratch->make("work");
  std::string all = format_cpulist(online);
  std::string shrunk = format_cpulist(online - CpuSet{last});
  Child& unpinned = spawn("work");
  Child& pinned_inside = spawn("work");
  Child& pinned_outside = spawn("work");
  ASSERT_TRUE(taskset(pinned_inside.pid(), "0"));
  ASSERT_TRUE(taskset(pinned_outside.pid(), std::to_string(last)));
  start_daemon();
  ASSERT_TRUE(wait_for([&] { return preferred_is(all); }));

  feeder->set_fraction(0.5);  // steal_bp ~5000 > 500
  ASSERT_TRUE(wait_for([&] { return preferred_is(shrunk); })) << daemon->log();
  EXPECT_EQ(scratch->cpus("work"), shrunk);
  EXPECT_EQ(unpinned.allowed(), cpus(shrunk)) << "an unpinned task follows preferred down";
  EXPECT_TRUE(wait_for([&] { return !cpus(shrunk).test(last) && unpinned.processor() != last; }));
  EXPECT_EQ(pinned_inside.allowed(), cpus("0")) << "a pin inside preferred is kept";
  EXPECT_EQ(scratch->cgroup_of(pinned_outside.pid()), "prefcpu-pinned");
  EXPECT_EQ(pinned_outside.allowed(), CpuSet{last});
  EXPECT_TRUE(wait_for([&] { return pinned_outside.processor() == last; }))
      << "a task pinned only to a removed CPU keeps running there";

  feeder->set_fraction(0.0);  // steal_bp 0 <= 200
  ASSERT_TRUE(wait_for([&] { return preferred_is(all); })) << daemon->log();
  EXPECT_EQ(scratch->cpus("work"), all);
  EXPECT_EQ(unpinned.allowed(), online) << "and back up";
  EXPECT_EQ(pinned_inside.allowed(), cpus("0"));
  EXPECT_TRUE(wait_for([&] { return scratch->cgroup_of(pinned_outside.pid()) == "work"; }));
  EXPECT_EQ(pinned_outside.allowed(), CpuSet{last});

  auto status = nlohmann::json::parse(read_file(state_dir() / "status.json"));
  EXPECT_EQ(status["mode"], "enforce");
  EXPECT_GE(status["counters"]["mask_changes"].get<int>(), 2);
  EXPECT_EQ(daemon->terminate(), 0);
}

TEST_F(DaemonOnHost, SigtermRestoresEveryCpusetAffinityAndCgroup) {
  scratch->make("work");
  scratch->make("work/inner");
  std::string all = format_cpulist(online);
  Child& unpinned = spawn("work/inner");
  Child& pinned_inside = spawn("work");
  Child& pinned_outside = spawn("work");
  ASSERT_TRUE(taskset(pinned_inside.pid(), "0"));
  ASSERT_TRUE(taskset(pinned_outside.pid(), std::to_string(last)));
  start_daemon();
  feeder->set_fraction(0.5);
  ASSERT_TRUE(wait_for([&] { return preferred() != all && !preferred().empty(); }));
  ASSERT_TRUE(scratch->exists("prefcpu-pinned"));
  ASSERT_TRUE(std::filesystem::exists(state_dir() / "journal.json"));
  EXPECT_TRUE(wait_for([&] { return workqueues_follow(); })) << workqueue_mask();
  EXPECT_FALSE(kthreads.empty()) << "no movable unbound kernel thread on this host";
  EXPECT_TRUE(wait_for([&] { return kthreads_not_following().empty(); }))
      << kthreads_not_following();

  EXPECT_EQ(daemon->terminate(), 0) << daemon->log();
  EXPECT_EQ(workqueue_mask(), workqueues) << "SIGTERM puts the workqueues' cpumask back";
  EXPECT_EQ(kthreads_not_restored(), "") << "SIGTERM puts every kernel thread's mask back";
  EXPECT_EQ(scratch->cpus("work"), all);
  EXPECT_EQ(scratch->cpus("work/inner"), all);
  EXPECT_FALSE(scratch->exists("prefcpu-pinned"));
  EXPECT_EQ(scratch->cgroup_of(unpinned.pid()), "work/inner");
  EXPECT_EQ(scratch->cgroup_of(pinned_outside.pid()), "work");
  EXPECT_EQ(unpinned.allowed(), online);
  EXPECT_EQ(pinned_inside.allowed(), cpus("0"));
  EXPECT_EQ(pinned_outside.allowed(), CpuSet{last});
  EXPECT_FALSE(std::filesystem::exists(state_dir() / "journal.json"));
  EXPECT_FALSE(std::filesystem::exists(state_dir() / "control.sock"));
}

TEST_F(DaemonOnHost, SigkillThenRestartRestoresEverythingFromTheJournal) {
  scratch->make("work");
  std::string all = format_cpulist(online);
  Child& unpinned = spawn("work");
  Child& pinned_outside = spawn("work");
  ASSERT_TRUE(taskset(pinned_outside.pid(), std::to_string(last)));
  start_daemon();
  feeder->set_fraction(0.5);
  ASSERT_TRUE(wait_for([&] { return preferred() != all && !preferred().empty(); }));
  ASSERT_TRUE(
      wait_for([&] { return scratch->cgroup_of(pinned_outside.pid()) == "prefcpu-pinned"; }));
  EXPECT_TRUE(wait_for([&] { return workqueues_follow(); })) << workqueue_mask();
  std::string shrunk_workqueues = workqueue_mask();
  EXPECT_TRUE(wait_for([&] { return kthreads_not_following().empty(); }))
      << kthreads_not_following();
  daemon->kill9();
  EXPECT_TRUE(kthreads.empty() || !kthreads_not_restored().empty()) << "SIGKILL restored nothing";
  ASSERT_NE(scratch->cpus("work"), all) << "SIGKILL restored nothing";
  EXPECT_EQ(workqueue_mask(), shrunk_workqueues);
  ASSERT_TRUE(std::filesystem::exists(state_dir() / "journal.json"));

  feeder->set_fraction(0.0);
  start_daemon();  // restores from the journal before its first period
  EXPECT_NE(daemon->log().find("unclean exit"), std::string::npos);
  EXPECT_EQ(scratch->cpus("work"), all);
  EXPECT_EQ(workqueue_mask(), workqueues) << "restored from the journal";
  EXPECT_EQ(kthreads_not_restored(), "") << "kernel threads restored from the journal";
  EXPECT_FALSE(scratch->exists("prefcpu-pinned"));
  EXPECT_EQ(scratch->cgroup_of(pinned_outside.pid()), "work");
  EXPECT_EQ(pinned_outside.allowed(), CpuSet{last});
  EXPECT_EQ(unpinned.allowed(), online);
  EXPECT_EQ(daemon->terminate(), 0);
  EXPECT_EQ(scratch->cpus("work"), all);
  EXPECT_FALSE(std::filesystem::exists(state_dir() / "journal.json"));
}

TEST_F(DaemonOnHost, ShieldMovesTheRootsTasksIntoAWorkloadCpusetAndBack) {
  std::string all = format_cpulist(online);
  std::string shrunk = format_cpulist(online - CpuSet{last});
  Child& unpinned = spawn("");  // tasks of the (scratch) root cpuset
  Child& pinned_outside = spawn("");
  ASSERT_TRUE(taskset(pinned_outside.pid(), std::to_string(last)));
  start_daemon({"--shield"});
  ASSERT_TRUE(wait_for([&] { return scratch->cgroup_of(unpinned.pid()) == "prefcpu-workload"; }));
  feeder->set_fraction(0.5);
  ASSERT_TRUE(wait_for([&] { return preferred_is(shrunk); })) << daemon->log();
  EXPECT_EQ(scratch->cpus("prefcpu-workload"), shrunk);
  EXPECT_EQ(unpinned.allowed(), cpus(shrunk));
  EXPECT_EQ(scratch->cgroup_of(pinned_outside.pid()), "prefcpu-pinned");
  EXPECT_EQ(pinned_outside.allowed(), CpuSet{last});

  EXPECT_EQ(daemon->terminate(), 0) << daemon->log();
  EXPECT_EQ(scratch->cgroup_of(unpinned.pid()), "");
  EXPECT_EQ(scratch->cgroup_of(pinned_outside.pid()), "");
  EXPECT_EQ(unpinned.allowed(), online);
  EXPECT_EQ(pinned_outside.allowed(), CpuSet{last});
  EXPECT_FALSE(scratch->exists("prefcpu-workload"));
  EXPECT_FALSE(scratch->exists("prefcpu-pinned"));
  (void)all;
}

TEST_F(DaemonOnHost, PrefcpuctlTalksToTheRunningDaemon) {
  scratch->make("work");
  Child& unpinned = spawn("work");
  start_daemon();
  std::string dir = state_dir().string();
  auto status = run({PREFCPUCTL_PATH, "status", "--state-dir", dir, "--json"});
  ASSERT_EQ(status.status, 0) << status.output;
  EXPECT_EQ(nlohmann::json::parse(status.output)["mode"], "enforce");
  auto human = run({PREFCPUCTL_PATH, "status", "--state-dir", dir});
  EXPECT_NE(human.output.find("mode enforce"), std::string::npos) << human.output;

  auto custom = run({PREFCPUCTL_PATH, "set-preferred", "0", "--state-dir", dir});
  ASSERT_EQ(custom.status, 0) << custom.output;
  EXPECT_EQ(scratch->cpus("work"), "0");
  EXPECT_EQ(unpinned.allowed(), cpus("0"));
  auto outside = run({PREFCPUCTL_PATH, "set-preferred", "0-4095", "--state-dir", dir});
  EXPECT_EQ(outside.status, 2);
  EXPECT_NE(outside.output.find("expected a subset of online"), std::string::npos)
      << outside.output;
  auto knob = run({PREFCPUCTL_PATH, "set", "interval_ms", "50", "--state-dir", dir});
  EXPECT_EQ(knob.status, 2);
  EXPECT_NE(knob.output.find("expected 100..100000"), std::string::npos) << knob.output;
  EXPECT_EQ(run({PREFCPUCTL_PATH, "set", "governor", "ewma", "--state-dir", dir}).status, 0);
  auto back = run({PREFCPUCTL_PATH, "set-preferred", "--auto", "--state-dir", dir});
  ASSERT_EQ(back.status, 0) << back.output;
  EXPECT_EQ(scratch->cpus("work"), format_cpulist(online));
  auto history = run({PREFCPUCTL_PATH, "history", "--json", "-n", "3", "--state-dir", dir});
  ASSERT_EQ(history.status, 0);
  EXPECT_EQ(nlohmann::json::parse(history.output).size(), 3U);

  // SIGHUP with a broken config: refused, the daemon keeps running.
  std::ofstream(tree.path("bad.toml")) << "interval_ms = 5\n";
  daemon.reset();
  feeder->set_fraction(0.0);
  std::ofstream(tree.path("good.toml")) << "interval_ms = 100\n";
  daemon = std::make_unique<DaemonProcess>(
      std::vector<std::string>{"--state-dir", dir, "--proc-stat", tree.path("stat").string(),
                               "--cgroup-root", scratch->root().string(), "--irq-mode", "off",
                               "--config", tree.path("good.toml").string()},
      tree.path("prefcpud2.log"));
  ASSERT_TRUE(answering()) << daemon->log();
  std::filesystem::copy_file(tree.path("bad.toml"), tree.path("good.toml"),
                             std::filesystem::copy_options::overwrite_existing);
  ::kill(daemon->pid(), SIGHUP);
  ASSERT_TRUE(wait_for([&] { return daemon->log().find("reload refused") != std::string::npos; }))
      << daemon->log();
  EXPECT_TRUE(daemon->running());
  EXPECT_EQ(daemon->terminate(), 0);
}

}  // namespace
}  // namespace prefcpu::it
