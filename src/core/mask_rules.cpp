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

CpuSet within_online(const CpuSet& mask, const CpuSet& online) {
  CpuSet within = mask & online;
  return within.empty() ? online : within;
}

Status check_custom_preferred(const CpuSet& custom, const CpuSet& online) {
  if (custom.empty()) {
    return make_error(
        "custom preferred mask is empty: expected at least one online CPU (or --auto to go back "
        "to the monitor)");
  }
  if (!custom.is_subset_of(online)) {
    return make_error(
        "custom preferred mask \"{}\" includes CPUs that are not online (\"{}\"): expected a "
        "subset of online \"{}\"",
        format_cpulist(custom), format_cpulist(custom - online), format_cpulist(online));
  }
  return {};
}

CpuSet follow_hotplug(const CpuSet& preferred, const CpuSet& online,
                      const CpuSet& previous_online) {
  return within_online(preferred | (online - previous_online), online);
}

}  // namespace prefcpu
