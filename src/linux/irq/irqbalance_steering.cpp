#include "linux/irq/irqbalance_steering.h"

#include <cerrno>
#include <utility>

#include "linux/irq/irqbalance_protocol.h"
#include "protocol/json_text.h"

namespace prefcpu {

IrqbalanceSteering::IrqbalanceSteering(const IrqbalanceClient& client, Persist persist,
                                       Events events)
    : client_(client), persist_(std::move(persist)), events_(std::move(events)) {}

Status IrqbalanceSteering::send(const CpuSet& banned) {
  bool giving_back = banned == user_banned_;
  if (!giving_back && !journaled_) {
    // The user's set is on disk before irqbalance hears anything else.
    journaled_ = true;
    if (auto status = persist_(); !status) {
      journaled_ = false;
      return status;
    }
  }
  auto reply = client_.request(*endpoint_, irqbalance_cpus_command(banned));
  if (!reply) {
    error_ = reply.error().message;
    return reply.error();
  }
  error_.clear();
  if (giving_back) {
    sent_.reset();
    journaled_ = false;
    return persist_();
  }
  sent_ = banned;
  return {};
}

Status IrqbalanceSteering::apply(const IrqbalanceFound& found, const CpuSet& preferred,
                                 const CpuSet& online) {
  if (!endpoint_ || endpoint_->id() != found.endpoint.id()) {
    if (endpoint_) {
      event(fmt::format("irqbalance restarted (PID {} -> {}); sending its banned CPUs again",
                        endpoint_->pid, found.endpoint.pid));
    } else {
      event(fmt::format(
          "irqbalance PID {} on {}: IRQs follow the preferred CPUs through its "
          "banned CPUs (its own: \"{}\")",
          found.endpoint.pid, found.endpoint.address, format_cpulist(found.setup.banned)));
    }
    // A new instance starts from its own banned set; prefcpu's ban died with the old one.
    endpoint_ = found.endpoint;
    user_banned_ = found.setup.banned;
    sent_.reset();
    journaled_ = false;  // the journal must name this instance before it is banned
  }
  CpuSet want = irqbalance_banned_for(user_banned_, preferred, online);
  if (want == sent_.value_or(user_banned_)) return {};
  return send(want);
}

void IrqbalanceSteering::forget() {
  if (endpoint_) event(fmt::format("irqbalance PID {} is gone", endpoint_->pid));
  endpoint_.reset();
  sent_.reset();
  journaled_ = false;
}

Status IrqbalanceSteering::restore() {
  if (!endpoint_ || !sent_) return {};
  auto status = send(user_banned_);
  if (status) return status;
  switch (status.error().errno_value) {
    case ECONNREFUSED:  // nobody listens: the process is gone, and its ban with it
    case ENOENT:
    case ESRCH:  // another instance answers the abstract socket: it never saw the ban
      forget();
      return persist_();
    default:
      return status;
  }
}

Status IrqbalanceSteering::recover(const nlohmann::json& journal,
                                   const Result<IrqbalanceFound>& found) {
  if (journal.is_null()) return {};
  auto bad = [&](std::string_view why) {
    return make_error("journal section irqs.irqbalance {}: {}", json_text(journal), why);
  };
  if (!journal.is_object() || !journal.contains("socket") || !journal["socket"].is_string() ||
      !journal.contains("pid") || !journal["pid"].is_number_integer() ||
      !journal.contains("user_banned") || !journal["user_banned"].is_string()) {
    return bad("expected {\"socket\": PATH, \"pid\": N, \"user_banned\": CPULIST}");
  }
  auto user_banned = parse_cpulist(journal["user_banned"].get<std::string>());
  if (!user_banned) return bad(user_banned.error().message);
  IrqbalanceEndpoint crashed{journal["socket"].get<std::string>(), journal["pid"].get<pid_t>()};
  if (!found || found->endpoint.id() != crashed.id()) {
    event(fmt::format("irqbalance PID {} of the previous run is gone: its ban went with it",
                      crashed.pid));
    return {};
  }
  // Its "setup" still shows prefcpu's ban until its next scan: keep the journal's user set.
  endpoint_ = found->endpoint;
  user_banned_ = *user_banned;
  sent_ = CpuSet{};
  journaled_ = true;
  event(fmt::format("giving irqbalance PID {} its banned CPUs \"{}\" back after an unclean exit",
                    crashed.pid, format_cpulist(user_banned_)));
  return send(user_banned_);
}

nlohmann::json IrqbalanceSteering::journal() const {
  if (!journaled_ || !endpoint_) return nullptr;
  return {{"socket", endpoint_->address},
          {"pid", endpoint_->pid},
          {"user_banned", format_cpulist(user_banned_)}};
}

nlohmann::json IrqbalanceSteering::status() const {
  nlohmann::json out = {{"reachable", endpoint_.has_value()}, {"error", nullptr}};
  if (endpoint_) {
    out["pid"] = endpoint_->pid;
    out["socket"] = endpoint_->address;
    out["user_banned"] = format_cpulist(user_banned_);
    out["banned"] = format_cpulist(sent_.value_or(user_banned_));
  }
  if (!error_.empty()) out["error"] = error_;
  return out;
}

}  // namespace prefcpu
