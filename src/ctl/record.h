// `prefcpuctl record`: sample /proc/stat into a trace that `prefcpuctl replay` reads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>

#include "core/result.h"
#include "linux/clock.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

struct RecordOptions {
  std::uint32_t interval_ms = 1000;
  std::uint64_t count = 60;
  std::filesystem::path proc_stat = "/proc/stat";
  std::filesystem::path sysfs_root = "/sys";
  std::uint64_t user_hz = 0;  // 0: sysconf(_SC_CLK_TCK)
};

// Writes the header (user_hz and the topology, so the trace replays without --topology), then
// `count` records `interval_ms` apart on the clock's schedule. Stops early if *stop turns true.
Status record_trace(KernelFs& fs, Clock& clock, const RecordOptions& options, std::ostream& out,
                    const volatile bool* stop = nullptr);

}  // namespace prefcpu
