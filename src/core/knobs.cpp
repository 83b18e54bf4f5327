#include "core/knobs.h"

#include <charconv>

namespace prefcpu {

Status validate_knobs(const Knobs& knobs) {
  if (knobs.interval_ms < kMinIntervalMs || knobs.interval_ms > kMaxIntervalMs) {
    return make_error("interval_ms {} is out of range: expected {}..{}", knobs.interval_ms,
                      kMinIntervalMs, kMaxIntervalMs);
  }
  if (knobs.high_threshold >= kMaxThresholdBp) {
    return make_error("high_threshold {} is out of range: expected 1..{} basis points",
                      knobs.high_threshold, kMaxThresholdBp - 1);
  }
  if (knobs.low_threshold >= knobs.high_threshold) {
    return make_error(
        "low_threshold {} must be below high_threshold {}: expected 0..{} basis points",
        knobs.low_threshold, knobs.high_threshold,
        knobs.high_threshold == 0 ? 0 : knobs.high_threshold - 1);
  }
  return {};
}

Status set_knob(Knobs& knobs, std::string_view name, std::string_view value) {
  std::uint32_t number = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (value.empty() || ec != std::errc{} || ptr != value.data() + value.size()) {
    return make_error("{} \"{}\" is not a number: expected a non-negative integer", name, value);
  }
  Knobs candidate = knobs;
  if (name == "interval_ms") {
    candidate.interval_ms = number;
  } else if (name == "high_threshold") {
    candidate.high_threshold = number;
  } else if (name == "low_threshold") {
    candidate.low_threshold = number;
  } else {
    return make_error("unknown knob \"{}\": expected interval_ms, high_threshold or low_threshold",
                      name);
  }
  if (auto status = validate_knobs(candidate); !status) return status;
  knobs = candidate;
  return {};
}

}  // namespace prefcpu
