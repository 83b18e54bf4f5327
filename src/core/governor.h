// A governor turns one steal ratio into one decision. Governors are registered by name so the
// daemon, the replay tool and the simulator can all pick one from configuration.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/knobs.h"
#include "core/result.h"

namespace prefcpu {

enum class Decision { kHold, kShrink, kGrow };

std::string_view decision_name(Decision decision);

class Governor {
 public:
  virtual ~Governor() = default;
  virtual std::string_view name() const = 0;
  // Called once per non-skipped sample.
  virtual Decision decide(std::uint64_t steal_bp, const Knobs& knobs) = 0;
  // Forget any history, e.g. after the custom mask is cleared.
  virtual void reset() {}
};

struct GovernorInfo {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Governor>()> create;
};

// Built-ins: "none", "kernel", "kernel-v2", "ewma".
const std::vector<GovernorInfo>& governors();
Result<std::unique_ptr<Governor>> make_governor(std::string_view name);
// Adds a governor at run time (tests, experiments); fails if the name is taken.
Status register_governor(GovernorInfo info);
std::string governor_names();  // "none, kernel, kernel-v2, ewma" for error messages

}  // namespace prefcpu
