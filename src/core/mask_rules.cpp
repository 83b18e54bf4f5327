#include "core/mask_rules.h"

namespace prefcpu {

namespace {

enum class Splice { kShrink, kGrow };

// Cores with a CPU in `cpus`, each counted once.
unsigned count_cores(CpuSet cpus, const Topology& topology) {
  unsigned cores = 0;
  while (auto cpu = cpus.first()) {
    cpus -= topology.siblings(*cpu);
    ++cores;
  }
  return cores;
}

// The CPUs the kernel's choice is made among: `candidates`, narrowed to the one node the NUMA mode
// picks. Without a mode, or when a CPU of `preferred` or `online` is in no node (no node info),
// all of `candidates`: the kernel's rule.
CpuSet splice_candidates(const CpuSet& candidates, const CpuSet& preferred, const CpuSet& online,
                         const Topology& topology, NumaMode numa, Splice splice) {
  const auto& nodes = topology.nodes();
  if (numa == NumaMode::kOff || nodes.empty()) return candidates;
  CpuSet covered;
  for (const CpuSet& node : nodes) covered |= node;
  if (!(preferred | online).is_subset_of(covered)) return candidates;
  // Shrink under balance and grow under pack want the most preferred cores.
  const bool most = (numa == NumaMode::kBalance) == (splice == Splice::kShrink);
  std::optional<CpuSet> best;
  unsigned best_cores = 0;
  for (const CpuSet& node : nodes) {
    CpuSet mine = candidates & node;
    if (mine.empty()) continue;
    unsigned cores = count_cores(preferred & node, topology);
    // Nodes come in id order: a shrink lets a later node win a tie, a grow keeps the earlier one.
    bool better = most ? cores > best_cores : cores < best_cores;
    bool tie = cores == best_cores && splice == Splice::kShrink;
    if (!best || better || tie) {
      best = mine;
      best_cores = cores;
    }
  }
  return best.value_or(candidates);
}

}  // namespace

CpuSet shrink_preferred(const CpuSet& preferred, const CpuSet& online, const Topology& topology,
                        NumaMode numa) {
  CpuSet housekeeping = (online - topology.nohz_full() - topology.isolated()) & preferred;
  auto hk = housekeeping.first();
  if (!hk) return preferred;
  CpuSet removable = preferred - topology.siblings(*hk);
  CpuSet from = splice_candidates(removable, preferred, online, topology, numa, Splice::kShrink);
  auto target = from.last();
  if (!target) return preferred;
  return preferred - topology.siblings(*target);
}

CpuSet grow_preferred(const CpuSet& preferred, const CpuSet& online, const Topology& topology,
                      NumaMode numa) {
  CpuSet addable = online - preferred;
  auto first = splice_candidates(addable, preferred, online, topology, numa, Splice::kGrow).first();
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
