#include "ctl/record.h"

#include <unistd.h>

#include "core/proc_stat.h"
#include "ctl/trace.h"
#include "linux/sysfs_topology.h"

namespace prefcpu {

namespace {

std::string join_cpulists(const std::vector<CpuSet>& sets) {
  std::string joined;
  for (const auto& set : sets) {
    if (!joined.empty()) joined += ' ';
    joined += format_cpulist(set);
  }
  return joined;
}

}  // namespace

Status record_trace(KernelFs& fs, Clock& clock, const RecordOptions& options, std::ostream& out,
                    const volatile bool* stop) {
  if (options.interval_ms == 0) return make_error("--interval-ms must be at least 1");
  std::uint64_t user_hz = options.user_hz;
  if (user_hz == 0) {
    long hz = ::sysconf(_SC_CLK_TCK);
    user_hz = hz > 0 ? static_cast<std::uint64_t>(hz) : 100;
  }
  out << "# prefcpu trace, written by `prefcpuctl record`; replay with `prefcpuctl replay`\n";
  out << "# format: 1\n";
  out << "# user_hz: " << user_hz << "\n";
  if (auto topology = read_sysfs_topology(fs, options.sysfs_root)) {
    out << "# cores: " << join_cpulists(topology->cores()) << "\n";
    out << "# nohz_full: " << format_cpulist(topology->nohz_full()) << "\n";
    out << "# isolated: " << format_cpulist(topology->isolated()) << "\n";
    if (!topology->nodes().empty()) out << "# nodes: " << join_cpulists(topology->nodes()) << "\n";
  } else {
    out << "# topology unavailable (" << topology.error().message << "); replay with --topology\n";
  }
  std::int64_t next = clock.monotonic_ns();
  const auto interval_ns = static_cast<std::int64_t>(options.interval_ms) * 1'000'000;
  for (std::uint64_t i = 0; i < options.count; ++i) {
    if (stop != nullptr && *stop) break;
    if (i > 0) {
      next += interval_ns;
      while (clock.monotonic_ns() < next) {
        if (stop != nullptr && *stop) return {};
        clock.sleep_until(next);
      }
    }
    std::int64_t now = clock.monotonic_ns();
    auto text = fs.reread(options.proc_stat);
    if (!text) return text.error();
    // Validate now, so a broken source is reported at record time rather than at replay.
    if (auto stat = parse_proc_stat(*text); !stat) return stat.error();
    out << trace_record_text(now, *text);
    out.flush();
  }
  return {};
}

}  // namespace prefcpu
