// Which CPUs are thread siblings (one core), which are housekeeping, and which NUMA node holds
// each: everything the mask rules need to know about the machine, as plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cpu_set.h"
#include "core/result.h"

namespace prefcpu {

struct TopologyInput {
  CpuSet online;
  std::vector<CpuSet> cores;  // thread_siblings_list groups; a CPU in none is a core of its own
  CpuSet nohz_full;
  CpuSet isolated;
  std::vector<CpuSet> nodes;  // node cpulists, indexed by node id; may be empty
};

class Topology {
 public:
  // Every online CPU as its own core, no housekeeping exclusions, one node.
  Topology();
  static Result<Topology> build(TopologyInput input);

  const CpuSet& online() const { return online_; }
  // topology_sibling_cpumask(cpu): the CPUs of cpu's core, cpu included.
  CpuSet siblings(unsigned cpu) const;
  const CpuSet& nohz_full() const { return nohz_full_; }
  const CpuSet& isolated() const { return isolated_; }
  // HK_TYPE_KERNEL_NOISE: online CPUs that are neither nohz_full nor isolated.
  CpuSet housekeeping() const { return online_ - nohz_full_ - isolated_; }
  const std::vector<CpuSet>& nodes() const { return nodes_; }
  std::optional<unsigned> node_of(unsigned cpu) const;
  std::size_t core_count() const { return cores_.size(); }
  const std::vector<CpuSet>& cores() const { return cores_; }

  // Same machine, with a different online set (hotplug); cores keep their membership.
  Topology with_online(const CpuSet& online) const;

 private:
  static constexpr std::uint32_t kNoCore = UINT32_MAX;

  CpuSet online_;
  std::vector<CpuSet> cores_;
  std::vector<std::uint32_t> core_of_;  // indexed by CPU; kNoCore if the CPU is in no core
  CpuSet nohz_full_;
  CpuSet isolated_;
  std::vector<CpuSet> nodes_;
};

// "cores=C,smt=T[,layout=consecutive|spread][,nodes=N]".
// consecutive: core k is CPUs kT..kT+T-1 (PowerPC numbering); spread: core k is {k, k+C, ...}
// (x86 numbering). Nodes take equal runs of cores. All CPUs are online and housekeeping.
Result<Topology> parse_topology_spec(std::string_view spec);

}  // namespace prefcpu
