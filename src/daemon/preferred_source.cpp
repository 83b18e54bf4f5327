#include "daemon/preferred_source.h"

#include "core/mask_rules.h"

namespace prefcpu {

namespace {

Step moved(Action action, const Step& monitored, const CpuSet& before, const CpuSet& after) {
  Step step;
  step.action = action;
  step.steal_bp = monitored.steal_bp;
  step.busy_cpu_bp = monitored.busy_cpu_bp;
  step.preferred = after;
  step.removed = before - after;
  step.added = after - before;
  return step;
}

class MonitorSource final : public PreferredSource {
 public:
  Step step(const Step& monitored, const StealMonitor& /*monitor*/) override { return monitored; }
  CpuSet preferred(const StealMonitor& monitor) const override { return monitor.preferred(); }
};

class IdleSource final : public PreferredSource {
 public:
  Step step(const Step& monitored, const StealMonitor& monitor) override {
    Step step = moved(Action::kIdle, monitored, online_before_, monitor.online());
    online_before_ = monitor.online();
    return step;
  }
  CpuSet preferred(const StealMonitor& monitor) const override { return monitor.online(); }

 private:
  CpuSet online_before_;
};

class MirrorSource final : public PreferredSource {
 public:
  MirrorSource(const KernelFs& fs, std::filesystem::path file,
               std::function<void(const std::string&)> warn)
      : fs_(fs), file_(std::move(file)), warn_(std::move(warn)) {}

  Step step(const Step& monitored, const StealMonitor& monitor) override {
    CpuSet before = preferred(monitor);
    auto text = fs_.read(file_);
    Result<CpuSet> cpus = text ? parse_cpulist(*text) : Result<CpuSet>(text.error());
    if (cpus) {
      kernel_ = *cpus;
      error_.clear();
    } else if (cpus.error().message != error_) {
      error_ = cpus.error().message;
      if (warn_) warn_("mirror: " + file_.string() + ": " + error_ + "; keeping the last mask");
    }
    return moved(Action::kMirror, monitored, before, preferred(monitor));
  }
  CpuSet preferred(const StealMonitor& monitor) const override {
    return within_online(kernel_.value_or(monitor.online()), monitor.online());
  }

 private:
  const KernelFs& fs_;
  std::filesystem::path file_;
  std::function<void(const std::string&)> warn_;
  std::optional<CpuSet> kernel_;
  std::string error_;
};

}  // namespace

std::unique_ptr<PreferredSource> make_monitor_source() {
  return std::make_unique<MonitorSource>();
}

std::unique_ptr<PreferredSource> make_idle_source() {
  return std::make_unique<IdleSource>();
}

std::unique_ptr<PreferredSource> make_mirror_source(const KernelFs& fs,
                                                    std::filesystem::path kernel_file,
                                                    std::function<void(const std::string&)> warn) {
  return std::make_unique<MirrorSource>(fs, std::move(kernel_file), std::move(warn));
}

}  // namespace prefcpu
