// End to end, as root: the real prefcpud, fed synthetic steal through --proc-stat, steering a
// real irqbalance with --irq-mode irqbalance. irqbalance's own "setup" shows the non-preferred
// CPU banned while steal is high, and the user's set back after a grow, after SIGTERM, and after
// SIGKILL plus a restart (crash recovery from the journal). The daemon's cpusets are confined to
// a cgroup this test creates and removes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "host_guard.h"
#include "linux/kernel_fs.h"
#include "real_irqbalance.h"
#include "support/fixture_tree.h"

#ifndef PREFCPUD_PATH
#define PREFCPUD_PATH ""
#endif

namespace prefcpu {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::FixtureTree;
using testing::HostIrqGuard;
using testing::kIrqbalanceRunDir;
using testing::read_text;
using testing::RealIrqbalance;

// The mount point of the cgroup v1 cpuset hierarchy, if there is one.
std::optional<std::filesystem::path> cpuset_v1_mount() {
  std::istringstream lines(read_text("/proc/self/mountinfo"));
  for (std::string line; std::getline(lines, line);) {
    auto separator = line.find(" - cgroup ");
    if (separator == std::string::npos) continue;
    if (line.find("cpuset", separator) == std::string::npos) continue;
    std::istringstream fields(line);
    std::string field, mount_point;
    for (int i = 0; i < 5 && fields >> field; ++i) mount_point = field;
    return std::filesystem::path(mount_point);
  }
  return std::nullopt;
}

// A /proc/stat stand-in whose steal grows fast (25 % per CPU) while `high`, and stands still
// otherwise; rewritten atomically every 50 ms.
class FakeSteal {
 public:
  FakeSteal(std::filesystem::path path, CpuSet online)
      : path_(std::move(path)), online_(online), thread_([this] { run(); }) {}
  ~FakeSteal() {
    stop_ = true;
    thread_.join();
  }
  void set_high(bool high) { high_ = high; }

 private:
  void run() {
    auto last = std::chrono::steady_clock::now();
    double steal = 0;  // in USER_HZ ticks: 100 per CPU per second
    while (!stop_) {
      auto now = std::chrono::steady_clock::now();
      std::chrono::duration<double> elapsed = now - last;
      last = now;
      if (high_) steal += elapsed.count() * 100 * online_.count() / 4;
      auto ticks = static_cast<std::uint64_t>(steal);
      std::string text = fmt::format("cpu  1000 0 1000 100000 0 0 0 {} 0 0\n", ticks);
      std::uint64_t share = ticks / online_.count();
      for (unsigned cpu : online_) {
        text += fmt::format("cpu{} 500 0 500 50000 0 0 0 {} 0 0\n", cpu, share);
      }
      (void)testing::real_fs().replace_file(path_, text, false);
      std::this_thread::sleep_for(50ms);
    }
  }

  std::filesystem::path path_;
  CpuSet online_;
  std::atomic<bool> high_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class DaemonIrqbalanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (std::string(PREFCPUD_PATH).empty() || ::access(PREFCPUD_PATH, X_OK) != 0) {
      GTEST_SKIP() << "prefcpud is not built";
    }
    binary_ = testing::irqbalance_binary();
    if (!binary_) GTEST_SKIP() << "irqbalance is not installed (Debian package irqbalance)";
    if (testing::irqbalance_already_running()) GTEST_SKIP() << "an irqbalance is already running";
    online_ = testing::online_cpus();
    if (online_.count() < 2) GTEST_SKIP() << "needs at least 2 online CPUs";
    auto mount = cpuset_v1_mount();
    if (!mount) GTEST_SKIP() << "needs the cgroup v1 cpuset hierarchy";
    guard_.emplace();
    if (!std::filesystem::exists(kIrqbalanceRunDir)) {
      std::filesystem::create_directories(kIrqbalanceRunDir);
      created_run_dir_ = true;
      guard_->remove_on_signal(kIrqbalanceRunDir.string());
    }
    cgroup_name_ = "prefcpu-irq-test-" + std::to_string(::getpid());
    cgroup_ = *mount / cgroup_name_;
    std::filesystem::create_directory(cgroup_);
    guard_->remove_on_signal(cgroup_.string());
    RealKernelFs fs;
    ASSERT_TRUE(fs.write(cgroup_ / "cpuset.cpus", format_cpulist(online_)));
    auto mems = fs.read(*mount / "cpuset.mems");
    ASSERT_TRUE(mems);
    ASSERT_TRUE(fs.write(cgroup_ / "cpuset.mems", *mems));
    tree_.file("prefcpud.toml", "");
    steal_.emplace(tree_.path("stat"), online_);
    ASSERT_TRUE(eventually(5s, [&] { return tree_.exists("stat"); }));
    irqbalance_.emplace(*binary_, *guard_, "");
    ASSERT_TRUE(irqbalance_->ready(10s)) << "irqbalance did not answer on its socket";
  }

