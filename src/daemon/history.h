// The last N samples and decisions, for `prefcpuctl history`.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/cpu_set.h"

namespace prefcpu {

struct HistoryEntry {
  std::int64_t monotonic_ns = 0;
  std::optional<std::uint64_t> steal_bp;
  std::string action;  // baseline, shrink, grow, hold, skip, manual, mirror, idle, error
  CpuSet preferred;
  CpuSet online;
  std::optional<std::uint64_t> busy_cpu_bp;  // CPU time received, bp of one CPU; what target reads
};

class History {
 public:
  explicit History(std::size_t capacity) : capacity_(capacity) {}

  void push(HistoryEntry entry);
  void set_capacity(std::size_t capacity);
  std::size_t size() const { return entries_.size(); }
  std::size_t capacity() const { return capacity_; }
  // The newest `count` entries (all when 0), oldest first.
  nlohmann::json to_json(std::size_t count) const;

 private:
  std::size_t capacity_;
  std::deque<HistoryEntry> entries_;
};

}  // namespace prefcpu
