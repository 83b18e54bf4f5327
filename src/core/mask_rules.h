// How the preferred mask changes, exactly as drivers/virt/steal_governor.c (kernel v14) does it.
#pragma once

#include "core/cpu_set.h"
#include "core/topology.h"

namespace prefcpu {

// decrease_preferred_cpus(): remove the core of the highest-numbered preferred CPU, never the
// core of the lowest-numbered housekeeping preferred CPU. Unchanged when only that core is left
// or when no preferred CPU is housekeeping.
CpuSet shrink_preferred(const CpuSet& preferred, const CpuSet& online, const Topology& topology);

// increase_preferred_cpus(): add the core of the lowest-numbered online CPU that is not
// preferred, online siblings only. Unchanged when every online CPU is preferred.
CpuSet grow_preferred(const CpuSet& preferred, const CpuSet& online, const Topology& topology);

// Applied at every sample: preferred = (preferred ∩ online) ∪ (online − previous_online);
// if that is empty, preferred = online. New CPUs are preferred on arrival, as at
// sched_cpu_activate(); gone CPUs leave.
CpuSet follow_hotplug(const CpuSet& preferred, const CpuSet& online, const CpuSet& previous_online);

}  // namespace prefcpu
