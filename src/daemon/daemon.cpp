#include "daemon/daemon.h"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE
#include <sys/file.h>
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
      journal_(paths_.state_dir / protocol::kJournalName),
      history_(config_.history_size) {
  deps_.log.set_verbose(config_.verbose || deps_.log.verbose());
}

Daemon::~Daemon() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Daemon::lock_state_dir() {
  std::error_code ec;
  std::filesystem::create_directories(paths_.state_dir, ec);
  if (ec) {
    return make_errno_error(ec.value(), "creating state directory {}: {}",
                            paths_.state_dir.string(), ec.message());
  }
  // Readers of preferred and status.json and clients of control.sock need not be root.
  std::filesystem::permissions(paths_.state_dir, std::filesystem::perms(0755), ec);
  auto lock_path = paths_.state_dir / protocol::kLockName;
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
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

namespace {

// State files are replaced atomically, but neither fsync'd (they describe the running daemon;
// after a crash nothing is lost by their absence) nor re-created: the new content goes into a
// spare file, overwritten in place, which renameat2(RENAME_EXCHANGE) swaps with the published
// one. Readers see the old or the new file whole, and no inode is allocated or freed per write,
// which on a disk-backed /run (ext4 with discard and auto_da_alloc) costs far more than the write.
Status publish_file(const std::filesystem::path& path, std::string_view content) {
  std::filesystem::path spare = path.parent_path() / ("." + path.filename().string() + ".spare");
  int fd = ::open(spare.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return make_errno_error(errno, "creating {}: {}", spare.string(), std::strerror(errno));
  }
  std::size_t written = 0;
  while (written < content.size()) {
    ssize_t n = ::pwrite(fd, content.data() + written, content.size() - written,
                         static_cast<off_t>(written));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return make_errno_error(err, "writing {}: {}", spare.string(), std::strerror(err));
    }
    written += static_cast<std::size_t>(n);
  }
  // Shorten without passing through size 0, which ext4 treats as a replace-via-truncate.
  int truncated = ::ftruncate(fd, static_cast<off_t>(content.size()));
  int err = errno;
  ::close(fd);
  if (truncated != 0) {
    return make_errno_error(err, "truncating {}: {}", spare.string(), std::strerror(err));
  }
  if (::renameat2(AT_FDCWD, spare.c_str(), AT_FDCWD, path.c_str(), RENAME_EXCHANGE) == 0) {
    return {};
  }
  // The first publication (nothing to exchange with), or a filesystem without RENAME_EXCHANGE.
  if (::rename(spare.c_str(), path.c_str()) != 0) {
    return make_errno_error(errno, "renaming {}: {}", path.string(), std::strerror(errno));
  }
  return {};
}

}  // namespace

constexpr std::int64_t kStatusRefreshNs = 1'000'000'000;

Status Daemon::recover_from_journal() {
  auto loaded = Journal::load(journal_.path());
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
  Journal recovery(journal_.path());
  for (const auto& [name, section] : (*loaded)->items()) {
    if (name == "version") continue;
    if (auto status = recovery.record(name, section); !status) return status;
  }
  std::vector<std::string> failures;
  for (const auto& [name, section] : (*loaded)->items()) {
    if (name == "version" || section.is_null() || (section.is_object() && section.empty())) {
      continue;
    }
    std::unique_ptr<Actuator> actuator;
    if (name == UnitActuator::kName) {
      actuator = UnitActuator::for_recovery(deps_.make_bus(), recovery, {});
    } else if (name == CpusetActuator::kName) {
      actuator = CpusetActuator::for_recovery(
          deps_.fs, recovery, paths_.proc_root, [this](NoticeLevel level, const std::string& text) {
            deps_.log.log(level == NoticeLevel::kWarning ? LogLevel::kWarning : LogLevel::kInfo,
                          text);
          });
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
    options.now_ns = [this] { return deps_.clock.monotonic_ns(); };
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

  if (auto status = create_actuators(); !status) return status;
  deps_.log.info("mode {}: {}", mode_name(mode_), mode_reason_);
  deps_.log.info("governor {}, interval_ms {}, high_threshold {}, low_threshold {}",
                 config_.governor, config_.knobs.interval_ms, config_.knobs.high_threshold,
                 config_.knobs.low_threshold);
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

void Daemon::publish(bool force) {
  std::string preferred = format_cpulist(preferred_);
  if (published_preferred_ != preferred) {
    force = true;
    auto path = paths_.state_dir / protocol::kPreferredName;
    if (auto status = publish_file(path, preferred + "\n"); !status) {
      deps_.log.warning("publishing {}: {}", path.string(), status.error().message);
    } else {
      published_preferred_ = preferred;
    }
  }
  // Rewriting a file costs a create and a rename (and on ext4 with discard, a discard): at short
  // intervals status.json follows every change but otherwise refreshes once a second.
  std::int64_t now = deps_.clock.monotonic_ns();
  if (!force && now - status_written_ns_ < kStatusRefreshNs) return;
  status_written_ns_ = now;
  auto path = paths_.state_dir / protocol::kStatusName;
  nlohmann::json published = status();
  if (auto written = publish_file(path, json_text(published, 2) + "\n"); !written) {
    deps_.log.warning("publishing {}: {}", path.string(), written.error().message);
  }
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
  preferred_ = online_;
  publish(true);
  if (!failures.empty()) {
    std::string joined;
    for (const auto& failure : failures) joined += (joined.empty() ? "" : "; ") + failure;
    return make_error("not everything was restored ({}); {} is kept so the next start retries",
                      joined, journal_.path().string());
  }
  if (auto status = journal_.remove(); !status) return status;
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
  if (auto status = monitor_->set_knobs(next->knobs); !status) return status;
  if (next->knobs.interval_ms != config_.knobs.interval_ms) {
    next_period_ns_ = last_period_ns_ + std::int64_t{next->knobs.interval_ms} * 1'000'000;
  }
  history_.set_capacity(next->history_size);
  deps_.log.set_verbose(next->verbose);
  config_ = keep_restart_only(std::move(*next), config_);
  deps_.log.info("reloaded: governor {}, interval_ms {}, high_threshold {}, low_threshold {}",
                 config_.governor, config_.knobs.interval_ms, config_.knobs.high_threshold,
                 config_.knobs.low_threshold);
  publish(true);
  return {};
}

std::string Daemon::summary() const {
  return fmt::format("{}: preferred {} of {}, steal_bp {}, last {}", mode_name(mode_),
                     format_cpulist(preferred_), format_cpulist(online_),
                     steal_bp_ ? std::to_string(*steal_bp_) : std::string("-"), last_action_);
}

}  // namespace prefcpu
