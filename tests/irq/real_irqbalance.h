// A real irqbalance for host tests: Debian's 1.9.2 started in the foreground, scanning every
// second, with its socket file under /run/irqbalance; and the small helpers such tests share.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "core/cpu_set.h"
#include "core/result.h"
#include "host_guard.h"
#include "linux/irq/irqbalance_client.h"

namespace prefcpu::testing {

inline const std::filesystem::path kIrqbalanceRunDir = "/run/irqbalance";

std::string read_text(const std::filesystem::path& path);
CpuSet online_cpus();
std::optional<std::string> irqbalance_binary();
bool irqbalance_already_running();

// Polls `done` every 100 ms until it holds or `timeout` passes: for waiting on another process
// (irqbalance scans, prefcpud periods), never on our own clock.
template <typename Predicate>
bool eventually(std::chrono::milliseconds timeout, Predicate done) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

class RealIrqbalance {
 public:
  // `banned_env`, if not empty, is passed as IRQBALANCE_BANNED_CPULIST.
  RealIrqbalance(const std::string& binary, HostIrqGuard& guard, const std::string& banned_env);
  ~RealIrqbalance() { stop(); }
  RealIrqbalance(const RealIrqbalance&) = delete;
  RealIrqbalance& operator=(const RealIrqbalance&) = delete;

  pid_t pid() const { return pid_; }
  // Its banned CPUs as its own "setup" reports them, retried for up to 5 s.
  Result<CpuSet> banned() const;
  bool ready(std::chrono::milliseconds timeout) const;
  // irqbalance applies "settings cpus" at its next scan: wait for it, up to `timeout`.
  bool wait_for_banned(const CpuSet& expected, std::chrono::milliseconds timeout) const;
  // SIGTERM (SIGKILL after 5 s), and its socket file removed: irqbalance 1.9.2 leaves it.
  void stop();

 private:
  Result<CpuSet> query_banned() const;  // one "setup" request, no retry

  HostIrqGuard& guard_;
  IrqbalanceClient client_;
  pid_t pid_ = 0;
  IrqbalanceEndpoint endpoint_;
};

}  // namespace prefcpu::testing
