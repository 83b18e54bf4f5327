// /proc/interrupts text -> per-CPU counts of every numbered IRQ, and the per-period figure that
// tells a user whether IRQ steering works: how many interrupts fired on non-preferred CPUs.
// Pure: no file access.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "core/cpu_set.h"
#include "core/result.h"

namespace prefcpu {

struct InterruptTable {
  // Column -> CPU number, from the header ("CPU0 CPU2 ..."; offline CPUs have no column).
  std::vector<unsigned> cpus;
  // Numbered IRQ -> one count per column. Named rows (LOC, RES, IPI0 ...) are IPIs and local
  // timers that no affinity file can move, so they are left out.
  std::map<unsigned, std::vector<std::uint64_t>> irqs;
};

// Parses /proc/interrupts. An error names the line and what was expected.
Result<InterruptTable> parse_proc_interrupts(std::string_view text);

struct InterruptDelta {
  std::uint64_t total = 0;          // every numbered IRQ on every CPU
  std::uint64_t non_preferred = 0;  // on CPUs outside preferred
  // IRQs that fired on non-preferred CPUs, with their count there, most first.
  std::vector<std::pair<unsigned, std::uint64_t>> by_irq;
};

// Interrupts between two snapshots, with `preferred` the mask in force between them. Columns are
// matched by CPU number; the kernel's per-CPU counters are 32-bit, so a smaller value is a wrap.
// An IRQ that is new in `after` counts from zero.
InterruptDelta count_interrupts(const InterruptTable& before, const InterruptTable& after,
                                const CpuSet& preferred);

}  // namespace prefcpu
