// Placeholder until the IRQ issue lands: IRQ steering is off whatever the mode.
#include "linux/irq/irq_actuator.h"

namespace prefcpu {

std::string_view irq_mode_name(IrqMode mode) {
  switch (mode) {
    case IrqMode::kAuto:
      return "auto";
    case IrqMode::kBuiltin:
      return "builtin";
    case IrqMode::kIrqbalance:
      return "irqbalance";
    case IrqMode::kOff:
      break;
  }
  return "off";
}

Result<IrqMode> parse_irq_mode(std::string_view text) {
  for (IrqMode mode : {IrqMode::kAuto, IrqMode::kBuiltin, IrqMode::kIrqbalance, IrqMode::kOff}) {
    if (text == irq_mode_name(mode)) return mode;
  }
  return make_error("unknown irq_mode \"{}\": expected auto, builtin, irqbalance or off", text);
}

std::unique_ptr<Actuator> make_irq_actuator(KernelFs& /*fs*/, Journal& /*journal*/,
                                            const IrqOptions& /*options*/) {
  return nullptr;
}

}  // namespace prefcpu
