// Kernel threads in a fixture /proc, and a sched_setaffinity(2) that keeps the kernel's rules
// for them: PF_NO_SETAFFINITY refuses with EINVAL, an exited TID with ESRCH, a mask with no
// online CPU with EINVAL; a success shows in /proc/PID/status as Cpus_allowed_list.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/cpu_set.h"
#include "linux/cgroup/affinity_setter.h"
#include "linux/cgroup/task_probe.h"

namespace prefcpu::testing {

struct FakeKthread {
  std::string comm = "kthread";
  CpuSet allowed;
  bool no_setaffinity = false;  // PF_NO_SETAFFINITY: per-CPU kthreads, kworkers
  bool kernel_thread = true;    // false: a user task
  pid_t ppid = 2;               // 0: kthreadd itself
  std::uint64_t start_time = 100;
};

class FakeKthreads final : public AffinitySetter {
 public:
  FakeKthreads(std::filesystem::path proc_root, CpuSet online)
      : proc_root_(std::move(proc_root)), online_(online) {}

  void add(pid_t pid, FakeKthread thread) {
    threads_[pid] = std::move(thread);
    sync(pid);
  }
  // The thread exits: its /proc directory goes.
  void exit(pid_t pid) {
    threads_.erase(pid);
    std::filesystem::remove_all(proc_root_ / std::to_string(pid));
  }
  // Someone else's sched_setaffinity (an administrator, taskset), not counted in calls().
  void repin(pid_t pid, const CpuSet& cpus) {
    threads_.at(pid).allowed = cpus;
    sync(pid);
  }
  CpuSet allowed(pid_t pid) const { return threads_.at(pid).allowed; }
  // The next set_affinity calls fail with err (-1 times: for ever).
  void fail_with(int err, int times = -1) {
    fail_errno_ = err;
    fail_times_ = times;
  }
  const std::vector<std::pair<pid_t, CpuSet>>& calls() const { return calls_; }
  void clear_calls() { calls_.clear(); }

  Status set_affinity(pid_t pid, const CpuSet& cpus) override {
    calls_.emplace_back(pid, cpus);
    if (fail_times_ != 0) {
      if (fail_times_ > 0) --fail_times_;
      return make_errno_error(fail_errno_, "sched_setaffinity({}): {}", pid,
                              std::strerror(fail_errno_));
    }
    auto it = threads_.find(pid);
    if (it == threads_.end()) return make_errno_error(ESRCH, "sched_setaffinity({}): ESRCH", pid);
    if (it->second.no_setaffinity || !cpus.intersects(online_)) {
      return make_errno_error(EINVAL, "sched_setaffinity({}): EINVAL", pid);
    }
    it->second.allowed = cpus;
    sync(pid);
    return {};
  }

 private:
  void sync(pid_t pid) {
    const auto& thread = threads_.at(pid);
    auto dir = proc_root_ / std::to_string(pid);
    std::filesystem::create_directories(dir);
    std::uint64_t flags = thread.kernel_thread ? kPfKthread | 0x40 : 0x00400100;
    if (thread.no_setaffinity) flags |= kPfNoSetaffinity;
    std::string fields;
    // Fields 3..41 of proc(5): state ppid ... flags (9) ... starttime (22) ... processor (39).
    for (unsigned field = 3; field <= 41; ++field) {
      std::string value = "0";
      if (field == 3) value = "S";
      if (field == 4) value = std::to_string(thread.ppid);
      if (field == 9) value = std::to_string(flags);
      if (field == 22) value = std::to_string(thread.start_time);
      fields += " " + value;
    }
    std::ofstream(dir / "stat") << pid << " (" << thread.comm << ")" << fields << "\n";
    // sched_getaffinity shows cpus_mask ∩ active, as Cpus_allowed_list does on a steady machine.
    std::ofstream(dir / "status") << "Name:\t" << thread.comm << "\nTgid:\t" << pid
                                  << "\nCpus_allowed_list:\t"
                                  << format_cpulist(thread.allowed & online_) << "\n";
  }

  std::filesystem::path proc_root_;
  CpuSet online_;
  std::map<pid_t, FakeKthread> threads_;
  std::vector<std::pair<pid_t, CpuSet>> calls_;
  int fail_errno_ = 0;
  int fail_times_ = 0;
};

}  // namespace prefcpu::testing
