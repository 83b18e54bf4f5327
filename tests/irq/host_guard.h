// For tests that change this machine's IRQ placement: snapshots every
// /proc/irq/*/smp_affinity_list and /proc/irq/default_smp_affinity, and puts them back when the
// guard ends, and on SIGINT, SIGTERM, SIGABRT or SIGSEGV (a failed assertion that aborts, a
// ctest interrupt). On a signal it first kills the children it was told about (an irqbalance,
// which never restores affinities itself; a prefcpud) and removes the paths it was told about.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace prefcpu::testing {

class HostIrqGuard {
 public:
  HostIrqGuard();
  ~HostIrqGuard();
  HostIrqGuard(const HostIrqGuard&) = delete;
  HostIrqGuard& operator=(const HostIrqGuard&) = delete;

  // Killed with SIGKILL on a signal (up to 4 at a time), until untracked.
  void track_child(pid_t pid);
  void untrack_child(pid_t pid);
  // Unlinked (a file, a socket) or removed (an empty directory, a cgroup) on a signal, after
  // the children are dead, latest slot first (up to 8 at a time), until forgotten.
  void remove_on_signal(const std::string& path);
  void forget_path(const std::string& path);

  // Writes back every value that differs from the snapshot; returns the files it could not.
  std::vector<std::string> restore() const;
  // Files whose value differs from the snapshot now (IRQs that vanished are ignored).
  std::vector<std::string> differences() const;
  const std::map<std::string, std::string>& snapshot() const { return snapshot_; }

 private:
  std::map<std::string, std::string> snapshot_;  // path -> value without newline
};

}  // namespace prefcpu::testing
