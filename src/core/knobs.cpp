#include "core/knobs.h"

#include <charconv>

namespace prefcpu {

std::string_view numa_mode_name(NumaMode mode) {
  switch (mode) {
    case NumaMode::kBalance:
      return "balance";
    case NumaMode::kPack:
      return "pack";
    case NumaMode::kOff:
      break;
  }
  return "off";
}

Result<NumaMode> parse_numa_mode(std::string_view text) {
  for (auto mode : {NumaMode::kOff, NumaMode::kBalance, NumaMode::kPack}) {
    if (text == numa_mode_name(mode)) return mode;
  }
  return make_error("{} \"{}\" is not a NUMA mode: expected off, balance or pack", kNumaKnob, text);
}

const KnobInfo* find_knob(std::string_view name) {
  for (const auto& knob : kKnobTable) {
    if (knob.name == name) return &knob;
  }
  return nullptr;
}

bool is_knob(std::string_view name) {
  return name == kNumaKnob || find_knob(name) != nullptr;
}

std::string knob_names() {
  std::string names;
  for (const auto& knob : kKnobTable) names += fmt::format("{}, ", knob.name);
  names.resize(names.size() - 2);
  return names + fmt::format(" or {}", kNumaKnob);
}

std::string describe_knobs(const Knobs& knobs) {
  std::string text;
  for (const auto& knob : kKnobTable) text += fmt::format("{} {}, ", knob.name, knobs.*knob.field);
  return text + fmt::format("{} {}", kNumaKnob, numa_mode_name(knobs.numa));
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
  Knobs candidate = knobs;
  if (name == kNumaKnob) {
    auto mode = parse_numa_mode(value);
    if (!mode) return mode.error();
    candidate.numa = *mode;
  } else {
    const KnobInfo* knob = find_knob(name);
    if (knob == nullptr) {
      return make_error("unknown knob \"{}\": expected {}", name, knob_names());
    }
    auto number = parse_decimal(value, name, UINT32_MAX);
    if (!number) return number.error();
    candidate.*(knob->field) = static_cast<std::uint32_t>(*number);
  }
  if (auto status = validate_knobs(candidate); !status) return status;
  knobs = candidate;
  return {};
}

}  // namespace prefcpu
