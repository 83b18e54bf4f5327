// What prefcpud needs to know about one task (a thread, by TID): where it last ran, whether it is
// a kernel thread, when it started (to tell a reused TID apart), and which CPUs it may use.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/cpu_set.h"
#include "core/result.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

// include/linux/sched.h: I am a kernel thread.
inline constexpr std::uint64_t kPfKthread = 0x00200000;
// include/linux/sched.h: userland is not allowed to meddle with cpus_mask (per-CPU kthreads,
// kworkers); sched_setaffinity(2) returns EINVAL.
inline constexpr std::uint64_t kPfNoSetaffinity = 0x04000000;

struct PidStat {
  pid_t pid = 0;
  std::string comm;  // field 2, without the parentheses
  char state = '?';
  pid_t ppid = 0;
  std::uint64_t flags = 0;       // field 9
  std::uint64_t start_time = 0;  // field 22, clock ticks after boot
  unsigned processor = 0;        // field 39: the CPU it last ran on
  bool kernel_thread() const { return (flags & kPfKthread) != 0; }
  bool no_setaffinity() const { return (flags & kPfNoSetaffinity) != 0; }
};

// Parses /proc/PID/stat; the comm field may hold spaces and parentheses, so fields are counted
// from the last ')'. Errors name what is missing.
Result<PidStat> parse_pid_stat(std::string_view text);

struct PidStatus {
  pid_t tgid = 0;
  CpuSet cpus_allowed;  // Cpus_allowed_list: the task's cpus_mask
};

// Parses the Tgid and Cpus_allowed_list lines of /proc/PID/status.
Result<PidStatus> parse_pid_status(std::string_view text);

// The seam between the cpuset actuator and per-task kernel state.
class TaskProbe {
 public:
  virtual ~TaskProbe() = default;
  virtual Result<PidStat> stat(pid_t tid) const = 0;
  // The CPUs the task may run on now (cpus_mask ∩ active), as sched_getaffinity(2) reports.
  virtual Result<CpuSet> affinity(pid_t tid) const = 0;
  virtual Result<pid_t> tgid(pid_t tid) const = 0;
};

// Reads PROC_ROOT/TID/{stat,status} through a KernelFs. With use_syscalls (the real /proc),
// affinity comes from sched_getaffinity(2), which is about 30 times cheaper than reading
// status; a fixture tree is read instead.
class ProcTaskProbe final : public TaskProbe {
 public:
  ProcTaskProbe(const KernelFs& fs, std::filesystem::path proc_root, bool use_syscalls)
      : fs_(fs), proc_root_(std::move(proc_root)), use_syscalls_(use_syscalls) {}

  Result<PidStat> stat(pid_t tid) const override;
  Result<CpuSet> affinity(pid_t tid) const override;
  Result<pid_t> tgid(pid_t tid) const override;

 private:
  const KernelFs& fs_;
  std::filesystem::path proc_root_;
  bool use_syscalls_;
  mutable std::size_t affinity_bytes_ = 128;  // the cpu_set_t size that worked last
};

// The TIDs in a cgroup's tasks or cgroup.threads file, one per line.
Result<std::vector<pid_t>> parse_task_list(std::string_view text);

}  // namespace prefcpu
