#include "core/mask_rules.h"

namespace prefcpu {

CpuSet shrink_preferred(const CpuSet& preferred, const CpuSet& online, const Topology& topology) {
  CpuSet housekeeping = (online - topology.nohz_full() - topology.isolated()) & preferred;
  auto hk = housekeeping.first();
  if (!hk) return preferred;
  CpuSet removable = preferred - topology.siblings(*hk);
  auto target = removable.last();
  if (!target) return preferred;
  return preferred - topology.siblings(*target);
}

CpuSet grow_preferred(const CpuSet& preferred, const CpuSet& online, const Topology& topology) {
  auto first = (online - preferred).first();
  if (!first) return preferred;
  return preferred | (topology.siblings(*first) & online);
}

CpuSet follow_hotplug(const CpuSet& preferred, const CpuSet& online,
                      const CpuSet& previous_online) {
  CpuSet next = (preferred & online) | (online - previous_online);
  return next.empty() ? online : next;
}

}  // namespace prefcpu
