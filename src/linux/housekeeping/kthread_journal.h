// The kthread actuator's journal section (kKthreadSection), apart from the moves it protects:
// {"threads": [{"pid": 40, "start_time": 12, "comm": "khugepaged", "original": "0-7",
//               "set": "0-3"}]}, with "previous" (the mask before the move in flight) while a
// move is being made, so that a crash between journal and move is recognised too.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/cpu_set.h"
#include "core/result.h"

namespace prefcpu {

// A thread prefcpu moved: what to put back, and what it set.
struct MovedKthread {
  std::uint64_t start_time = 0;  // tells a reused TID apart
  std::string comm;
  CpuSet original;
  CpuSet set;
  std::optional<CpuSet> previous;  // the mask before a move in flight (journalled first)
};

// By TID: the order of the journal, the logs and the moves.
using MovedKthreads = std::map<pid_t, MovedKthread>;

// The section for these threads; {} when there are none (Journal::record then drops it).
nlohmann::json kthread_section(const MovedKthreads& moved);

// The threads of a section a previous instance wrote; null or {} holds none. An error names
// the section or the entry and what is expected.
Result<MovedKthreads> parse_kthread_section(const nlohmann::json& section);

}  // namespace prefcpu
