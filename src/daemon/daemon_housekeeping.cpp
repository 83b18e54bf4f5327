// The housekeeping actuators of prefcpud: what the kernel runs on CPUs of its own choosing
// (unbound workqueues, unbound kernel threads) follows the preferred CPUs, as the workload's
// cpusets do.
#include "daemon/daemon.h"

namespace prefcpu {

WorkqueueOptions Daemon::workqueue_options() const {
  WorkqueueOptions options;
  options.cpumask = workqueue_cpumask_path(paths_.sysfs_root);
  options.on_event = [this](std::string_view line) { deps_.log.info("workqueues: {}", line); };
  return options;
}

// Enforce mode only: mirror mode leaves housekeeping to the kernel, as it leaves the cpusets.
void Daemon::create_workqueue_actuator() {
  if (mode_ != DaemonMode::kEnforce || config_.dry_run) return;
  auto options = workqueue_options();
  if (!config_.workqueues) {
    deps_.log.info("workqueues: not steered (workqueues = false)");
  } else if (!deps_.fs.exists(options.cpumask)) {
    // Old kernel, no sysfs, a container: said once, never an error.
    deps_.log.info("workqueues: not steered ({} not found)", options.cpumask.string());
  } else {
    deps_.log.info("workqueues: unbound workqueues follow preferred through {}",
                   options.cpumask.string());
    actuators_.push_back(make_workqueue_actuator(deps_.fs, journal_, std::move(options)));
  }
}

KthreadOptions Daemon::kthread_options() const {
  KthreadOptions options;
  options.proc_root = paths_.proc_root;
  options.online = paths_.sysfs_root / "devices/system/cpu/online";
  options.probe = deps_.make_task_probe(deps_.fs, paths_.proc_root);
  if (deps_.make_affinity_setter) options.setter = deps_.make_affinity_setter(paths_.proc_root);
  options.on_event = [this](std::string_view line) { deps_.log.info("kthreads: {}", line); };
  return options;
}

// Enforce mode only, as the workqueues.
void Daemon::create_kthread_actuator() {
  if (mode_ != DaemonMode::kEnforce || config_.dry_run) return;
  auto options = kthread_options();
  if (!config_.kthreads) {
    deps_.log.info("kthreads: not moved (kthreads = false)");
  } else if (!options.setter) {
    deps_.log.info("kthreads: not moved (no sched_setaffinity for proc root {})",
                   paths_.proc_root.string());
  } else {
    deps_.log.info("kthreads: unbound kernel threads follow preferred through sched_setaffinity");
    actuators_.push_back(make_kthread_actuator(deps_.fs, journal_, std::move(options)));
  }
}

}  // namespace prefcpu
