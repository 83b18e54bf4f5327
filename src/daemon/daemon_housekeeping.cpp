// The housekeeping actuators of prefcpud: what the kernel runs on CPUs of its own choosing
// (unbound workqueues) follows the preferred CPUs, as the workload's cpusets do.
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

}  // namespace prefcpu
