// One frame of `prefcpuctl top`, as a pure function of the daemon's status and history replies:
// the preferred mask as a row of CPUs, steal as a sparkline over the history, the last decisions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace prefcpu {

struct TopOptions {
  std::size_t width = 80;     // terminal columns
  bool color = false;         // ANSI colours (a terminal); off for --once
  std::size_t decisions = 8;  // how many of the last decisions to list
};

// Steal as one block character per sample, ▁ (none) to █ (max_bp or more); a missing sample
// (an error period) is a blank.
std::string sparkline(const std::vector<std::optional<std::uint64_t>>& steal_bp,
                      std::uint64_t max_bp);

// `status`: the status object; `history`: the history reply ({monotonic_ns, history: [...]}).
// Lines end in "\n"; no cursor movement, which the caller adds for a live view.
std::string render_top(const nlohmann::json& status, const nlohmann::json& history,
                       const TopOptions& options);

}  // namespace prefcpu
