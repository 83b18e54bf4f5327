// A whole prefcpud on fixture trees: sysfs, procfs (stat, cpuinfo, tasks) and a fake cgroupfs,
// with a FakeClock the test advances one period at a time.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "daemon/daemon.h"
#include "fake_cgroupfs.h"
#include "support/fake_cpus.h"
#include "support/fixture_tree.h"

namespace prefcpu::testing {

// An IRQ actuator stand-in that records what the daemon asks of it.
struct FakeIrqCalls {
  int created = 0;
  int applies = 0;
  int restores = 0;
  CpuSet last_preferred;
  nlohmann::json recovered;
};

class FakeIrqActuator final : public Actuator {
 public:
  explicit FakeIrqActuator(FakeIrqCalls& calls) : calls_(calls) {}
  std::string_view name() const override { return "irqs"; }
  Status apply(const CpuSet& preferred, const CpuSet& /*online*/) override {
    ++calls_.applies;
    calls_.last_preferred = preferred;
    return {};
  }
  Status restore() override {
    ++calls_.restores;
    return {};
  }
  Status recover(const nlohmann::json& section) override {
    calls_.recovered = section;
    return {};
  }
  nlohmann::json status() const override { return {{"applies", calls_.applies}}; }

 private:
  FakeIrqCalls& calls_;
};

// A change watcher the test fires by hand (Daemon::notice_change, as the loop would).
class FakeWatcher final : public ChangeWatcher {
 public:
  explicit FakeWatcher(bool& pending) : pending_(pending) {}
  int fd() const override { return -1; }
  bool drain() override { return std::exchange(pending_, false); }

 private:
  bool& pending_;
};

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest() {
    write_fake_guest_cpus(tree);
    tree.file("proc/self/mountinfo", "1 0 8:1 / / rw - ext4 /dev/vda rw\n");
    write_stat();
    config.cgroup_root = fake.cgroup_root().string();
    config.irq_mode = IrqMode::kOff;
    config.history_size = 50;
  }

  DaemonPaths paths() const {
    return {tree.path("state"), tree.path("proc/stat"), tree.path("sys"), fake.proc_root()};
  }
  void write_stat() {
    std::string ticks = std::to_string(steal_ticks);
    tree.file("proc/stat", "cpu  " + std::to_string(user_ticks) + " 0 10 100 0 0 0 " + ticks +
                               " 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\ncpu1 1 0 1 1 0 0 0 0 0 0\n"
                               "cpu2 1 0 1 1 0 0 0 0 0 0\ncpu3 1 0 1 1 0 0 0 0 0 0\nintr 0\n");
  }
  std::unique_ptr<Daemon> make(KernelFs& fs) {
    DaemonDeps deps{fs, clock, log, [this]() -> Result<Config> { return next_config; }};
    deps.user_hz = 100;
    deps.make_irq = [this](KernelFs&, Journal&, const IrqOptions&) -> std::unique_ptr<Actuator> {
      ++irq_calls.created;
      return std::make_unique<FakeIrqActuator>(irq_calls);
    };
    // The fixture's /proc: files, not sched_getaffinity(2) on this machine's TIDs.
    deps.make_task_probe = [](const KernelFs& kernel, const std::filesystem::path& proc) {
      return std::make_shared<const ProcTaskProbe>(kernel, proc, /*use_syscalls=*/false);
    };
    // Unset: the default, which moves no kthread under a fixture /proc.
    if (affinity_setter) {
      deps.make_affinity_setter = [this](const std::filesystem::path&) { return affinity_setter; };
    }
    deps.make_watcher = [this](const std::vector<std::filesystem::path>& dirs) {
      watched = dirs;
      return std::make_unique<FakeWatcher>(watcher_pending);
    };
    deps.make_source = make_source;
    return std::make_unique<Daemon>(std::move(deps), paths(), config);
  }
  std::unique_ptr<Daemon> start() {
    daemon = make(fake);
    auto status = daemon->start();
    EXPECT_TRUE(status.ok()) << (status.ok() ? "" : status.error().message);
    return std::move(daemon);
  }
  // One period with `fraction` of all CPU time stolen.
  void period(Daemon& d, double fraction) {
    auto interval_ms = d.monitor().knobs().interval_ms;
    clock.advance(std::int64_t{interval_ms} * 1'000'000);
    steal_ticks += fake_guest_steal_ticks(fraction, interval_ms);
    write_stat();
    d.run_period();
  }
  nlohmann::json status_file() const {
    return nlohmann::json::parse(tree.read("state/status.json"), nullptr, false);
  }
  bool logged(std::string_view needle) const {
    for (const auto& line : log.captured()) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  nlohmann::json ask(Daemon& d, const nlohmann::json& request, uid_t uid = 0) {
    return d.handle_request(request, Peer{4242, uid, uid});
  }

  FixtureTree tree;
  FakeCgroupFs fake{tree, CgroupVersion::kV1};
  FakeClock clock{5'000'000'000};
  Logger log{LogSink::kCapture};
  Config config;
  Result<Config> next_config = Config{};
  FakeIrqCalls irq_calls;
  std::shared_ptr<AffinitySetter> affinity_setter;  // the kthreads' sched_setaffinity
  bool watcher_pending = false;
  std::vector<std::filesystem::path> watched;
  std::function<std::unique_ptr<PreferredSource>(DaemonMode)> make_source;
  std::uint64_t steal_ticks = 1000;
  std::uint64_t user_ticks = 10;  // busy time of the aggregate line is user_ticks + 10 (system)
  std::unique_ptr<Daemon> daemon;
};

}  // namespace prefcpu::testing
