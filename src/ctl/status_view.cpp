#include "ctl/status_view.h"

#include <fmt/format.h>

#include "protocol/json_text.h"

namespace prefcpu {

namespace {

// A member, or null when `object` is not an object or lacks it: a const operator[] on a missing
// key would be undefined, and an older or newer daemon may leave a field out.
const nlohmann::json& get(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string irq_list(const nlohmann::json& numbers) {
  if (!numbers.is_array() || numbers.empty()) return "";
  // Appended piece by piece: GCC 12's -Wrestrict misfires on `" (" + std::string&&` at -O2.
  std::string out = " (";
  for (const auto& irq : numbers) {
    if (out.size() > 2) out += ' ';
    out += text(irq);
  }
  out += ')';
  return out;
}

// A generic actuator's scalar fields, as "key value, key value".
std::string scalars(const nlohmann::json& object) {
  std::string out;
  if (!object.is_object()) return text(object);
  for (const auto& [key, value] : object.items()) {
    if (value.is_structured()) continue;
    out += (out.empty() ? "" : ", ") + key + " " + text(value);
  }
  return out;
}

}  // namespace

std::string text(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return json_text(value);
}

std::vector<std::string> format_irq_status(const nlohmann::json& irqs) {
  std::vector<std::string> lines;
  std::string active = text(get(irqs, "active"));
  lines.push_back(fmt::format(
      "irqs       {} (irq_mode {}): {} managed, {} unmanaged{}, {} retrying{}, {} pinned{}, "
      "{} changed from their original",
      active, text(get(irqs, "mode")), text(get(irqs, "irqs_managed")),
      text(get(irqs, "irqs_unmanaged")), irq_list(get(irqs, "unmanaged")),
      text(get(irqs, "irqs_pending_retry")), irq_list(get(irqs, "pending_retry")),
      text(get(irqs, "irqs_pinned")), irq_list(get(irqs, "pinned")),
      text(get(irqs, "irqs_changed"))));
  const auto& non_preferred = get(irqs, "interrupts_non_preferred");
  if (non_preferred.is_null()) {
    lines.emplace_back("  interrupts on non-preferred CPUs: not measured yet");
  } else {
    std::string top;
    const auto& busiest = get(irqs, "interrupts_non_preferred_top");
    if (busiest.is_array()) {
      for (const auto& entry : busiest) {
        top += fmt::format("{}IRQ {}: {}", top.empty() ? " (" : ", ", text(get(entry, "irq")),
                           text(get(entry, "count")));
      }
    }
    if (!top.empty()) top += ")";
    lines.push_back(fmt::format("  interrupts on non-preferred CPUs: {} of {} last period{}",
                                text(non_preferred), text(get(irqs, "interrupts_total")), top));
  }
  const auto& default_affinity = get(irqs, "default_smp_affinity");
  if (default_affinity.is_object()) {
    lines.push_back(fmt::format(
        "  default_smp_affinity: {} (original {}, {})", text(get(default_affinity, "current")),
        text(get(default_affinity, "original")), text(get(default_affinity, "state"))));
  }
  const auto& irqbalance = get(irqs, "irqbalance");
  if (irqbalance.is_object()) {
    if (get(irqbalance, "reachable") == true) {
      lines.push_back(fmt::format("  irqbalance: pid {} on {}, banned {} (the user's own: {})",
                                  text(get(irqbalance, "pid")), text(get(irqbalance, "socket")),
                                  text(get(irqbalance, "banned")),
                                  text(get(irqbalance, "user_banned"))));
    } else {
      lines.emplace_back("  irqbalance: not reachable");
    }
    if (!get(irqbalance, "error").is_null()) {
      lines.push_back("  irqbalance error: " + text(get(irqbalance, "error")));
    }
  }
  if (!get(irqs, "last_event").is_null()) {
    lines.push_back("  last event: " + text(get(irqs, "last_event")));
  }
  if (!get(irqs, "last_error").is_null()) {
    lines.push_back("  last error: " + text(get(irqs, "last_error")));
  }
  return lines;
}

std::string format_status(const nlohmann::json& status) {
  const auto& knobs = get(status, "knobs");
  const auto& counters = get(status, "counters");
  std::string out = fmt::format("prefcpud {} (pid {}), mode {}: {}\n", text(get(status, "state")),
                                text(get(status, "pid")), text(get(status, "mode")),
                                text(get(status, "mode_reason")));
  out += fmt::format("preferred  {}   (online {})\n", text(get(status, "preferred")),
                     text(get(status, "online")));
  bool automatic = get(status, "automatic") != false;
  out += fmt::format(
      "monitor    {}, governor {}\n",
      automatic ? "automatic" : "off: custom mask " + text(get(status, "custom_preferred")),
      text(get(status, "governor")));
  out += fmt::format("knobs      interval_ms {}, high_threshold {}, low_threshold {}",
                     text(get(knobs, "interval_ms")), text(get(knobs, "high_threshold")),
                     text(get(knobs, "low_threshold")));
  // An older prefcpud has no numa knob (it ran the kernel's rule).
  if (const auto& numa = get(knobs, "numa"); !numa.is_null()) out += ", numa " + text(numa);
  out += "\n";
  out += fmt::format("last       steal_bp {}, {}", text(get(status, "steal_bp")),
                     text(get(status, "last_action")));
  if (const auto& age = get(status, "last_change_age_ms"); age.is_number()) {
    out += fmt::format(", mask changed {} s ago", age.get<double>() / 1000.0);
  }
  out += "\n";
  out += fmt::format(
      "periods    {}: {} shrink, {} grow, {} hold, {} skip decisions; {} mask changes; errors: "
      "sample {}, apply {}\n",
      text(get(counters, "periods")), text(get(counters, "shrinks")), text(get(counters, "grows")),
      text(get(counters, "holds")), text(get(counters, "skips")),
      text(get(counters, "mask_changes")), text(get(counters, "sample_errors")),
      text(get(counters, "apply_errors")));
  const auto& actuators = get(status, "actuators");
  if (!actuators.is_object()) return out;
  for (const auto& [name, actuator] : actuators.items()) {
    if (name == "cpusets" && actuator.contains("root")) {
      out += fmt::format(
          "cpusets    v{} {}{}; migrations {} (tasks last on a CPU that left), {} tasks in "
          "prefcpu-pinned\n",
          text(get(actuator, "cgroup_version")), text(get(actuator, "root")),
          get(actuator, "shield") == true ? ", shield" : "", text(get(actuator, "migrations")),
          text(get(actuator, "pinned_tasks")));
      const auto& cgroups = get(actuator, "cgroups");
      if (!cgroups.is_object()) continue;
      for (const auto& [cgroup, cpus] : cgroups.items()) {
        out += fmt::format("  {}: {} (original {})\n", cgroup, text(get(cpus, "current")),
                           text(get(cpus, "original")));
      }
    } else if (name == "irqs" && actuator.contains("active")) {
      for (const auto& line : format_irq_status(actuator)) out += line + "\n";
    } else if (name == "workqueues" && actuator.contains("state")) {
      out += fmt::format("workqueues {}: cpumask {} (original {}), {} writes, {} refused\n",
                         text(get(actuator, "state")), text(get(actuator, "current")),
                         text(get(actuator, "original")), text(get(actuator, "writes")),
                         text(get(actuator, "refused_writes")));
      if (!get(actuator, "last_event").is_null()) {
        out += "  last event: " + text(get(actuator, "last_event")) + "\n";
      }
    } else if (name == "kthreads" && actuator.contains("state")) {
      out += fmt::format(
          "kthreads   {}: {} of {} movable unbound kernel threads confined, {} moves, {} left "
          "alone\n",
          text(get(actuator, "state")), text(get(actuator, "confined")),
          text(get(actuator, "movable")), text(get(actuator, "moves")),
          text(get(actuator, "left_alone")));
      if (!get(actuator, "last_event").is_null()) {
        out += "  last event: " + text(get(actuator, "last_event")) + "\n";
      }
    } else {
      out += fmt::format("{:<10} {}\n", name, scalars(actuator));
    }
  }
  return out;
}

std::string format_history(const nlohmann::json& reply) {
  auto now = get(reply, "monotonic_ns").is_number() ? get(reply, "monotonic_ns").get<std::int64_t>()
                                                    : std::int64_t{0};
  std::string out = "   age_s  steal_bp  action    preferred        online\n";
  const auto& history = get(reply, "history");
  if (!history.is_array()) return out;
  for (const auto& entry : history) {
    const auto& at = get(entry, "monotonic_ns");
    double age = static_cast<double>(now - (at.is_number() ? at.get<std::int64_t>() : now)) / 1e9;
    out += fmt::format("{:8.1f}  {:>8}  {:<8}  {:<15}  {}\n", -age, text(get(entry, "steal_bp")),
                       text(get(entry, "action")), text(get(entry, "preferred")),
                       text(get(entry, "online")));
  }
  return out;
}

}  // namespace prefcpu
