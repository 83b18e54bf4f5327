// The seam for changing a task's affinity, sched_setaffinity(2): the write side of
// TaskProbe::affinity. The kthread actuator moves unbound kernel threads through it; tests pass a
// fake that keeps the kernel's rules over fixture /proc files.
#pragma once

#include <sys/types.h>

#include "core/cpu_set.h"
#include "core/result.h"

namespace prefcpu {

class AffinitySetter {
 public:
  virtual ~AffinitySetter() = default;
  // The error carries the kernel's errno: EINVAL for PF_NO_SETAFFINITY (per-CPU kthreads, the
  // workqueues' kworkers) or a mask with no allowed CPU, ESRCH for a task that exited, EPERM
  // without CAP_SYS_NICE.
  virtual Status set_affinity(pid_t tid, const CpuSet& cpus) = 0;
};

// sched_setaffinity(2) on this machine's TIDs.
class SyscallAffinitySetter final : public AffinitySetter {
 public:
  Status set_affinity(pid_t tid, const CpuSet& cpus) override;
};

}  // namespace prefcpu
