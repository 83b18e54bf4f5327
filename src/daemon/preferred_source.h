// Where prefcpud's preferred mask comes from in each mode. The steal monitor runs in every mode
// (steal_bp is reported everywhere) and owns the knobs, the governor and a custom mask; a source
// turns the monitor's step into the step prefcpud enforces, and is the one owner of that mask.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/steal_monitor.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

class PreferredSource {
 public:
  virtual ~PreferredSource() = default;
  // The step to enforce for this period, given the monitor's step on the same sample.
  virtual Step step(const Step& monitored, const StealMonitor& monitor) = 0;
  // The mask enforced now (after the last step, or a set-preferred in between).
  virtual CpuSet preferred(const StealMonitor& monitor) const = 0;
};

// enforce and dry-run: the monitor's mask, its custom mask included.
std::unique_ptr<PreferredSource> make_monitor_source();
// idle (no hypervisor): every online CPU, whatever the monitor measures.
std::unique_ptr<PreferredSource> make_idle_source();
// mirror (CONFIG_PREFERRED_CPU): the kernel's mask, read from `kernel_file` each period. An
// unreadable or malformed file keeps the last mask; `warn` hears of it once per distinct error.
std::unique_ptr<PreferredSource> make_mirror_source(const KernelFs& fs,
                                                    std::filesystem::path kernel_file,
                                                    std::function<void(const std::string&)> warn);

}  // namespace prefcpu
