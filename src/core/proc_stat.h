// /proc/stat text -> values. Only what the steal governor needs: the aggregate line and which
// cpuN lines exist (the online CPUs, as fs/proc/stat.c prints one line per online CPU).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/cpu_set.h"
#include "core/result.h"

namespace prefcpu {

// Field order of proc_stat(5): user nice system idle iowait irq softirq steal guest guest_nice.
struct CpuTimes {
  static constexpr unsigned kFields = 10;
  static constexpr unsigned kStealField = 7;  // the 8th value
  std::array<std::uint64_t, kFields> ticks{};
  unsigned fields_present = 0;

  // Kernels before 2.6.11 print no steal field; their steal is zero.
  std::uint64_t steal() const { return ticks[kStealField]; }
  // Time the CPUs ran guest code: user nice system irq softirq. Not idle, iowait or steal; guest
  // and guest_nice are already inside user and nice. Absent fields count as zero.
  std::uint64_t busy() const { return ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]; }
};

struct ProcStat {
  CpuTimes total;  // the aggregate "cpu" line, summed by the kernel over possible CPUs
  CpuSet online;   // one bit per "cpuN" line
};

// Accepts old kernels' shorter lines, extra trailing fields and unknown lines. Fails, naming the
// line, when the aggregate line is missing or malformed or a cpuN line is malformed.
Result<ProcStat> parse_proc_stat(std::string_view text);

}  // namespace prefcpu
