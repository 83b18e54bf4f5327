// Unbound kernel threads that user space may move (khugepaged, kcompactd, kswapd, the RCU
// grace-period kthreads...) follow the preferred CPUs through sched_setaffinity(2), as the
// unbound workqueues do through their cpumask (docs/daemon.md "Housekeeping"). Each moved
// thread's original mask is journalled before the move and put back on grow, at exit and on
// recovery, unless someone else changed the thread's mask meanwhile.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include "linux/actuator.h"
#include "linux/cgroup/affinity_setter.h"
#include "linux/cgroup/task_probe.h"
#include "linux/journal.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

struct KthreadOptions {
  std::filesystem::path proc_root = "/proc";
  // Read at restore and recovery to compare masks as sched_getaffinity(2) shows them (∩ active).
  std::filesystem::path online = "/sys/devices/system/cpu/online";
  // Unset: a ProcTaskProbe reading PROC_ROOT/PID/{stat,status} (fixture trees).
  std::shared_ptr<const TaskProbe> probe;
  // Required: how masks are changed (sched_setaffinity(2) on the real /proc).
  std::shared_ptr<AffinitySetter> setter;
  // One line per state change (moved, back, re-pinned by someone else, refused), for the log;
  // the last one is kept as "last_event" in status().
  std::function<void(std::string_view)> on_event;
};

inline constexpr std::string_view kKthreadSection = "kthreads";

// Why a task is or is not moved, in the order the checks run.
enum class KthreadKind {
  kNotKthread,     // no PF_KTHREAD: user space, the cpusets' business
  kKthreadd,       // kthreadd (ppid 0): new kthreads start from its mask
  kNoSetaffinity,  // PF_NO_SETAFFINITY: per-CPU kthreads, kworkers (the workqueues' cpumask)
  kPerCpu,         // allowed on one CPU only: bound by the kernel or pinned by someone
  kMovable,
};
KthreadKind classify_kthread(const PidStat& stat, const CpuSet& allowed);

// Its journal section is kKthreadSection (kthread_journal.h). An apply lists PROC_ROOT only
// while a thread is confined or preferred lacks an online CPU: otherwise no thread can move.
std::unique_ptr<Actuator> make_kthread_actuator(KernelFs& fs, Journal& journal,
                                                KthreadOptions options);

}  // namespace prefcpu
