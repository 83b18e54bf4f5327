// prefcpud's loop body and lifecycle, without the event loop around it: tests drive run_period()
// with a FakeClock and fixture trees, and call handle_request() as the control socket would.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/steal_monitor.h"
#include "daemon/config.h"
#include "daemon/control_server.h"
#include "daemon/history.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/preferred_source.h"
#include "linux/actuator.h"
#include "linux/cgroup/task_probe.h"
#include "linux/change_watcher.h"
#include "linux/clock.h"
#include "linux/housekeeping/kthread_actuator.h"
#include "linux/housekeeping/workqueue_actuator.h"
#include "linux/irq/irq_actuator.h"
#include "linux/journal.h"
#include "linux/kernel_fs.h"
#include "linux/systemd/systemd_bus.h"
#include "protocol/protocol.h"

namespace prefcpu {

struct ProcStatSample {
  std::uint64_t steal_ticks = 0;
  CpuSet online;
  std::uint64_t busy_ticks = 0;
};

struct DaemonPaths {
  std::filesystem::path state_dir = "/run/prefcpu";
  std::filesystem::path proc_stat = "/proc/stat";
  std::filesystem::path sysfs_root = "/sys";
  std::filesystem::path proc_root = "/proc";
};

using IrqActuatorFactory =
    std::function<std::unique_ptr<Actuator>(KernelFs&, Journal&, const IrqOptions&)>;
using SystemdBusFactory = std::function<std::unique_ptr<SystemdBus>()>;
// Re-reads the config file and applies the flags (SIGHUP).
using ConfigSource = std::function<Result<Config>()>;
// Per-task kernel state for the cpuset actuator, under a /proc root.
using TaskProbeFactory =
    std::function<std::shared_ptr<const TaskProbe>(const KernelFs&, const std::filesystem::path&)>;
// sched_setaffinity(2) for the kthread actuator, under a /proc root; null: kthreads are not moved.
using AffinitySetterFactory =
    std::function<std::shared_ptr<AffinitySetter>(const std::filesystem::path&)>;
// What tells the loop that a watched directory changed (irqbalance's socket directory).
using WatcherFactory =
    std::function<std::unique_ptr<ChangeWatcher>(const std::vector<std::filesystem::path>&)>;

enum class DaemonMode {
  kEnforce,  // cpusets (and IRQs) follow preferred
  kDryRun,   // decide and publish, write nothing
  kMirror,   // CONFIG_PREFERRED_CPU: publish the kernel's mask, steer IRQs only
  kIdle,     // no hypervisor: nothing to react to, the mask stays full
};

struct DaemonDeps {
  KernelFs& fs;
  Clock& clock;
  Logger& log;
  ConfigSource config_source;
  IrqActuatorFactory make_irq = make_irq_actuator;
  SystemdBusFactory make_bus = make_sd_bus;  // the systemd backend's D-Bus connection
  std::uint64_t user_hz = 0;                 // 0: sysconf(_SC_CLK_TCK)
  // The real /proc: sched_getaffinity(2) for affinities. Tests pass a fixture reader.
  TaskProbeFactory make_task_probe = [](const KernelFs& kernel, const std::filesystem::path& proc) {
    return std::make_shared<const ProcTaskProbe>(kernel, proc, /*use_syscalls=*/true);
  };
  // Only the real /proc: a fixture's TIDs are this machine's tasks. Tests inject a fake.
  AffinitySetterFactory make_affinity_setter =
      [](const std::filesystem::path& proc) -> std::shared_ptr<AffinitySetter> {
    if (proc != "/proc") return nullptr;
    return std::make_shared<SyscallAffinitySetter>();
  };
  WatcherFactory make_watcher = watch_directories;
  // Unset: the source of the mode (monitor, mirror, idle). Tests inject others.
  std::function<std::unique_ptr<PreferredSource>(DaemonMode)> make_source = nullptr;
  MetricsListen listen_metrics = prefcpu::listen_metrics;
};

std::string_view mode_name(DaemonMode mode);

class Daemon {
 public:
  Daemon(DaemonDeps deps, DaemonPaths paths, Config config);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Locks the state directory, restores from a journal left by an unclean exit, detects the
  // mode, builds the monitor and the actuators, and takes the baseline sample. An error means
  // prefcpud must not run; nothing has been changed then.
  Status start();
  // One period: sample, decide, apply, publish.
  void run_period();
  // Restores every actuator and, if all succeeded, deletes the journal. Idempotent.
  Status stop();
  // SIGHUP: a valid config replaces the running one (the restart-only keys excepted); an invalid
  // one is refused with its error and changes nothing.
  Status reload();

