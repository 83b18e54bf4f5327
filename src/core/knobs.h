// The steal_governor module parameters, with the kernel's defaults and range checks.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/result.h"

namespace prefcpu {

struct Knobs {
  std::uint32_t interval_ms = 1000;    // kernel default; 100..100000
  std::uint32_t high_threshold = 500;  // basis points (5.00 %); < 10000
  std::uint32_t low_threshold = 200;   // basis points (2.00 %); < high_threshold

  friend bool operator==(const Knobs&, const Knobs&) = default;
};

inline constexpr std::uint32_t kMinIntervalMs = 100;
inline constexpr std::uint32_t kMaxIntervalMs = 100000;
inline constexpr std::uint32_t kMaxThresholdBp = 10000;

// The whole set is checked at once, as the module's init does.
Status validate_knobs(const Knobs& knobs);

// Sets one knob by name from text ("interval_ms", "high_threshold", "low_threshold"), then
// validates the whole set; on error `knobs` is unchanged.
Status set_knob(Knobs& knobs, std::string_view name, std::string_view value);

}  // namespace prefcpu
