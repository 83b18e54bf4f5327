// The control socket's commands (docs/daemon.md, "Control socket") and status.json.
#include <unistd.h>

#include <algorithm>

#include "core/governor.h"
#include "daemon/daemon.h"
#include "linux/systemd/backend.h"
#include "linux/systemd/unit_actuator.h"
#include "protocol/protocol.h"

namespace prefcpu {

namespace {

using protocol::ErrorKind;

nlohmann::json refuse(ErrorKind kind, std::string message) {
  return protocol::error_reply({kind, std::move(message)});
}

}  // namespace

std::string_view Daemon::backend() const {
  bool units = std::ranges::any_of(
      actuators_, [](const auto& actuator) { return actuator->name() == UnitActuator::kName; });
  return backend_name(units ? Backend::kSystemd : Backend::kCgroupfs);
}

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
      {"preferred", format_cpulist(preferred())},
      {"online", format_cpulist(online())},
      {"steal_bp", steal_bp_ ? nlohmann::json(*steal_bp_) : nullptr},
      {"last_action", action_name(last_action_)},
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
    status["knobs"] = protocol::knobs_json(monitor_->knobs());
  }
  return status;
}

// `before`: the mask enforced until the monitor's custom mask changed.
void Daemon::apply_now(Action action, const CpuSet& before) {
  last_action_ = action;
  std::int64_t now = deps_.clock.monotonic_ns();
  CpuSet preferred = this->preferred();
  if (before != preferred) {
    ++counters_.mask_changes;
    last_change_ns_ = now;
    deps_.log.info("{}; preferred {} -> {}", action_name(action), format_cpulist(before),
                   format_cpulist(preferred));
  }
  apply_actuators();
  history_.push(
      {now, std::nullopt, std::string(action_name(action)), preferred, online(), std::nullopt});
  publish(true);
}

nlohmann::json Daemon::set_preferred(const protocol::SetPreferredRequest& request,
                                     const Peer& peer) {
  if (mode_ == DaemonMode::kMirror) {
    return refuse(ErrorKind::kUnavailable,
                  "the kernel owns the preferred mask here (CONFIG_PREFERRED_CPU): prefcpud only "
                  "mirrors it");
  }
  if (mode_ == DaemonMode::kIdle) return refuse(ErrorKind::kUnavailable, mode_reason_);
  CpuSet before = preferred();
  if (!request.cpus) {
    monitor_->clear_custom_preferred();
    deps_.log.info("set-preferred --auto by uid {} (pid {}): the monitor decides again", peer.uid,
                   peer.pid);
    apply_now(Action::kAuto, before);
    return protocol::reply_json(protocol::SetPreferredReply{format_cpulist(preferred()), true});
  }
  auto cpus = parse_cpulist(*request.cpus);
  if (!cpus) return refuse(ErrorKind::kInvalidValue, cpus.error().message);
  // The monitor owns the rule (not empty, a subset of online).
  if (auto status = monitor_->set_custom_preferred(*cpus); !status) {
    return refuse(ErrorKind::kInvalidValue, status.error().message);
  }
  deps_.log.info("set-preferred {} by uid {} (pid {}): the automatic monitor is off",
                 format_cpulist(*cpus), peer.uid, peer.pid);
  apply_now(Action::kManual, before);
  return protocol::reply_json(protocol::SetPreferredReply{format_cpulist(preferred()), false});
}

nlohmann::json Daemon::set_knob(const protocol::SetKnobRequest& request, const Peer& peer) {
  if (request.knob == protocol::kGovernorKnob) {
    auto governor = make_governor(request.value);
    if (!governor) return refuse(ErrorKind::kInvalidValue, governor.error().message);
    monitor_->set_governor(std::move(*governor));
  } else if (!is_knob(request.knob)) {
    return refuse(ErrorKind::kUnknownKnob,
                  fmt::format("unknown knob \"{}\": expected {}, or {}", request.knob, knob_names(),
                              protocol::kGovernorKnob));
  } else {
    Knobs knobs = monitor_->knobs();
    if (auto status = prefcpu::set_knob(knobs, request.knob, request.value); !status) {
      return refuse(ErrorKind::kInvalidValue, status.error().message);
    }
    std::uint32_t old_interval_ms = monitor_->knobs().interval_ms;
    if (auto status = monitor_->set_knobs(knobs); !status) {
      return refuse(ErrorKind::kInvalidValue, status.error().message);
    }
    retime(old_interval_ms);
  }
  deps_.log.info("set {} {} by uid {} (pid {})", request.knob, request.value, peer.uid, peer.pid);
  publish(true);
  return protocol::reply_json(
      protocol::SetKnobReply{std::string(monitor_->governor().name()), monitor_->knobs()});
}

nlohmann::json Daemon::handle_request(const nlohmann::json& json, const Peer& peer) {
  auto decoded = protocol::decode_request(json);
  if (const auto* error = std::get_if<protocol::ProtocolError>(&decoded)) {
    return protocol::error_reply(*error);
  }
  const auto& request = std::get<protocol::Request>(decoded);
  if (protocol::changes_state(request)) {
    if (peer.uid != 0) {
      return refuse(ErrorKind::kDenied,
                    fmt::format("permission denied: only root may change prefcpud (your uid is "
                                "{}); anyone may read status and history",
                                peer.uid));
    }
    if (!monitor_) return refuse(ErrorKind::kUnavailable, "prefcpud is not started");
  }
  if (std::holds_alternative<protocol::StatusRequest>(request)) {
    return protocol::ok_reply({{protocol::key::kStatus, status()}});
  }
  if (const auto* history = std::get_if<protocol::HistoryRequest>(&request)) {
    return protocol::ok_reply({{protocol::key::kMonotonicNs, deps_.clock.monotonic_ns()},
                               {protocol::key::kCapacity, history_.capacity()},
                               {protocol::key::kHistory, history_.to_json(history->count)}});
  }
  if (const auto* set = std::get_if<protocol::SetKnobRequest>(&request)) {
    return set_knob(*set, peer);
  }
  return set_preferred(std::get<protocol::SetPreferredRequest>(request), peer);
}

}  // namespace prefcpu
