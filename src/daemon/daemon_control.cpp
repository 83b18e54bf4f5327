// The control socket's commands (docs/daemon.md, "Control socket") and status.json.
#include <unistd.h>

#include "core/governor.h"
#include "daemon/daemon.h"
#include "daemon/protocol.h"

namespace prefcpu {

namespace {

nlohmann::json refuse(std::string_view code, std::string message) {
  return {{"ok", false}, {"code", code}, {"error", std::move(message)}};
}

std::optional<std::string> string_field(const nlohmann::json& request, std::string_view key) {
  auto it = request.find(std::string(key));
  if (it == request.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  return std::nullopt;
}

nlohmann::json knobs_json(const Knobs& knobs) {
  return {{"interval_ms", knobs.interval_ms},
          {"high_threshold", knobs.high_threshold},
          {"low_threshold", knobs.low_threshold}};
}

}  // namespace

nlohmann::json Daemon::status() const {
  std::int64_t now = deps_.clock.monotonic_ns();
  nlohmann::json actuators = nlohmann::json::object();
  for (const auto& actuator : actuators_)
    actuators[std::string(actuator->name())] = actuator->status();
  nlohmann::json status = {
      {"version", 1},
      {"pid", ::getpid()},
      {"state", stopped_ ? "stopped" : "running"},
      {"mode", mode_name(mode_)},
      {"mode_reason", mode_reason_},
      {"backend", backend()},
      {"dry_run", config_.dry_run},
      {"preferred", format_cpulist(preferred_)},
      {"online", format_cpulist(online_)},
      {"steal_bp", steal_bp_ ? nlohmann::json(*steal_bp_) : nullptr},
      {"last_action", last_action_},
      {"last_change_age_ms", last_change_ns_ == 0
                                 ? nlohmann::json(nullptr)
                                 : nlohmann::json((now - last_change_ns_) / 1'000'000)},
      {"uptime_ms", (now - started_ns_) / 1'000'000},
      {"counters",
       {{"periods", counters_.periods},
        {"shrinks", counters_.shrinks},
        {"grows", counters_.grows},
        {"holds", counters_.holds},
        {"skips", counters_.skips},
        {"manual", counters_.manual},
        {"mask_changes", counters_.mask_changes},
        {"sample_errors", counters_.sample_errors},
        {"apply_errors", counters_.apply_errors}}},
      {"actuators", actuators},
  };
  if (monitor_) {
    status["governor"] = monitor_->governor().name();
    status["automatic"] = monitor_->automatic();
    status["custom_preferred"] = monitor_->custom_preferred()
                                     ? nlohmann::json(format_cpulist(*monitor_->custom_preferred()))
                                     : nlohmann::json(nullptr);
    status["knobs"] = knobs_json(monitor_->knobs());
  }
  return status;
}

void Daemon::apply_now(std::string_view action) {
  CpuSet before = preferred_;
  preferred_ = monitor_->preferred().empty() ? online_ : monitor_->preferred();
  last_action_ = std::string(action);
  std::int64_t now = deps_.clock.monotonic_ns();
  if (before != preferred_) {
    ++counters_.mask_changes;
    last_change_ns_ = now;
    deps_.log.info("{}; preferred {} -> {}", action, format_cpulist(before),
                   format_cpulist(preferred_));
  }
  apply_actuators();
  history_.push({now, std::nullopt, last_action_, preferred_, online_});
  publish(true);
}

nlohmann::json Daemon::set_preferred(const nlohmann::json& request, const Peer& peer) {
  if (mode_ == DaemonMode::kMirror) {
    return refuse(protocol::kUnavailable,
                  "the kernel owns the preferred mask here (CONFIG_PREFERRED_CPU): prefcpud only "
                  "mirrors it");
  }
  if (mode_ == DaemonMode::kIdle) {
    return refuse(protocol::kUnavailable, mode_reason_);
  }
  auto it = request.find("auto");
  if (it != request.end() && it->is_boolean() && it->get<bool>()) {
    monitor_->clear_custom_preferred();
    deps_.log.info("set-preferred --auto by uid {} (pid {}): the monitor decides again", peer.uid,
                   peer.pid);
    apply_now("auto");
    return {{"ok", true}, {"preferred", format_cpulist(preferred_)}, {"automatic", true}};
  }
  auto text = string_field(request, "cpus");
  if (!text) {
    return refuse(protocol::kInvalid,
                  "set-preferred needs \"cpus\": a cpulist such as \"0-3\", or \"auto\": true");
  }
  auto cpus = parse_cpulist(*text);
  if (!cpus) {
    return refuse(protocol::kInvalid,
                  fmt::format("invalid cpulist \"{}\": {}", *text, cpus.error().message));
  }
  if (cpus->empty()) {
    return refuse(protocol::kInvalid,
                  "custom preferred mask is empty: expected at least one online CPU (use "
                  "--auto to go back to the monitor)");
  }
  if (!cpus->is_subset_of(online_)) {
    return refuse(protocol::kInvalid,
                  fmt::format("custom preferred mask \"{}\" includes CPUs that are not online "
                              "(\"{}\"): expected a subset of online \"{}\"",
                              *text, format_cpulist(*cpus - online_), format_cpulist(online_)));
  }
  if (auto status = monitor_->set_custom_preferred(*cpus); !status) {
    return refuse(protocol::kInvalid, status.error().message);
  }
  deps_.log.info("set-preferred {} by uid {} (pid {}): the automatic monitor is off",
                 format_cpulist(*cpus), peer.uid, peer.pid);
  apply_now("manual");
  return {{"ok", true}, {"preferred", format_cpulist(preferred_)}, {"automatic", false}};
}

nlohmann::json Daemon::set_knob(const nlohmann::json& request, const Peer& peer) {
  auto knob = string_field(request, "knob");
  auto value = string_field(request, "value");
  if (!knob || !value) {
    return refuse(protocol::kInvalid, "set needs \"knob\" and \"value\"");
  }
  if (*knob == "governor") {
    auto governor = make_governor(*value);
    if (!governor) return refuse(protocol::kInvalid, governor.error().message);
    monitor_->set_governor(std::move(*governor));
  } else {
    Knobs knobs = monitor_->knobs();
    if (auto status = prefcpu::set_knob(knobs, *knob, *value); !status) {
      std::string message = status.error().message;
      if (message.rfind("unknown knob", 0) == 0) {
        message = fmt::format(
            "unknown knob \"{}\": expected interval_ms, high_threshold, "
            "low_threshold or governor",
            *knob);
      }
      return refuse(protocol::kInvalid, message);
    }
    bool new_interval = knobs.interval_ms != monitor_->knobs().interval_ms;
    if (auto status = monitor_->set_knobs(knobs); !status) {
      return refuse(protocol::kInvalid, status.error().message);
    }
    if (new_interval) {
      next_period_ns_ = last_period_ns_ + std::int64_t{knobs.interval_ms} * 1'000'000;
    }
  }
  deps_.log.info("set {} {} by uid {} (pid {})", *knob, *value, peer.uid, peer.pid);
  publish(true);
  return {{"ok", true},
          {"governor", monitor_->governor().name()},
          {"knobs", knobs_json(monitor_->knobs())}};
}

nlohmann::json Daemon::handle_request(const nlohmann::json& request, const Peer& peer) {
  auto command = string_field(request, "cmd");
  if (!command) return refuse(protocol::kInvalid, "request has no \"cmd\"");
  if (*command == "status") return {{"ok", true}, {"status", status()}};
  if (*command == "history") {
    std::size_t count = 0;
    if (auto it = request.find("count"); it != request.end() && it->is_number_integer()) {
      count = it->get<std::int64_t>() > 0 ? it->get<std::size_t>() : 0;
    }
    return {{"ok", true},
            {"monotonic_ns", deps_.clock.monotonic_ns()},
            {"capacity", history_.capacity()},
            {"history", history_.to_json(count)}};
  }
  if (*command == "set-preferred" || *command == "set") {
    if (peer.uid != 0) {
      return refuse(protocol::kDenied,
                    fmt::format("permission denied: only root may change prefcpud (your uid is "
                                "{}); anyone may read status and history",
                                peer.uid));
    }
    if (!monitor_) return refuse(protocol::kUnavailable, "prefcpud is not started");
    return *command == "set" ? set_knob(request, peer) : set_preferred(request, peer);
  }
  return refuse(protocol::kInvalid,
                fmt::format("unknown command \"{}\": expected status, history, set-preferred or "
                            "set",
                            *command));
}

}  // namespace prefcpu