  void TearDown() override {
    stop_daemon(SIGTERM);
    irqbalance_.reset();
    steal_.reset();
    std::error_code ec;
    if (!cgroup_.empty()) {
      std::filesystem::remove(cgroup_, ec);
      EXPECT_FALSE(ec) << "removing " << cgroup_ << ": " << ec.message();
      guard_->forget_path(cgroup_.string());
    }
    if (created_run_dir_) {
      std::filesystem::remove(kIrqbalanceRunDir, ec);
      guard_->forget_path(kIrqbalanceRunDir.string());
    }
    if (guard_) {
      EXPECT_TRUE(guard_->restore().empty());
      EXPECT_TRUE(guard_->differences().empty());
      guard_.reset();
    }
    if (HasFailure()) std::cerr << "prefcpud log:\n" << read_text(tree_.path("prefcpud.log"));
  }

  void start_daemon() {
    std::vector<std::string> args = {PREFCPUD_PATH,   "--foreground",
                                     "--config",      tree_.path("prefcpud.toml").string(),
                                     "--state-dir",   tree_.path("state").string(),
                                     "--proc-stat",   tree_.path("stat").string(),
                                     "--irq-mode",    "irqbalance",
                                     "--cgroup",      cgroup_name_,
                                     "--interval-ms", "100"};
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::string log = tree_.path("prefcpud.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    ASSERT_EQ(posix_spawn(&daemon_, PREFCPUD_PATH, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    guard_->track_child(daemon_);
  }

  // Returns the exit status as waitpid reports it.
  int stop_daemon(int signal) {
    if (daemon_ <= 0) return 0;
    ::kill(daemon_, signal);
    int status = 0;
    if (!eventually(10s, [&] { return ::waitpid(daemon_, &status, WNOHANG) == daemon_; })) {
      ::kill(daemon_, SIGKILL);
      ::waitpid(daemon_, &status, 0);
    }
    guard_->untrack_child(daemon_);
    daemon_ = 0;
    return status;
  }

  nlohmann::json status() const {
    auto parsed = nlohmann::json::parse(read_text(tree_.path("state/status.json")), nullptr,
                                        /*allow_exceptions=*/false);
    return parsed.is_discarded() ? nlohmann::json() : parsed;
  }
  std::optional<CpuSet> preferred() const {
    nlohmann::json now = status();
    if (!now.is_object()) return std::nullopt;
    auto cpus = parse_cpulist(now.value("preferred", ""));
    if (!cpus || cpus->empty()) return std::nullopt;
    return *cpus;
  }
  bool preferred_is(const CpuSet& expected) const { return preferred() == expected; }
  bool shrunk() const {
    auto now = preferred();
    return now && *now != online_;
  }

  FixtureTree tree_;
  CpuSet online_;
  std::optional<std::string> binary_;
  bool created_run_dir_ = false;
  std::string cgroup_name_;
  std::filesystem::path cgroup_;
  std::optional<HostIrqGuard> guard_;
  std::optional<FakeSteal> steal_;
  std::optional<RealIrqbalance> irqbalance_;
  pid_t daemon_ = 0;
};

TEST_F(DaemonIrqbalanceTest, FakeStealBansNonPreferredCpusAndExitGivesThemBack) {
  auto initial = irqbalance_->banned();
  ASSERT_TRUE(initial) << initial.error().message;
  CpuSet user = *initial;
  start_daemon();
  ASSERT_TRUE(eventually(10s, [&] { return preferred_is(online_); })) << status().dump();
  nlohmann::json first = status();
  if (first.value("mode", "") != "enforce") GTEST_SKIP() << "prefcpud is not enforcing here";
  EXPECT_EQ(first["actuators"]["irqs"]["mode"], "irqbalance");

  steal_->set_high(true);
  ASSERT_TRUE(eventually(10s, [&] { return shrunk(); })) << status().dump();
  CpuSet non_preferred = online_ - *preferred();
  EXPECT_TRUE(irqbalance_->wait_for_banned(user | non_preferred, 10s));
  nlohmann::json irqs = status()["actuators"]["irqs"];
  EXPECT_EQ(irqs["active"], "irqbalance");
  EXPECT_EQ(irqs["irqbalance"]["pid"], irqbalance_->pid());
  EXPECT_EQ(irqs["irqbalance"]["banned"], format_cpulist(user | non_preferred));
  EXPECT_TRUE(irqs["interrupts_non_preferred"].is_number());

  steal_->set_high(false);  // grow
  ASSERT_TRUE(eventually(15s, [&] { return preferred_is(online_); })) << status().dump();
  EXPECT_TRUE(irqbalance_->wait_for_banned(user, 10s));

  steal_->set_high(true);
  ASSERT_TRUE(eventually(10s, [&] { return shrunk(); })) << status().dump();
  EXPECT_TRUE(irqbalance_->wait_for_banned(user | non_preferred, 10s));
  int exit = stop_daemon(SIGTERM);
  EXPECT_TRUE(WIFEXITED(exit) && WEXITSTATUS(exit) == 0) << exit;
  EXPECT_TRUE(irqbalance_->wait_for_banned(user, 10s));
  EXPECT_EQ(read_text(cgroup_ / "cpuset.cpus"), format_cpulist(online_) + "\n");
}

TEST_F(DaemonIrqbalanceTest, RestartAfterSigkillGivesIrqbalanceItsSetBack) {
  auto initial = irqbalance_->banned();
  ASSERT_TRUE(initial) << initial.error().message;
  CpuSet user = *initial;
  start_daemon();
  ASSERT_TRUE(eventually(10s, [&] { return preferred_is(online_); })) << status().dump();
  if (status().value("mode", "") != "enforce") GTEST_SKIP() << "prefcpud is not enforcing here";
  steal_->set_high(true);
  ASSERT_TRUE(eventually(10s, [&] { return shrunk(); })) << status().dump();
  CpuSet non_preferred = online_ - *preferred();
  ASSERT_TRUE(irqbalance_->wait_for_banned(user | non_preferred, 10s));

  stop_daemon(SIGKILL);
  steal_->set_high(false);
  ASSERT_TRUE(tree_.exists("state/journal.json"));
  EXPECT_NE(tree_.read("state/journal.json").find("\"user_banned\""), std::string::npos);
  // Nobody gave the set back: irqbalance keeps prefcpu's ban across the crash.
  auto after_kill = irqbalance_->banned();
  // Seen twice in CI under load: irqbalance 1.9.2 refused every connection for 5 s after the
  // daemon was killed, possibly mid-request. That is irqbalance's state, not prefcpud's; the
  // recovery below needs it to answer, so the case is reported as skipped, with the reason.
  if (!after_kill) {
    GTEST_SKIP() << "irqbalance stopped answering after prefcpud's SIGKILL (pid "
                 << irqbalance_->pid() << (::kill(irqbalance_->pid(), 0) == 0 ? " alive" : " gone")
                 << "): " << after_kill.error().message;
  }
  EXPECT_EQ(*after_kill, user | non_preferred);

  start_daemon();  // recovers from the journal before its first period
  EXPECT_TRUE(irqbalance_->wait_for_banned(user, 10s));
  ASSERT_TRUE(eventually(10s, [&] { return preferred_is(online_); })) << status().dump();
  EXPECT_NE(read_text(tree_.path("prefcpud.log")).find("restored irqs from the journal"),
            std::string::npos);
  int exit = stop_daemon(SIGTERM);
  EXPECT_TRUE(WIFEXITED(exit) && WEXITSTATUS(exit) == 0) << exit;
  EXPECT_EQ(read_text(cgroup_ / "cpuset.cpus"), format_cpulist(online_) + "\n");
}

}  // namespace
}  // namespace prefcpu
