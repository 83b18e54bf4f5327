#include "daemon/daemon.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/governor.h"
#include "daemon/environment.h"
#include "daemon/protocol.h"
#include "linux/cgroup/cpuset_actuator.h"
#include "linux/cgroup/mountinfo.h"
#include "linux/sysfs_topology.h"
#include "linux/systemd/unit_actuator.h"
#include "protocol/json_text.h"

namespace prefcpu {

std::string_view mode_name(DaemonMode mode) {
  switch (mode) {
    case DaemonMode::kEnforce:
      return "enforce";
    case DaemonMode::kDryRun:
      return "dry-run";
    case DaemonMode::kMirror:
      return "mirror";
    case DaemonMode::kIdle:
      return "idle";
  }
  return "enforce";
}

Daemon::Daemon(DaemonDeps deps, DaemonPaths paths, Config config)
    : deps_(std::move(deps)),
      paths_(std::move(paths)),
      config_(std::move(config)),
      journal_(deps_.fs, paths_.state_dir / protocol::kJournalName),
      history_(config_.history_size) {
  deps_.log.set_verbose(config_.verbose || deps_.log.verbose());
}

Daemon::~Daemon() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

// Whoever can write the state directory can plant symlinks and a journal that root then follows:
// it must belong to the user prefcpud runs as (root) and be writable by no one else.
Status Daemon::check_state_dir() const {
  const auto& dir = paths_.state_dir;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    return make_errno_error(errno, "state directory {}: {}", dir.string(), std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
    return make_error("state directory {} is {}: expected a directory (not a symlink)",
                      dir.string(), S_ISLNK(st.st_mode) ? "a symlink" : "not a directory");
  }
  if (st.st_uid != ::geteuid()) {
    return make_error(
        "state directory {} is owned by uid {}, not by uid {} that runs prefcpud: its owner could "
        "plant links and a journal there; remove it or chown it",
        dir.string(), st.st_uid, ::geteuid());
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return make_error(
        "state directory {} has mode {:04o}, writable by others: expected no group or other "
        "write (e.g. 0755); chmod it",
        dir.string(), st.st_mode & 07777);
  }
  return {};
}

Status Daemon::lock_state_dir() {
  std::error_code ec;
  bool existed = std::filesystem::exists(std::filesystem::symlink_status(paths_.state_dir, ec));
  std::filesystem::create_directories(paths_.state_dir, ec);
  if (ec) {
    return make_errno_error(ec.value(), "creating state directory {}: {}",
                            paths_.state_dir.string(), ec.message());
  }
  // Readers of preferred and status.json and clients of control.sock need not be root.
  if (!existed) std::filesystem::permissions(paths_.state_dir, std::filesystem::perms(0755), ec);
  if (auto status = check_state_dir(); !status) return status;
  auto lock_path = paths_.state_dir / protocol::kLockName;
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (lock_fd_ < 0) {
    return make_errno_error(errno, "opening {}: {}", lock_path.string(), std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    ssize_t n = ::pread(lock_fd_, pid, sizeof pid - 1, 0);
    std::string owner = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : "?";
    while (!owner.empty() && owner.back() == '\n') owner.pop_back();
    return make_error("another prefcpud (pid {}) is running with state directory {}", owner,
                      paths_.state_dir.string());
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    return make_errno_error(errno, "writing {}: {}", lock_path.string(), std::strerror(errno));
  }
  return {};
}

IrqOptions Daemon::irq_options(IrqMode mode) const {
  IrqOptions options;
  options.mode = mode;
  options.irq_root = config_.irq_root;
  options.proc_interrupts = paths_.proc_root / "interrupts";
  // State changes of IRQ steering (mode switch, irqbalance found or gone, an IRQ refused).
  options.on_event = [this](std::string_view line) { deps_.log.info("irqs: {}", line); };
  return options;
}

Status Daemon::recover_from_journal() {
  auto loaded = Journal::load(deps_.fs, journal_.path());
  if (!loaded) return loaded.error();
  if (!*loaded) return {};
  if (config_.dry_run) {
    return make_error(
        "found {} from an unclean exit: run prefcpud once without --dry-run to "
        "restore what it lists, or restore by hand and delete it",
        journal_.path().string());
  }
  deps_.log.warning("found {} from an unclean exit; restoring from it before anything else",
                    journal_.path().string());
  // The recovering actuators rewrite their sections; seed the others so none is lost.
  Journal recovery(deps_.fs, journal_.path());
  for (const auto& [name, section] : (*loaded)->items()) {
    if (name == "version") continue;
    if (auto status = recovery.record(name, section); !status) return status;
  }
  std::vector<std::string> failures;
  for (const auto& [name, section] : (*loaded)->items()) {
    if (name == "version") continue;  // load() refused null and empty sections
    std::unique_ptr<Actuator> actuator;
    if (name == UnitActuator::kName) {
      actuator = UnitActuator::for_recovery(deps_.make_bus(), recovery, {});
    } else if (name == kWorkqueueSection) {
      actuator = make_workqueue_actuator(deps_.fs, recovery, workqueue_options());
    } else if (name == kKthreadSection) {
      auto options = kthread_options();
      if (options.setter) actuator = make_kthread_actuator(deps_.fs, recovery, std::move(options));
    } else if (name == CpusetActuator::kName) {
      CpusetOptions options;
      options.proc_root = paths_.proc_root;
      options.clock = &deps_.clock;
      options.probe = deps_.make_task_probe(deps_.fs, paths_.proc_root);
      options.notice = [this](NoticeLevel level, const std::string& text) {
        deps_.log.log(level == NoticeLevel::kWarning ? LogLevel::kWarning : LogLevel::kInfo, text);
      };
      actuator = CpusetActuator::for_recovery(deps_.fs, recovery, std::move(options));
    } else {
      IrqMode mode = config_.irq_mode == IrqMode::kOff ? IrqMode::kAuto : config_.irq_mode;
      actuator = deps_.make_irq(deps_.fs, recovery, irq_options(mode));
      if (actuator && actuator->name() != name) actuator.reset();
    }
    if (!actuator) {
      failures.push_back("section \"" + name + "\" has no actuator in this build to restore it");
      continue;
    }
    if (auto status = actuator->recover(section); !status) {
      failures.push_back(status.error().message);
    } else {
      deps_.log.info("restored {} from the journal", name);
    }
  }
  if (!failures.empty()) {
    std::string joined;
    for (const auto& failure : failures) joined += (joined.empty() ? "" : "; ") + failure;
    return make_error(
        "could not restore everything from {} ({}); it is kept: fix the cause and "
        "restart, or restore by hand and delete it",
        journal_.path().string(), joined);
  }
  return recovery.remove();
}

Status Daemon::detect_mode() {
  auto virtualization = detect_virtualization(deps_.fs, paths_.proc_root, paths_.sysfs_root);
  if (deps_.fs.exists(kernel_preferred_path(paths_.sysfs_root))) {
    mode_ = DaemonMode::kMirror;
    mode_reason_ = "the kernel has CONFIG_PREFERRED_CPU (" +
                   kernel_preferred_path(paths_.sysfs_root).string() +
                   "): publishing its mask, writing no cpusets";
  } else if (!virtualization.guest) {
    mode_ = DaemonMode::kIdle;
    mode_reason_ = virtualization.reason + "; keeping the mask full";
  } else if (config_.dry_run) {
    mode_ = DaemonMode::kDryRun;
    mode_reason_ = "--dry-run: deciding and publishing, writing nothing";
  } else {
    mode_ = DaemonMode::kEnforce;
    mode_reason_ = virtualization.reason;
  }
  return {};
}

Status Daemon::create_actuators() {
  if (mode_ == DaemonMode::kIdle || config_.dry_run) return {};
  if (mode_ == DaemonMode::kEnforce) {
    auto mountinfo = deps_.fs.read(paths_.proc_root / "self/mountinfo");
    if (!mountinfo) return mountinfo.error();
    auto mounts = parse_mountinfo(*mountinfo);
    if (!mounts) return mounts.error();
    auto hierarchy = config_.cgroup_root.empty()
                         ? find_cpuset_hierarchy(deps_.fs, *mounts)
                         : resolve_cpuset_root(deps_.fs, *mounts, config_.cgroup_root);
    auto backend = choose_backend(config_.backend, deps_.fs, paths_.proc_root, hierarchy);
    if (!backend) return backend.error();
    deps_.log.info("{}", backend->reason);
    if (backend->backend == Backend::kSystemd) return create_unit_actuator();
    if (!hierarchy) {
      return make_error("{}; run with --dry-run to only publish the preferred mask",
                        hierarchy.error().message);
    }
    CpusetOptions options;
    options.hierarchy = *hierarchy;
    options.cgroups = config_.cgroups;
    options.shield = config_.shield;
    options.proc_root = paths_.proc_root;
    options.notice = [this](NoticeLevel level, const std::string& text) {
      deps_.log.log(level == NoticeLevel::kWarning ? LogLevel::kWarning : LogLevel::kInfo, text);
    };
    options.clock = &deps_.clock;
    options.probe = deps_.make_task_probe(deps_.fs, paths_.proc_root);
    auto cpusets = CpusetActuator::create(deps_.fs, journal_, std::move(options));
    if (!cpusets) return cpusets.error();
    deps_.log.info("cpusets: cgroup v{} at {}, managing {}{}", static_cast<int>(hierarchy->version),
                   hierarchy->root.string(),
                   config_.cgroups.empty() ? std::string("every top-level cpuset")
                                           : fmt::format("{}", fmt::join(config_.cgroups, ", ")),
                   config_.shield ? " (shield: the root's tasks move into prefcpu-workload)" : "");
    actuators_.push_back(std::move(*cpusets));
  }
  return create_irq_actuator();
}

Status Daemon::create_unit_actuator() {
  SystemdOptions options;
  options.units = config_.cgroups;
  options.notice = [this](NoticeLevel level, const std::string& text) {
    deps_.log.log(level == NoticeLevel::kWarning ? LogLevel::kWarning : LogLevel::kInfo, text);
  };
  options.now_ns = [this] { return deps_.clock.monotonic_ns(); };
  auto units = UnitActuator::create(deps_.make_bus(), journal_, std::move(options));
  if (!units) return units.error();
  for (const auto& rejected : (*units)->rejected()) {
    deps_.log.error("systemd: not managing {}; the other units are", rejected);
  }
  deps_.log.info("systemd: managing AllowedCPUs= of {}",
                 fmt::join((*units)->managed_units(), ", "));
  actuators_.push_back(std::move(*units));
  return create_irq_actuator();
}

Status Daemon::create_irq_actuator() {
  if (config_.irq_mode != IrqMode::kOff) {
    if (auto irqs = deps_.make_irq(deps_.fs, journal_, irq_options(config_.irq_mode)); irqs) {
      deps_.log.info("irqs: {} mode", irq_mode_name(config_.irq_mode));
      actuators_.push_back(std::move(irqs));
    } else {
      deps_.log.info("irqs: not steered (irq_mode {}: no IRQ actuator available)",
                     irq_mode_name(config_.irq_mode));
    }
  }
  return {};
}

Status Daemon::start() {
  if (auto status = lock_state_dir(); !status) return status;
  if (auto status = check_proc_stat(deps_.fs, paths_.proc_stat); !status) return status;
  // Refused before anything changes; started after the signals are blocked (threads inherit it).
  if (auto status = metrics_.start(deps_.fs, config_.metrics_listen, config_.metrics_textfile,
                                   deps_.listen_metrics);
      !status) {
    return status;
  }
  if (auto status = recover_from_journal(); !status) return status;
  if (auto status = detect_mode(); !status) return status;

  auto topology = read_sysfs_topology(deps_.fs, paths_.sysfs_root);
  if (!topology) return topology.error();
  auto governor = make_governor(config_.governor);
  if (!governor) return governor.error();
  std::uint64_t user_hz = deps_.user_hz;
  if (user_hz == 0) {
    long hz = ::sysconf(_SC_CLK_TCK);
    user_hz = hz > 0 ? static_cast<std::uint64_t>(hz) : 100;
  }
  auto monitor =
      StealMonitor::create(std::move(*topology), config_.knobs, std::move(*governor), user_hz);
  if (!monitor) return monitor.error();
  monitor_.emplace(std::move(*monitor));
  monitor_->reject_implausible(true);
  source_ = make_source();

  if (auto status = create_actuators(); !status) return status;
  create_workqueue_actuator();
  create_kthread_actuator();
  if (config_.irq_mode != IrqMode::kOff && config_.irq_mode != IrqMode::kBuiltin &&
      !actuators_.empty() && deps_.make_watcher) {
    // irqbalance starting or stopping (its socket appearing or going) reconciles at once.
    watcher_ = deps_.make_watcher({IrqOptions{}.irqbalance_run_dir});
  }
  deps_.log.info("mode {}: {}", mode_name(mode_), mode_reason_);
  deps_.log.info("governor {}, {}", monitor_->governor().name(), describe_knobs(monitor_->knobs()));
  // Logged here, not where it starts: the first line of enforcement is the backend and why.
  if (auto port = metrics_.port()) {
    deps_.log.info("metrics: serving http://{}:{}/metrics",
                   parse_metrics_address(config_.metrics_listen)->host, *port);
  }
  started_ns_ = deps_.clock.monotonic_ns();
  next_period_ns_ = started_ns_;
  started_ = true;
  run_period();  // the baseline sample, as the kernel takes one at load
  return {};
}

constexpr std::int64_t kStatusRefreshNs = 1'000'000'000;

std::unique_ptr<PreferredSource> Daemon::make_source() const {
  if (deps_.make_source) return deps_.make_source(mode_);
  switch (mode_) {
    case DaemonMode::kIdle:
      return make_idle_source();
    case DaemonMode::kMirror:
      return make_mirror_source(deps_.fs, kernel_preferred_path(paths_.sysfs_root),
                                [this](const std::string& line) { deps_.log.warning("{}", line); });
    case DaemonMode::kEnforce:
    case DaemonMode::kDryRun:
      break;
  }
  return make_monitor_source();
}

CpuSet Daemon::preferred() const {
  if (!monitor_ || !source_) return {};
  if (stopped_) return monitor_->online();
  return source_->preferred(*monitor_);
}

void Daemon::notice_change() {
  if (watcher_ && watcher_->drain()) reconcile_due_ = true;
}

void Daemon::publish_file(const std::filesystem::path& path, const std::string& content) {
  auto status = deps_.fs.replace_file(path, content, /*durable=*/false);
  auto previous = publish_errors_.find(path.string());
  if (!status) {
    // A full or read-only state directory: said once, retried at every change.
    if (previous == publish_errors_.end() || previous->second != status.error().message) {
      deps_.log.warning("publishing {}: {}; retrying at each change", path.string(),
                        status.error().message);
      publish_errors_[path.string()] = status.error().message;
    }
  } else if (previous != publish_errors_.end()) {
    deps_.log.info("publishing {} works again", path.string());
    publish_errors_.erase(previous);
  }
}

void Daemon::publish(bool force) {
  std::string preferred = format_cpulist(this->preferred());
  if (published_preferred_ != preferred) {
    force = true;
    auto path = paths_.state_dir / protocol::kPreferredName;
    publish_file(path, preferred + "\n");
    if (!publish_errors_.contains(path.string())) published_preferred_ = preferred;
  }
  // Rewriting a file costs a write and a rename: status.json follows every change, and otherwise
  // refreshes once a second (the control socket answers live).
  std::int64_t now = deps_.clock.monotonic_ns();
  if (!force && now - status_written_ns_ < kStatusRefreshNs) return;
  status_written_ns_ = now;
  nlohmann::json published = status();
  publish_file(paths_.state_dir / protocol::kStatusName, json_text(published, 2) + "\n");
  // Metrics follow status.json: the same status, at the same cadence.
  if (auto line = metrics_.publish(published, force, now)) deps_.log.warning("{}", *line);
}

Status Daemon::stop() {
  if (!started_ || stopped_) return {};
  stopped_ = true;
  std::vector<std::string> failures;
  for (auto it = actuators_.rbegin(); it != actuators_.rend(); ++it) {
    if (auto status = (*it)->restore(); !status) {
      failures.push_back(std::string((*it)->name()) + ": " + status.error().message);
    }
  }
  publish(true);
  if (!failures.empty()) {
    std::string joined;
    for (const auto& failure : failures) joined += (joined.empty() ? "" : "; ") + failure;
    auto error =
        make_error("not everything was restored ({}); {} is kept so the next start retries", joined,
                   journal_.path().string());
    deps_.log.error("stopping: {}", error.message);
    return error;
  }
  if (auto status = journal_.remove(); !status) {
    deps_.log.error("stopping: everything was restored, but {}", status.error().message);
    return status;
  }
  deps_.log.info("restored everything; stopped");
  return {};
}

Status Daemon::reload() {
  if (!deps_.config_source) return make_error("no config source to reload from");
  auto next = deps_.config_source();
  if (!next) {
    deps_.log.error("reload refused, keeping the running config: {}", next.error().message);
    return next.error();
  }
  for (const auto& key : restart_only_changes(config_, *next)) {
    deps_.log.warning("reload: {} changes only at restart; keeping the running value", key);
  }
  // The file's governor and knobs win over runtime `prefcpuctl set` changes; a custom mask stays.
  if (next->governor != monitor_->governor().name()) {
    auto governor = make_governor(next->governor);
    if (!governor) return governor.error();  // validated already; kept for safety
    monitor_->set_governor(std::move(*governor));
  }
  std::uint32_t old_interval_ms = monitor_->knobs().interval_ms;
  if (auto status = monitor_->set_knobs(next->knobs); !status) return status;
  retime(old_interval_ms);
  history_.set_capacity(next->history_size);
  deps_.log.set_verbose(next->verbose);
  config_ = keep_restart_only(std::move(*next), config_);
  deps_.log.info("reloaded: governor {}, {}", monitor_->governor().name(),
                 describe_knobs(monitor_->knobs()));
  publish(true);
  return {};
}

void Daemon::retime(std::uint32_t old_interval_ms) {
  std::uint32_t interval_ms = monitor_->knobs().interval_ms;
  if (interval_ms != old_interval_ms) {
    next_period_ns_ = last_period_ns_ + std::int64_t{interval_ms} * 1'000'000;
  }
}

std::string Daemon::summary() const {
  return fmt::format("{}: preferred {} of {}, steal_bp {}, last {}", mode_name(mode_),
                     format_cpulist(preferred()), format_cpulist(online()),
                     steal_bp_ ? std::to_string(*steal_bp_) : std::string("-"),
                     action_name(last_action_));
}

}  // namespace prefcpu
