// irq_mode=irqbalance: irqbalance places IRQs; prefcpu only tells it which CPUs to avoid, the
// user's own banned CPUs plus the non-preferred ones, and gives the user's set back at the end.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/cpu_set.h"
#include "core/result.h"
#include "linux/irq/irqbalance_client.h"

namespace prefcpu {

class IrqbalanceSteering {
 public:
  using Persist = std::function<Status()>;
  using Events = std::function<void(const std::string&)>;

  IrqbalanceSteering(const IrqbalanceClient& client, Persist persist, Events events);

  // One period with the irqbalance a probe found. A new instance (first contact or a restart)
  // has its "setup" reply read as the user's banned set; then the ban is sent when it changes.
  // A failed send is an error and is retried next period.
  Status apply(const IrqbalanceFound& found, const CpuSet& preferred, const CpuSet& online);
  // irqbalance went away: its banned set went with it, there is nothing to give back.
  void forget();
  // Gives the user's banned set back to the irqbalance that holds prefcpu's ban.
  Status restore();
  // A crashed instance's journal ("irqbalance" object): if `found` is the same irqbalance, its
  // user banned set is put back; another instance never saw prefcpu's ban.
  Status recover(const nlohmann::json& journal, const Result<IrqbalanceFound>& found);
  // The "irqbalance" journal object: where prefcpu's ban is and the set to give back; or null.
  nlohmann::json journal() const;
  nlohmann::json status() const;

 private:
  Status send(const CpuSet& banned);
  void event(const std::string& line) const {
    if (events_) events_(line);
  }

  const IrqbalanceClient& client_;
  Persist persist_;
  Events events_;
  std::optional<IrqbalanceEndpoint> endpoint_;
  CpuSet user_banned_;
  std::optional<CpuSet> sent_;  // prefcpu's ban in force; unset while the user's set is
  bool journaled_ = false;
  std::string error_;
};

}  // namespace prefcpu
