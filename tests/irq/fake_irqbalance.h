// A stand-in for irqbalance 1.9's control socket, served from a thread: the same file name
// (irqbalance<PID>.sock), the same credential check, the same replies, and "settings cpus"
// taking effect only at the next scan(), as in the real one.
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/cpu_set.h"

namespace prefcpu::testing {

class FakeIrqbalance {
 public:
  FakeIrqbalance(const std::filesystem::path& run_dir, int pid, CpuSet own_banned);
  ~FakeIrqbalance();
  FakeIrqbalance(const FakeIrqbalance&) = delete;
  FakeIrqbalance& operator=(const FakeIrqbalance&) = delete;

  // irqbalance's next scan: a pending "settings cpus" takes effect.
  void scan();
  // Stops serving and leaves the socket file behind, as a SIGKILLed irqbalance does.
  void kill();
  // Answers nothing from now on, as irqbalance does for a client whose credentials are not root.
  void refuse_everyone() { refuse_ = true; }
  CpuSet banned() const;
  std::vector<std::string> commands() const;
  const std::filesystem::path& socket_path() const { return path_; }

 private:
  void serve();
  void handle(int connection);

  std::filesystem::path path_;
  CpuSet own_banned_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  std::thread thread_;
  mutable std::mutex mutex_;
  CpuSet banned_;
  std::optional<CpuSet> pending_;
  std::vector<std::string> commands_;
  std::atomic<bool> refuse_{false};
};

}  // namespace prefcpu::testing
