#include "real_irqbalance.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "linux/irq/irqbalance_protocol.h"

namespace prefcpu::testing {

using namespace std::chrono_literals;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

CpuSet online_cpus() {
  auto online = parse_cpulist(read_text("/sys/devices/system/cpu/online"));
  return online ? *online : CpuSet{};
}

std::optional<std::string> irqbalance_binary() {
  for (const char* path : {"/usr/sbin/irqbalance", "/sbin/irqbalance", "/usr/bin/irqbalance"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return std::nullopt;
}

bool irqbalance_already_running() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    if (read_text(entry.path() / "comm") == "irqbalance\n") return true;
  }
  return false;
}

RealIrqbalance::RealIrqbalance(const std::string& binary, HostIrqGuard& guard,
                               const std::string& banned_env)
    : guard_(guard), client_({kIrqbalanceRunDir, /*abstract_socket=*/false, 2000}) {
  std::vector<std::string> env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  if (!banned_env.empty()) env.push_back("IRQBALANCE_BANNED_CPULIST=" + banned_env);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& item : env) envp.push_back(item.data());
  envp.push_back(nullptr);
  std::string arg0 = binary, foreground = "-f", interval = "-t", one = "1";
  char* argv[] = {arg0.data(), foreground.data(), interval.data(), one.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv, envp.data()) != 0) pid_ = 0;
  posix_spawn_file_actions_destroy(&actions);
  endpoint_ = {(kIrqbalanceRunDir / ("irqbalance" + std::to_string(pid_) + ".sock")).string(),
               pid_};
  if (pid_ > 0) {
    guard_.track_child(pid_);
    guard_.remove_on_signal(endpoint_.address);
  }
}

Result<CpuSet> RealIrqbalance::query_banned() const {
  auto reply = client_.request(endpoint_, "setup");
  if (!reply) return reply.error();
  auto setup = parse_irqbalance_setup(*reply);
  if (!setup) return setup.error();
  return setup->banned;
}

Result<CpuSet> RealIrqbalance::banned() const {
  // A loaded irqbalance misses a query now and then while it rescans: retry before failing.
  Result<CpuSet> now = query_banned();
  if (!now) eventually(5s, [&] { return (now = query_banned()).ok(); });
  return now;
}

bool RealIrqbalance::ready(std::chrono::milliseconds timeout) const {
  return eventually(timeout, [&] { return query_banned().ok(); });
}

bool RealIrqbalance::wait_for_banned(const CpuSet& expected,
                                     std::chrono::milliseconds timeout) const {
  return eventually(timeout, [&] {
    auto now = query_banned();
    return now && *now == expected;
  });
}

void RealIrqbalance::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  if (!eventually(5s, [&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; })) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  guard_.untrack_child(pid_);
  guard_.forget_path(endpoint_.address);
  std::error_code ec;
  std::filesystem::remove(endpoint_.address, ec);
  pid_ = 0;
}

}  // namespace prefcpu::testing
