#include "daemon/history.h"

namespace prefcpu {

void History::push(HistoryEntry entry) {
  entries_.push_back(std::move(entry));
  while (entries_.size() > capacity_) entries_.pop_front();
}

void History::set_capacity(std::size_t capacity) {
  capacity_ = capacity;
  while (entries_.size() > capacity_) entries_.pop_front();
}

nlohmann::json History::to_json(std::size_t count) const {
  nlohmann::json list = nlohmann::json::array();
  std::size_t skip = count == 0 || count >= entries_.size() ? 0 : entries_.size() - count;
  for (std::size_t i = skip; i < entries_.size(); ++i) {
    const auto& entry = entries_[i];
    list.push_back(
        {{"monotonic_ns", entry.monotonic_ns},
         {"steal_bp", entry.steal_bp ? nlohmann::json(*entry.steal_bp) : nullptr},
         {"action", entry.action},
         {"preferred", format_cpulist(entry.preferred)},
         {"online", format_cpulist(entry.online)},
         {"busy_cpu_bp", entry.busy_cpu_bp ? nlohmann::json(*entry.busy_cpu_bp) : nullptr}});
  }
  return list;
}

}  // namespace prefcpu
