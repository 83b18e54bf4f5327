// An actuator makes one part of the system follow the preferred mask: cpusets, IRQ affinities,
// irqbalance's banned CPUs. prefcpud drives a list of them with the same four calls.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/cpu_set.h"
#include "core/result.h"

namespace prefcpu {

class Actuator {
 public:
  virtual ~Actuator() = default;
  // Also the name of its journal section.
  virtual std::string_view name() const = 0;
  // Makes the system follow `preferred`. Called every period: reads before it writes, skips
  // writes that change nothing, records originals in the journal before the first change, and
  // keeps refused writes for a retry at the next call.
  virtual Status apply(const CpuSet& preferred, const CpuSet& online) = 0;
  // Puts back every original and removes everything it created (exit, fatal error).
  virtual Status restore() = 0;
  // Undoes what a crashed instance left, from its journal section; called before the first apply.
  virtual Status recover(const nlohmann::json& section) = 0;
  // Counters and state for status.json, under the actuator's name.
  virtual nlohmann::json status() const = 0;
};

}  // namespace prefcpu
