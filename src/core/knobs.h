// The steal_governor module parameters, with the kernel's defaults and range checks.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace prefcpu {

// How shrink and grow choose among NUMA nodes (docs/policy.md, "NUMA splicing"). kOff is the
// kernel's exact rule.
enum class NumaMode : std::uint8_t { kOff, kBalance, kPack };

inline constexpr std::string_view kNumaKnob = "numa";

std::string_view numa_mode_name(NumaMode mode);
// "off", "balance" or "pack"; the error names the knob, the value and the accepted values.
Result<NumaMode> parse_numa_mode(std::string_view text);

struct Knobs {
  std::uint32_t interval_ms = 1000;    // kernel default; 100..100000
  std::uint32_t high_threshold = 500;  // basis points (5.00 %); < 10000
  std::uint32_t low_threshold = 200;   // basis points (2.00 %); < high_threshold
  // The `target` governor's (docs/policy.md); the kernel's governors ignore them.
  std::uint32_t shrink_after = 3;   // intervals of steal above high before a shrink; 1..100
  std::uint32_t floor_window = 30;  // intervals the learned floor remembers; shrink_after..3600
  // Every governor's: which node a shrink takes from and a grow adds to (mask_rules.h).
  NumaMode numa = NumaMode::kOff;

  friend bool operator==(const Knobs&, const Knobs&) = default;
};

inline constexpr std::uint32_t kMinIntervalMs = 100;
inline constexpr std::uint32_t kMaxIntervalMs = 100000;
inline constexpr std::uint32_t kMaxThresholdBp = 10000;
inline constexpr std::uint32_t kMaxShrinkAfter = 100;
inline constexpr std::uint32_t kMaxFloorWindow = 3600;

// One numeric knob: its name (the module parameter, the config key, the `prefcpuctl set` name)
// and the range it may take on its own; validate_knobs adds the rule across knobs (low < high).
// `numa`, a word, is the one knob outside the table.
struct KnobInfo {
  std::string_view name;
  std::uint32_t Knobs::*field;
  std::uint32_t min;
  std::uint32_t max;
};

inline constexpr std::array<KnobInfo, 5> kKnobTable = {{
    {"interval_ms", &Knobs::interval_ms, kMinIntervalMs, kMaxIntervalMs},
    {"high_threshold", &Knobs::high_threshold, 1, kMaxThresholdBp - 1},
    {"low_threshold", &Knobs::low_threshold, 0, kMaxThresholdBp - 2},
    {"shrink_after", &Knobs::shrink_after, 1, kMaxShrinkAfter},
    {"floor_window", &Knobs::floor_window, 1, kMaxFloorWindow},
}};

// nullptr when `name` is not a numeric knob.
const KnobInfo* find_knob(std::string_view name);
// A numeric knob or numa.
bool is_knob(std::string_view name);
// "interval_ms, high_threshold, low_threshold, shrink_after, floor_window or numa", for errors.
std::string knob_names();

// "interval_ms 1000, high_threshold 500, ..., numa off": every knob, for log lines.
std::string describe_knobs(const Knobs& knobs);

// The one parser of numbers typed by a user, on the command line and the control socket alike:
// decimal digits only (no sign, blank, "0x" or exponent), at most `max`. The error names `what`.
Result<std::uint64_t> parse_decimal(std::string_view text, std::string_view what,
                                    std::uint64_t max);

// The whole set is checked at once, as the module's init does.
Status validate_knobs(const Knobs& knobs);

// Sets one knob by name from text (a name of kKnobTable, or numa), then
// validates the whole set; on error `knobs` is unchanged.
Status set_knob(Knobs& knobs, std::string_view name, std::string_view value);

}  // namespace prefcpu