  nlohmann::json handle_request(const nlohmann::json& request, const Peer& peer);
  nlohmann::json status() const;

  std::int64_t next_period_ns() const { return next_period_ns_; }
  DaemonMode mode() const { return mode_; }
  const std::string& mode_reason() const { return mode_reason_; }
  const Config& config() const { return config_; }
  // Derived, never stored: the source's mask while running, every online CPU once stopped.
  CpuSet preferred() const;
  CpuSet online() const { return monitor_ ? monitor_->online() : CpuSet{}; }
  // The loop polls this (-1: none) and calls notice_change() when it is readable: the next
  // period reconciles every actuator.
  int watch_fd() const { return watcher_ ? watcher_->fd() : -1; }
  void notice_change();
  const StealMonitor& monitor() const { return *monitor_; }
  const History& history() const { return history_; }
  // Set when an invariant broke: the loop must stop, and stop() restores.
  const std::optional<std::string>& fatal() const { return fatal_; }
  // One line for sd_notify's STATUS=.
  std::string summary() const;
  // What confines the cgroups (derived from the actuators: "systemd" when the unit actuator
  // runs, else "cgroupfs"); status.json's "backend" and the metrics' label.
  std::string_view backend() const;
  const Metrics& metrics() const { return metrics_; }

 private:
  struct Counters {
    std::uint64_t periods = 0;
    std::uint64_t shrinks = 0;
    std::uint64_t grows = 0;
    std::uint64_t holds = 0;
    std::uint64_t skips = 0;
    std::uint64_t manual = 0;
    std::uint64_t sample_errors = 0;
    std::uint64_t apply_errors = 0;
    std::uint64_t mask_changes = 0;
  };

  // daemon.cpp
  Status lock_state_dir();
  Status recover_from_journal();
  Status detect_mode();
  Status create_actuators();
  Status create_unit_actuator();
  Status create_irq_actuator();
  IrqOptions irq_options(IrqMode mode) const;
  void create_workqueue_actuator();
  WorkqueueOptions workqueue_options() const;
  void create_kthread_actuator();
  KthreadOptions kthread_options() const;
  Status check_state_dir() const;
  std::unique_ptr<PreferredSource> make_source() const;
  // preferred when it changed; status.json when `force` (a change) or at the reconcile cadence.
  void publish(bool force);
  void publish_file(const std::filesystem::path& path, const std::string& content);
  // A new interval starts from the last period, as the kernel requeues its work.
  void retime(std::uint32_t old_interval_ms);

  // daemon_period.cpp
  Result<ProcStatSample> sample();
  CpuSet believed_online(const CpuSet& listed);
  void apply_actuators();
  void log_step(const Step& step, const CpuSet& before, const CpuSet& online_before);
  void refresh_topology(const CpuSet& online);
  void count(Action action);

  // daemon_control.cpp
  nlohmann::json set_preferred(const protocol::SetPreferredRequest& request, const Peer& peer);
  nlohmann::json set_knob(const protocol::SetKnobRequest& request, const Peer& peer);
  void apply_now(Action action, const CpuSet& before);

  DaemonDeps deps_;
  DaemonPaths paths_;
  Config config_;
  DaemonMode mode_ = DaemonMode::kEnforce;
  std::string mode_reason_;
  std::optional<StealMonitor> monitor_;  // knobs, governor, custom mask: their one owner
  std::unique_ptr<PreferredSource> source_;
  std::unique_ptr<ChangeWatcher> watcher_;
  Journal journal_;
  std::vector<std::unique_ptr<Actuator>> actuators_;
  std::map<std::string, std::string, std::less<>> actuator_errors_;  // last error, logged once
  History history_;
  std::optional<std::string> published_preferred_;
  std::optional<std::uint64_t> steal_bp_;
  Action last_action_ = Action::kBaseline;
  std::int64_t last_change_ns_ = 0;
  std::int64_t started_ns_ = 0;
  std::int64_t last_period_ns_ = 0;
  std::int64_t next_period_ns_ = 0;
  std::int64_t status_written_ns_ = 0;
  std::int64_t next_reconcile_ns_ = 0;
  bool reconcile_due_ = true;
  std::string last_sample_error_;
  std::string implausible_noted_;  // the first reason of a run of implausible samples
  std::string online_disagreement_;
  std::map<std::string, std::string, std::less<>> publish_errors_;  // file -> last error
  Counters counters_;
  Metrics metrics_;
  std::optional<std::string> fatal_;
  int lock_fd_ = -1;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace prefcpu
