#include "core/governor.h"

#include <mutex>

#include "core/governors.h"

namespace prefcpu {

std::string_view decision_name(Decision decision) {
  switch (decision) {
    case Decision::kShrink:
      return "shrink";
    case Decision::kGrow:
      return "grow";
    case Decision::kHold:
      break;
  }
  return "hold";
}

namespace {

// An explicit table, not static self-registration, so a static link cannot drop a governor.
std::vector<GovernorInfo>& registry() {
  static std::vector<GovernorInfo> table{
      {"none", "never changes preferred (the baseline)", make_none_governor},
      {"kernel", "merged kernel v14 rule: shrink above high, grow at or below low",
       make_kernel_governor},
      {"kernel-v2", "kernel v2..v7 rule: act after two consecutive samples in the same band",
       make_kernel_v2_governor},
      {"ewma", "kernel bands applied to a moving average of steal (weight 1/4)",
       make_ewma_governor},
      {"target", "fits preferred to the capacity received (busy time), never below a learned floor",
       make_target_governor},
  };
  return table;
}

std::mutex& registry_mutex() {
  static std::mutex mutex;
  return mutex;
}

// The registered names, "a, b, c"; the caller holds registry_mutex().
std::string names_locked() {
  std::string names;
  for (const auto& info : registry()) {
    if (!names.empty()) names += ", ";
    names += info.name;
  }
  return names;
}

}  // namespace

const std::vector<GovernorInfo>& governors() {
  return registry();
}

std::string governor_names() {
  std::lock_guard lock(registry_mutex());
  return names_locked();
}

Result<std::unique_ptr<Governor>> make_governor(std::string_view name) {
  std::lock_guard lock(registry_mutex());
  for (const auto& info : registry()) {
    if (info.name == name) return info.create();
  }
  return make_error("unknown governor \"{}\": expected one of {}", name, names_locked());
}

Status register_governor(GovernorInfo info) {
  std::lock_guard lock(registry_mutex());
  for (const auto& existing : registry()) {
    if (existing.name == info.name) {
      return make_error("governor \"{}\" is already registered", info.name);
    }
  }
  registry().push_back(std::move(info));
  return {};
}

}  // namespace prefcpu
