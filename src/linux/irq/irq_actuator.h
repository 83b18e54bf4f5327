// IRQs follow the preferred CPUs: by writing /proc/irq/*/smp_affinity_list ("builtin"), by
// telling irqbalance which CPUs to ban ("irqbalance"), or whichever is available ("auto").
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string_view>

#include "core/result.h"
#include "linux/actuator.h"
#include "linux/journal.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

enum class IrqMode { kAuto, kBuiltin, kIrqbalance, kOff };

std::string_view irq_mode_name(IrqMode mode);
// "auto", "builtin", "irqbalance" or "off"; anything else is an error naming the accepted values.
Result<IrqMode> parse_irq_mode(std::string_view text);

struct IrqOptions {
  IrqMode mode = IrqMode::kAuto;
  std::filesystem::path irq_root = "/proc/irq";
  std::filesystem::path proc_interrupts = "/proc/interrupts";
  std::filesystem::path irqbalance_run_dir = "/run/irqbalance";
  // irqbalance 1.9 binds an abstract socket when irqbalance_run_dir did not exist at its start;
  // tests that run a fake irqbalance turn this off so a real one cannot answer.
  bool irqbalance_abstract_socket = true;
  // How long one exchange with irqbalance may take before it counts as unreachable.
  int irqbalance_timeout_ms = 1000;
  // One line per state change (mode switch, irqbalance found or gone, an IRQ refused or pinned),
  // for the daemon's log. The same line is kept as "last_event" in status().
  std::function<void(std::string_view)> on_event;
};

// The IRQ actuator; its journal section is its name(), "irqs". Returns nullptr for kOff.
// status() fields are documented in docs/irq.md.
std::unique_ptr<Actuator> make_irq_actuator(KernelFs& fs, Journal& journal,
                                            const IrqOptions& options);

}  // namespace prefcpu
