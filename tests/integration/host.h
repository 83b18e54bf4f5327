// Real-kernel test helpers. Everything a test creates on the host is owned by a guard that puts
// it back on success, on failure, and on SIGINT/SIGTERM/SIGHUP (an async-signal-safe cleanup);
// children die with the test (PR_SET_PDEATHSIG), prefcpud gets SIGTERM so it restores itself,
// and scratch cpusets left by a test killed with SIGKILL are swept at the next start.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/cpu_set.h"
#include "linux/cgroup/mountinfo.h"

namespace prefcpu::it {

// Why real-kernel tests cannot run here, or nothing when they can (root, v1 cpusets, 2+ CPUs).
std::optional<std::string> cannot_run();
CpuSet online_cpus();
std::string read_file(const std::filesystem::path& path);
// Polls every 10 ms until predicate() or the timeout.
bool wait_for(const std::function<bool()>& predicate,
              std::chrono::milliseconds timeout = std::chrono::seconds(5));

// A scratch cpuset "prefcpu-it-PID-N" under the real v1 hierarchy, with all online CPUs.
class ScratchCpuset {
 public:
  ScratchCpuset();
  ~ScratchCpuset();
  ScratchCpuset(const ScratchCpuset&) = delete;
  ScratchCpuset& operator=(const ScratchCpuset&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path path(const std::string& relative) const { return root_ / relative; }
  void make(const std::string& relative);
  void attach(pid_t pid, const std::string& relative);  // "" is the scratch root itself
  std::string cpus(const std::string& relative) const;
  bool exists(const std::string& relative) const;
  // The cpuset of a task relative to the scratch root ("" for the root), from /proc/PID/cpuset.
  std::string cgroup_of(pid_t pid) const;

 private:
  std::filesystem::path root_;
  std::string from_hierarchy_;  // "/prefcpu-it-PID-N"
};

// A child that sleeps in short steps, so the scheduler places it often. Killed with the guard,
// or with the test process.
class Child {
 public:
  explicit Child(std::chrono::milliseconds step = std::chrono::milliseconds(5));
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  CpuSet allowed() const;
  unsigned processor() const;

 private:
  pid_t pid_ = -1;
};

// Pins like an operator would: taskset -pc LIST PID. True on success.
bool taskset(pid_t pid, const std::string& cpulist);

// Rewrites a synthetic /proc/stat every 10 ms whose steal grows at `fraction` of all online CPU
// time, so prefcpud's --proc-stat sees a chosen steal_bp while enforcement stays real.
class StealFeeder {
 public:
  explicit StealFeeder(std::filesystem::path file);
  ~StealFeeder();
  StealFeeder(const StealFeeder&) = delete;
  StealFeeder& operator=(const StealFeeder&) = delete;
  void set_fraction(double fraction) { fraction_.store(fraction); }

 private:
  void write(std::uint64_t steal_ticks) const;

  std::filesystem::path file_;
  CpuSet online_;
  std::atomic<double> fraction_{0.0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The real prefcpud binary in the foreground, stderr to a log file. The guard sends SIGTERM (and
// SIGKILL after 10 s); the daemon also gets SIGTERM if the test process dies.
class DaemonProcess {
 public:
  DaemonProcess(const std::vector<std::string>& args, std::filesystem::path log);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  pid_t pid() const { return pid_; }
  // SIGTERM and wait; the exit status, or -1 if it did not exit by itself. With `usage`, the
  // daemon's CPU time (wait4).
  int terminate(struct rusage* usage = nullptr);
  void kill9();
  bool running() const;
  std::string log() const { return read_file(log_); }

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

// Runs a program to completion; its exit status and stdout+stderr.
struct Run {
  int status = -1;
  std::string output;
};
Run run(const std::vector<std::string>& args);

}  // namespace prefcpu::it
