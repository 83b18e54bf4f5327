#include "reference_model.h"

#include <algorithm>

namespace prefcpu::reference {

Cpus Machine::siblings(unsigned cpu) const {
  for (const auto& core : cores) {
    if (core.count(cpu) != 0) return core;
  }
  return {cpu};
}

std::string format(const Cpus& cpus) {
  std::string out;
  std::vector<unsigned> v(cpus.begin(), cpus.end());
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(v[i]);
    if (j > i) out += "-" + std::to_string(v[j]);
    i = j + 1;
  }
  return out;
}

void Monitor::shrink(const Cpus& online) {
  std::optional<unsigned> hk;
  for (unsigned cpu : preferred_) {
    if (online.count(cpu) && !machine_.nohz_full.count(cpu) && !machine_.isolated.count(cpu)) {
      hk = cpu;
      break;
    }
  }
  if (!hk) return;
  Cpus keep = machine_.siblings(*hk);
  std::optional<unsigned> target;
  for (unsigned cpu : preferred_) {
    if (!keep.count(cpu)) target = cpu;  // ascending order: the last one wins
  }
  if (!target) return;
  for (unsigned cpu : machine_.siblings(*target)) preferred_.erase(cpu);
}

void Monitor::grow(const Cpus& online) {
  for (unsigned cpu : online) {
    if (preferred_.count(cpu)) continue;
    for (unsigned sibling : machine_.siblings(cpu)) {
      if (online.count(sibling)) preferred_.insert(sibling);
    }
    return;
  }
}

Outcome Monitor::observe(std::int64_t t_ns, std::uint64_t steal_ticks, const Cpus& online) {
  Outcome out;
  if (!started_) {
    started_ = true;
    preferred_ = online;
    previous_online_ = online;
    base_t_ = t_ns;
    base_steal_ = steal_ticks;
    out.action = "baseline";
    out.preferred = preferred_;
    return out;
  }
  // Hotplug, before anything else.
  Cpus next;
  for (unsigned cpu : preferred_) {
    if (online.count(cpu)) next.insert(cpu);
  }
  for (unsigned cpu : online) {
    if (!previous_online_.count(cpu)) next.insert(cpu);
  }
  preferred_ = next.empty() ? online : next;
  previous_online_ = online;

  std::int64_t dt = t_ns - base_t_;
  if (dt < 1'000'000) {
    out.action = "skip";
    out.preferred = preferred_;
    return out;
  }
  __extension__ using u128 = unsigned __int128;
  u128 now_ns = static_cast<u128>(steal_ticks) * 1'000'000'000U / user_hz_;
  u128 before_ns = static_cast<u128>(base_steal_) * 1'000'000'000U / user_hz_;
  u128 ds = now_ns > before_ns ? now_ns - before_ns : 0;
  u128 denom = static_cast<u128>(dt) * online.size() / 10000;
  if (denom == 0) denom = 1;
  auto bp = static_cast<std::uint64_t>(ds / denom);
  base_t_ = t_ns;
  base_steal_ = steal_ticks;
  out.steal_bp = bp;

  int band = bp > high_ ? 1 : (bp <= low_ ? -1 : 0);
  int act = band;
  if (direction_rule_) {
    act = band == direction_ ? band : 0;
    direction_ = band;
  }
  if (act == 1) shrink(online);
  if (act == -1) grow(online);
  out.action = band == 1 ? "shrink" : band == -1 ? "grow" : "hold";
  if (direction_rule_ && act == 0) out.action = "hold";
  out.preferred = preferred_;
  return out;
}

}  // namespace prefcpu::reference
