// The IRQ actuator: picks builtin or irqbalance steering each period (auto), hands over between
// them, keeps one journal section for both, and measures interrupts on non-preferred CPUs.
#include "linux/irq/irq_actuator.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "linux/irq/builtin_steering.h"
#include "linux/irq/interrupts.h"
#include "linux/irq/irqbalance_client.h"
#include "linux/irq/irqbalance_steering.h"
#include "protocol/json_text.h"

namespace prefcpu {

namespace {

constexpr std::size_t kTopIrqs = 5;

enum class Active { kNone, kBuiltin, kIrqbalance };

std::string_view active_name(Active active) {
  switch (active) {
    case Active::kBuiltin:
      return "builtin";
    case Active::kIrqbalance:
      return "irqbalance";
    case Active::kNone:
      break;
  }
  return "none";
}

class IrqActuator final : public Actuator {
 public:
  IrqActuator(KernelFs& fs, Journal& journal, IrqOptions options)
      : fs_(fs),
        journal_(journal),
        options_(std::move(options)),
        client_({options_.irqbalance_run_dir, options_.irqbalance_abstract_socket,
                 options_.irqbalance_timeout_ms}),
        builtin_(
            fs, options_.irq_root, [this] { return persist(); },
            [this](const std::string& line) { event(line); }),
        irqbalance_(
            client_, [this] { return persist(); },
            [this](const std::string& line) { event(line); }) {}

  std::string_view name() const override { return "irqs"; }

  Status apply(const CpuSet& preferred, const CpuSet& online) override {
    measure(preferred);
    Status result = options_.mode == IrqMode::kBuiltin ? apply_builtin_only(preferred, online)
                                                       : apply_auto(preferred, online);
    last_error_ = result ? std::string() : result.error().message;
    return result;
  }

  Status restore() override {
    std::vector<std::string> failures;
    if (auto status = irqbalance_.restore(); !status) failures.push_back(status.error().message);
    if (auto status = builtin_.restore(); !status) failures.push_back(status.error().message);
    if (auto status = persist(); !status) failures.push_back(status.error().message);
    if (!failures.empty()) return make_error("{}", fmt::join(failures, "; "));
    return {};
  }

  Status recover(const nlohmann::json& section) override {
    if (section.is_null() || (section.is_object() && section.empty())) return {};
    if (!section.is_object()) {
      return make_error(
          "journal section irqs {}: expected an object with \"builtin\" and/or "
          "\"irqbalance\"",
          json_text(section));
    }
    std::vector<std::string> failures;
    if (auto it = section.find("builtin"); it != section.end()) {
      if (auto status = builtin_.adopt(*it); !status) return status;
      if (auto status = builtin_.restore(); !status) failures.push_back(status.error().message);
    }
    if (auto it = section.find("irqbalance"); it != section.end() && !it->is_null()) {
      auto status = irqbalance_.recover(*it, client_.find());
      if (!status) failures.push_back(status.error().message);
    }
    if (auto status = persist(); !status) failures.push_back(status.error().message);
    if (!failures.empty()) return make_error("recovering IRQs: {}", fmt::join(failures, "; "));
    return {};
  }

  nlohmann::json status() const override {
    nlohmann::json out = builtin_.status();
    out["mode"] = irq_mode_name(options_.mode);
    out["active"] = active_name(active_);
    out["interrupts_total"] = nullptr;
    out["interrupts_non_preferred"] = nullptr;
    out["interrupts_non_preferred_top"] = nlohmann::json::array();
    if (last_delta_) {
      out["interrupts_total"] = last_delta_->total;
      out["interrupts_non_preferred"] = last_delta_->non_preferred;
      std::size_t shown = std::min(kTopIrqs, last_delta_->by_irq.size());
      for (std::size_t i = 0; i < shown; ++i) {
        out["interrupts_non_preferred_top"].push_back(
            {{"irq", last_delta_->by_irq[i].first}, {"count", last_delta_->by_irq[i].second}});
      }
    }
    out["irqbalance"] =
        options_.mode == IrqMode::kBuiltin ? nlohmann::json(nullptr) : irqbalance_.status();
    out["last_event"] = last_event_.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_event_);
    out["last_error"] = last_error_.empty() ? nlohmann::json(nullptr) : nlohmann::json(last_error_);
    return out;
  }

