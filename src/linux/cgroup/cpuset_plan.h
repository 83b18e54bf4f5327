// What to write into each managed cpuset and in which order. Pure: no files.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/cpu_set.h"
#include "linux/cgroup/cpuset_tree.h"

namespace prefcpu {

// original ∩ preferred. When preferred covers every CPU the original allows, the original itself
// (exactly as found, so a v2 "inherit" comes back as ""). Empty when the intersection is empty:
// the caller then leaves the cgroup alone.
std::optional<CpusValue> desired_cpus(const CpusValue& original, const CpuSet& preferred,
                                      const CpuSet& online, CgroupVersion version);

struct CgroupPlan {
  std::string relative;
  CpusValue current;
  CpusValue desired;
};

struct PlannedWrite {
  std::string relative;
  CpusValue value;
  bool shrinks = false;  // removes CPUs from what the cgroup allowed before this write
};

// A v1 child must stay a subset of its parent at every step, so first every cgroup that gains
// CPUs grows, parents before children (to current ∪ desired when it also loses some), then
// every cgroup that loses CPUs shrinks, children before parents. Unchanged cgroups are skipped.
std::vector<PlannedWrite> order_writes(const std::vector<CgroupPlan>& plans, const CpuSet& online);

}  // namespace prefcpu
