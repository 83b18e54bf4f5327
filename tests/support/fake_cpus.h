// A 4-CPU guest in a fixture tree: sysfs online and topology (no SMT), and a hypervisor flag.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "support/fixture_tree.h"

namespace prefcpu::testing {

inline void write_fake_guest_cpus(FixtureTree& tree) {
  tree.file("sys/devices/system/cpu/online", "0-3\n");
  for (int cpu = 0; cpu < 4; ++cpu) {
    tree.file("sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/thread_siblings_list",
              std::to_string(cpu) + "\n");
  }
  tree.file("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme hypervisor\n");
}

// The steal ticks (USER_HZ 100) of one interval of that guest with `fraction` of all its 4 CPUs'
// time stolen.
inline std::uint64_t fake_guest_steal_ticks(double fraction, std::uint32_t interval_ms) {
  return static_cast<std::uint64_t>(std::llround(fraction * interval_ms / 1000.0 * 4 * 100));
}

}  // namespace prefcpu::testing
