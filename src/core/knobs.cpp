#include "core/knobs.h"

#include <charconv>

namespace prefcpu {

const KnobInfo* find_knob(std::string_view name) {
  for (const auto& knob : kKnobTable) {
    if (knob.name == name) return &knob;
  }
  return nullptr;
}

std::string knob_names() {
  std::string names;
  for (std::size_t i = 0; i < kKnobTable.size(); ++i) {
    if (i > 0) names += i + 1 == kKnobTable.size() ? " or " : ", ";
    names += kKnobTable[i].name;
  }
  return names;
}

Result<std::uint64_t> parse_decimal(std::string_view text, std::string_view what,
                                    std::uint64_t max) {
  std::uint64_t number = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, number);
  bool digits_only =
      !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
  if (!digits_only || ec == std::errc::invalid_argument || ptr != end) {
    return make_error("{} \"{}\" is not a number: expected a non-negative integer", what, text);
  }
  if (ec == std::errc::result_out_of_range || number > max) {
    return make_error("{} {} is out of range: expected at most {}", what, text, max);
  }
  return number;
}

Status validate_knobs(const Knobs& knobs) {
  if (knobs.interval_ms < kMinIntervalMs || knobs.interval_ms > kMaxIntervalMs) {
    return make_error("interval_ms {} is out of range: expected {}..{}", knobs.interval_ms,
                      kMinIntervalMs, kMaxIntervalMs);
  }
  if (knobs.high_threshold == 0 || knobs.high_threshold >= kMaxThresholdBp) {
    return make_error("high_threshold {} is out of range: expected 1..{} basis points",
                      knobs.high_threshold, kMaxThresholdBp - 1);
  }
  if (knobs.low_threshold >= knobs.high_threshold) {
    return make_error(
        "low_threshold {} must be below high_threshold {}: expected 0..{} basis points",
        knobs.low_threshold, knobs.high_threshold, knobs.high_threshold - 1);
  }
  if (knobs.shrink_after == 0 || knobs.shrink_after > kMaxShrinkAfter) {
    return make_error("shrink_after {} is out of range: expected 1..{} intervals",
                      knobs.shrink_after, kMaxShrinkAfter);
  }
  if (knobs.floor_window < knobs.shrink_after || knobs.floor_window > kMaxFloorWindow) {
    // The floor must remember at least the intervals that justified a shrink.
    return make_error("floor_window {} is out of range: expected shrink_after ({})..{} intervals",
                      knobs.floor_window, knobs.shrink_after, kMaxFloorWindow);
  }
  return {};
}

Status set_knob(Knobs& knobs, std::string_view name, std::string_view value) {
  const KnobInfo* knob = find_knob(name);
  if (knob == nullptr) {
    return make_error("unknown knob \"{}\": expected {}", name, knob_names());
  }
  auto number = parse_decimal(value, name, UINT32_MAX);
  if (!number) return number.error();
  Knobs candidate = knobs;
  candidate.*(knob->field) = static_cast<std::uint32_t>(*number);
  if (auto status = validate_knobs(candidate); !status) return status;
  knobs = candidate;
  return {};
}

}  // namespace prefcpu
