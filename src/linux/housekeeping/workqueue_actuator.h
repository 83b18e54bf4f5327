// Unbound workqueues follow the preferred CPUs through /sys/devices/virtual/workqueue/cpumask
// (docs/daemon.md "Workqueues"): prefcpu writes original ∩ preferred, and the original back on
// grow, at exit and on recovery. Per-CPU (bound) workqueues are not affected by that file.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include "linux/actuator.h"
#include "linux/journal.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

struct WorkqueueOptions {
  // Under the daemon's sysfs root.
  std::filesystem::path cpumask = "/sys/devices/virtual/workqueue/cpumask";
  // One line per state change (unavailable, refused, foreign write), for the daemon's log; the
  // same line is kept as "last_event" in status().
  std::function<void(std::string_view)> on_event;
};

inline constexpr std::string_view kWorkqueueSection = "workqueues";

// The file under a sysfs root.
std::filesystem::path workqueue_cpumask_path(const std::filesystem::path& sysfs_root);

// The mask the unbound workqueues get, as an IRQ's (irq_rules.h):
// - the original, if its online CPUs are all preferred (nothing to steer; it keeps its offline
//   possible CPUs, so a grow puts it back exactly);
// - original ∩ preferred otherwise;
// - the original if that is empty (the kernel would refuse an empty mask with EINVAL, and the
//   original already is what the housekeeping limits allow).
CpuSet workqueue_target(const CpuSet& original, const CpuSet& preferred, const CpuSet& online);

// Its journal section is kWorkqueueSection: {"cpumask": "<original as the kernel printed it>"}.
std::unique_ptr<Actuator> make_workqueue_actuator(KernelFs& fs, Journal& journal,
                                                  WorkqueueOptions options);

}  // namespace prefcpu