 private:
  Status apply_builtin_only(const CpuSet& preferred, const CpuSet& online) {
    if (active_ == Active::kNone) {
      // Said once: two writers of the same affinity files undo each other every period.
      if (auto found = client_.find()) {
        event(
            fmt::format("irqbalance PID {} is running and will move IRQs back; use "
                        "irq_mode=auto or irqbalance, or stop it",
                        found->endpoint.pid));
      }
      active_ = Active::kBuiltin;
    }
    return builtin_.apply(preferred, online);
  }

  Status apply_auto(const CpuSet& preferred, const CpuSet& online) {
    auto found = client_.find();
    if (found) {
      if (active_ != Active::kIrqbalance) {
        // Also puts back what a crashed run left and recover() could not yet.
        if (active_ == Active::kBuiltin) {
          event(
              "irqbalance appeared: putting back the IRQ affinities prefcpu changed, then "
              "handing IRQ placement to it");
        }
        if (auto status = builtin_.restore(); !status) event(status.error().message);
      }
      active_ = Active::kIrqbalance;
      // From now on single-CPU masks are irqbalance's placements, not the user's pins.
      builtin_.honour_pins(false);
      return irqbalance_.apply(*found, preferred, online);
    }
    if (active_ != Active::kBuiltin) {
      if (active_ == Active::kIrqbalance) {
        irqbalance_.forget();
        if (auto status = persist(); !status) return status;
      }
      event(fmt::format("{}irqbalance not reachable ({}); steering IRQs with builtin",
                        options_.mode == IrqMode::kIrqbalance ? "irq_mode=irqbalance but " : "",
                        found.error().message));
      active_ = Active::kBuiltin;
    }
    return builtin_.apply(preferred, online);
  }

  // The period that ends now ran under the preferred mask of the previous apply.
  void measure(const CpuSet& preferred) {
    auto text = fs_.read(options_.proc_interrupts);
    std::optional<InterruptTable> table;
    if (text) {
      if (auto parsed = parse_proc_interrupts(*text)) table = std::move(*parsed);
    }
    if (table && previous_table_) {
      last_delta_ = count_interrupts(*previous_table_, *table, previous_preferred_);
    } else {
      last_delta_.reset();
    }
    previous_table_ = std::move(table);
    previous_preferred_ = preferred;
  }

  Status persist() {
    nlohmann::json section = nlohmann::json::object();
    if (auto builtin = builtin_.journal(); !builtin.is_null()) section["builtin"] = builtin;
    if (auto irqbalance = irqbalance_.journal(); !irqbalance.is_null()) {
      section["irqbalance"] = irqbalance;
    }
    // Journal::record writes no file for an empty section it does not hold.
    return journal_.record(name(), std::move(section));
  }

  void event(const std::string& line) {
    last_event_ = line;
    if (options_.on_event) options_.on_event(line);
  }

  KernelFs& fs_;
  Journal& journal_;
  IrqOptions options_;
  IrqbalanceClient client_;
  BuiltinIrqSteering builtin_;
  IrqbalanceSteering irqbalance_;
  Active active_ = Active::kNone;
  std::optional<InterruptTable> previous_table_;
  CpuSet previous_preferred_;
  std::optional<InterruptDelta> last_delta_;
  std::string last_event_;
  std::string last_error_;
};

}  // namespace

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

std::unique_ptr<Actuator> make_irq_actuator(KernelFs& fs, Journal& journal,
                                            const IrqOptions& options) {
  if (options.mode == IrqMode::kOff) return nullptr;
  return std::make_unique<IrqActuator>(fs, journal, options);
}

}  // namespace prefcpu
