// A CpuSet from a cpulist, and a Topology from a "cores=C,smt=T,..." spec, that the test itself
// wrote, and so knows to be valid.
#pragma once

#include <string_view>

#include "core/cpu_set.h"
#include "core/topology.h"

namespace prefcpu::testing {

inline CpuSet cpus(std::string_view text) {
  return *parse_cpulist(text);
}

inline Topology topology(std::string_view spec) {
  return *parse_topology_spec(spec);
}

}  // namespace prefcpu::testing
