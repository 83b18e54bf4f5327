#include "core/topology.h"

#include <charconv>

namespace prefcpu {

Topology::Topology() : core_of_(CpuSet::kMaxCpus, kNoCore) {}

Result<Topology> Topology::build(TopologyInput input) {
  Topology topo;
  topo.online_ = input.online;
  topo.nohz_full_ = input.nohz_full;
  topo.isolated_ = input.isolated;
  topo.nodes_ = std::move(input.nodes);
  for (const CpuSet& core : input.cores) {
    if (core.empty()) continue;
    // Sysfs repeats each core once per sibling; keep the first copy of each.
    unsigned first = *core.first();
    if (topo.core_of_[first] != kNoCore) {
      if (topo.cores_[topo.core_of_[first]] == core) continue;
      return make_error("inconsistent topology: CPU {} is in cores \"{}\" and \"{}\"", first,
                        format_cpulist(topo.cores_[topo.core_of_[first]]), format_cpulist(core));
    }
    auto index = static_cast<std::uint32_t>(topo.cores_.size());
    for (unsigned cpu : core) {
      if (topo.core_of_[cpu] != kNoCore) {
        return make_error("inconsistent topology: CPU {} is in cores \"{}\" and \"{}\"", cpu,
                          format_cpulist(topo.cores_[topo.core_of_[cpu]]), format_cpulist(core));
      }
      topo.core_of_[cpu] = index;
    }
    topo.cores_.push_back(core);
  }
  return topo;
}

CpuSet Topology::siblings(unsigned cpu) const {
  if (cpu >= CpuSet::kMaxCpus || core_of_[cpu] == kNoCore) return CpuSet{cpu};
  return cores_[core_of_[cpu]];
}

std::optional<unsigned> Topology::node_of(unsigned cpu) const {
  for (unsigned node = 0; node < nodes_.size(); ++node) {
    if (nodes_[node].test(cpu)) return node;
  }
  return std::nullopt;
}

Topology Topology::with_online(const CpuSet& online) const {
  Topology copy = *this;
  copy.online_ = online;
  return copy;
}

namespace {

Result<unsigned> spec_number(std::string_view spec, std::string_view key, std::string_view value) {
  unsigned n = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc{} || ptr != value.data() + value.size() || n == 0) {
    return make_error("invalid topology \"{}\": {}=\"{}\", expected a positive integer", spec, key,
                      value);
  }
  return n;
}

}  // namespace

Result<Topology> parse_topology_spec(std::string_view spec) {
  unsigned cores = 0, smt = 1, nodes = 1;
  bool spread = false;
  std::size_t pos = 0;
  while (pos <= spec.size()) {
    std::size_t comma = spec.find(',', pos);
    if (comma == std::string_view::npos) comma = spec.size();
    std::string_view item = spec.substr(pos, comma - pos);
    pos = comma + 1;
    std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return make_error(
          "invalid topology \"{}\": \"{}\", expected key=value with keys cores, smt, layout, nodes",
          spec, item);
    }
    std::string_view key = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    if (key == "cores" || key == "smt" || key == "nodes") {
      auto n = spec_number(spec, key, value);
      if (!n) return n.error();
      (key == "cores" ? cores : key == "smt" ? smt : nodes) = *n;
    } else if (key == "layout") {
      if (value != "consecutive" && value != "spread") {
        return make_error(
            "invalid topology \"{}\": layout=\"{}\", expected \"consecutive\" or \"spread\"", spec,
            value);
      }
      spread = value == "spread";
    } else {
      return make_error(
          "invalid topology \"{}\": unknown key \"{}\", expected cores, smt, layout "
          "or nodes",
          spec, key);
    }
  }
  if (cores == 0) return make_error("invalid topology \"{}\": cores=C is required", spec);
  if (static_cast<unsigned long long>(cores) * smt > CpuSet::kMaxCpus) {
    return make_error("invalid topology \"{}\": {} CPUs, at most {} are supported", spec,
                      static_cast<unsigned long long>(cores) * smt, CpuSet::kMaxCpus);
  }
  if (nodes > cores) {
    return make_error("invalid topology \"{}\": {} nodes for {} cores, expected nodes <= cores",
                      spec, nodes, cores);
  }
  TopologyInput input;
  input.online = CpuSet::range(0, cores * smt - 1);
  input.nodes.resize(nodes);
  for (unsigned k = 0; k < cores; ++k) {
    CpuSet core;
    for (unsigned t = 0; t < smt; ++t) core.set(spread ? k + t * cores : k * smt + t);
    input.nodes[static_cast<std::size_t>(k) * nodes / cores] |= core;
    input.cores.push_back(core);
  }
  return Topology::build(std::move(input));
}

}  // namespace prefcpu
