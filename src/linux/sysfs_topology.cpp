#include "linux/sysfs_topology.h"

#include <charconv>
#include <map>

namespace prefcpu {

namespace {

constexpr unsigned kMaxNumaNodes = 1024;  // MAX_NUMNODES with the largest CONFIG_NODES_SHIFT, 10

Result<CpuSet> read_cpulist(const KernelFs& fs, const std::filesystem::path& path) {
  auto text = fs.read(path);
  if (!text) return text.error();
  auto set = parse_cpulist(*text);
  if (!set) return make_error("{}: {}", path.string(), set.error().message);
  return set;
}

// Absent means empty: nohz_full, isolated and node files depend on kernel configuration.
// Without nohz_full= on the command line the kernel prints "(null)" (print_cpus_nohz_full);
// 6.12 prints it as "  (null)\n", padded.
Result<CpuSet> read_optional_cpulist(const KernelFs& fs, const std::filesystem::path& path) {
  if (!fs.exists(path)) return CpuSet{};
  auto text = fs.read(path);
  if (!text) return text.error();
  std::size_t first = text->find_first_not_of(" \t");
  if (first != std::string::npos && text->compare(first, 6, "(null)") == 0) return CpuSet{};
  auto set = parse_cpulist(*text);
  if (!set) return make_error("{}: {}", path.string(), set.error().message);
  return set;
}

}  // namespace

Result<Topology> read_sysfs_topology(const KernelFs& fs, const std::filesystem::path& sysfs_root) {
  std::filesystem::path cpu_dir = sysfs_root / "devices/system/cpu";
  TopologyInput input;
  auto online = read_cpulist(fs, cpu_dir / "online");
  if (!online) return online.error();
  input.online = *online;
  auto nohz_full = read_optional_cpulist(fs, cpu_dir / "nohz_full");
  if (!nohz_full) return nohz_full.error();
  input.nohz_full = *nohz_full;
  auto isolated = read_optional_cpulist(fs, cpu_dir / "isolated");
  if (!isolated) return isolated.error();
  input.isolated = *isolated;

  for (unsigned cpu : input.online) {
    auto path = cpu_dir / ("cpu" + std::to_string(cpu)) / "topology/thread_siblings_list";
    if (!fs.exists(path)) continue;  // no SMT information: the CPU is a core of its own
    auto siblings = read_cpulist(fs, path);
    if (!siblings) return siblings.error();
    // Offline siblings are not threads we can use; the kernel lists only online ones anyway.
    CpuSet core = *siblings & input.online;
    core.set(cpu);
    input.cores.push_back(core);
  }

  std::filesystem::path node_dir = sysfs_root / "devices/system/node";
  if (fs.is_directory(node_dir)) {
    auto names = fs.list(node_dir);
    if (!names) return names.error();
    std::map<unsigned, CpuSet> nodes;
    for (const auto& name : *names) {
      if (name.size() <= 4 || name.compare(0, 4, "node") != 0) continue;
      unsigned id = 0;
      auto [ptr, ec] = std::from_chars(name.data() + 4, name.data() + name.size(), id);
      if (ec != std::errc{} || ptr != name.data() + name.size()) continue;
      // Node ids index a vector: one past the kernel's MAX_NUMNODES would allocate for nothing
      // (found by fuzz_sysfs_topology: node52222222 asked for 53 GB).
      if (id >= kMaxNumaNodes) {
        return make_error("{}: node id {} is beyond the kernel's limit of {} nodes",
                          (node_dir / name).string(), id, kMaxNumaNodes);
      }
      auto cpus = read_optional_cpulist(fs, node_dir / name / "cpulist");
      if (!cpus) return cpus.error();
      nodes[id] = *cpus;
    }
    if (!nodes.empty()) {
      input.nodes.resize(nodes.rbegin()->first + 1);
      for (auto& [id, cpus] : nodes) input.nodes[id] = cpus;
    }
  }
  auto topology = Topology::build(std::move(input));
  if (!topology) {
    return make_error("{}: {}", cpu_dir.string(), topology.error().message);
  }
  return topology;
}

}  // namespace prefcpu
