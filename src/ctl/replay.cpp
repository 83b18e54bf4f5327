#include "ctl/replay.h"

#include <unistd.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/proc_stat.h"
#include "core/steal_monitor.h"
#include "protocol/json_text.h"

namespace prefcpu {

namespace {

Result<CpuSet> header_cpulist(const Trace& trace, const std::string& key) {
  auto it = trace.headers.find(key);
  if (it == trace.headers.end()) return CpuSet{};
  auto set = parse_cpulist(it->second);
  if (!set) return make_error("trace header \"{}\": {}", key, set.error().message);
  return set;
}

// "0-1 2-3 4-5": space-separated cpulists.
Result<std::vector<CpuSet>> header_groups(const Trace& trace, const std::string& key) {
  std::vector<CpuSet> groups;
  auto it = trace.headers.find(key);
  if (it == trace.headers.end()) return groups;
  std::istringstream words(it->second);
  std::string word;
  while (words >> word) {
    auto set = parse_cpulist(word);
    if (!set) return make_error("trace header \"{}\": {}", key, set.error().message);
    groups.push_back(*set);
  }
  return groups;
}

std::uint64_t resolve_user_hz(const Trace& trace, std::uint64_t requested) {
  if (requested != 0) return requested;
  if (auto it = trace.headers.find("user_hz"); it != trace.headers.end()) {
    std::uint64_t hz = 0;
    auto [ptr, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), hz);
    if (ec == std::errc{} && hz != 0) return hz;
  }
  long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? static_cast<std::uint64_t>(hz) : 100;
}

}  // namespace

Result<std::optional<Topology>> topology_from_trace_headers(const Trace& trace) {
  if (!trace.headers.contains("cores")) return std::optional<Topology>{};
  TopologyInput input;
  auto cores = header_groups(trace, "cores");
  if (!cores) return cores.error();
  input.cores = *cores;
  for (const auto& core : input.cores) input.online |= core;
  auto nohz_full = header_cpulist(trace, "nohz_full");
  if (!nohz_full) return nohz_full.error();
  input.nohz_full = *nohz_full;
  auto isolated = header_cpulist(trace, "isolated");
  if (!isolated) return isolated.error();
  input.isolated = *isolated;
  auto nodes = header_groups(trace, "nodes");
  if (!nodes) return nodes.error();
  input.nodes = *nodes;
  auto topology = Topology::build(std::move(input));
  if (!topology) return topology.error();
  return std::optional<Topology>(std::move(*topology));
}

Status replay_trace(const Trace& trace, const Topology& topology, const ReplayOptions& options,
                    std::ostream& out) {
  auto governor = make_governor(options.governor);
  if (!governor) return governor.error();
  auto monitor = StealMonitor::create(topology, options.knobs, std::move(*governor),
                                      resolve_user_hz(trace, options.user_hz));
  if (!monitor) return monitor.error();
  for (const auto& record : trace.records) {
    auto stat = parse_proc_stat(record.proc_stat);
    if (!stat) {
      return make_error("trace record at line {}: {}", record.line, stat.error().message);
    }
    Step step = monitor->observe(
        {record.monotonic_ns, stat->total.steal(), stat->online, stat->total.busy()});
    nlohmann::ordered_json line;
    line["t_ns"] = record.monotonic_ns;
    line["action"] = action_name(step.action);
    if (step.action != Action::kBaseline) {
      line["steal_bp"] = step.steal_bp ? nlohmann::ordered_json(*step.steal_bp) : nullptr;
    }
    line["preferred"] = format_cpulist(step.preferred);
    out << json_text(line) << '\n';
  }
  return {};
}

}  // namespace prefcpu
