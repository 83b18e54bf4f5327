// How the preferred mask changes, exactly as drivers/virt/steal_governor.c (kernel v14) does it.
#pragma once

#include "core/cpu_set.h"
#include "core/knobs.h"
#include "core/result.h"
#include "core/topology.h"

namespace prefcpu {

// decrease_preferred_cpus(): remove the core of the highest-numbered preferred CPU, never the
// core of the lowest-numbered housekeeping preferred CPU. Unchanged when only that core is left
// or when no preferred CPU is housekeeping.
// NUMA splicing (numa != kOff, and every online and preferred CPU in a node): the same choice,
// made among the removable CPUs of one node: balance takes the node with the most preferred cores,
// pack the one with the fewest; ties go to the highest node id. A node qualifies only if it has a
// removable CPU. Preferred cores of a node: cores with a preferred CPU in it.
CpuSet shrink_preferred(const CpuSet& preferred, const CpuSet& online, const Topology& topology,
                        NumaMode numa = NumaMode::kOff);

// increase_preferred_cpus(): add the core of the lowest-numbered online CPU that is not
// preferred, online siblings only. Unchanged when every online CPU is preferred.
// NUMA splicing: the same choice among one node's online non-preferred CPUs: balance adds to the
// node with the fewest preferred cores, pack to the one with the most; ties go to the lowest node
// id. A node qualifies only if it has an online CPU that is not preferred.
CpuSet grow_preferred(const CpuSet& preferred, const CpuSet& online, const Topology& topology,
                      NumaMode numa = NumaMode::kOff);

// The rule every preferred mask obeys, here and only here: within online, and never empty (all
// online CPUs when nothing of `mask` is online).
CpuSet within_online(const CpuSet& mask, const CpuSet& online);

// A custom mask (set-preferred, the seed's writable preferred file) must be non-empty and online.
Status check_custom_preferred(const CpuSet& custom, const CpuSet& online);

// Applied at every sample: preferred = (preferred ∩ online) ∪ (online − previous_online);
// if that is empty, preferred = online. New CPUs are preferred on arrival, as at
// sched_cpu_activate(); gone CPUs leave.
CpuSet follow_hotplug(const CpuSet& preferred, const CpuSet& online, const CpuSet& previous_online);

}  // namespace prefcpu
