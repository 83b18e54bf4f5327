// The sysfs topology reader on a fuzzed tree: online, nohz_full, isolated, each online CPU's
// thread_siblings_list and a few NUMA nodes, all from the input; also the simulator's
// "cores=,smt=" spec. A topology that builds puts every online CPU in exactly one core.
#include "linux/sysfs_topology.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "core/topology.h"
#include "fuzz_check.h"

namespace {

class MapFs final : public prefcpu::KernelFs {
 public:
  std::map<std::string, std::string> files;

  prefcpu::Result<std::string> read(const std::filesystem::path& path) const override {
    auto it = files.find(path.string());
    if (it == files.end()) return prefcpu::make_errno_error(2, "{}: no such file", path.string());
    return it->second;
  }
  prefcpu::Status write(const std::filesystem::path& path, std::string_view) override {
    return prefcpu::make_errno_error(30, "{}: read-only", path.string());
  }
  prefcpu::Result<std::vector<std::string>> list(const std::filesystem::path& dir) const override {
    std::vector<std::string> names;
    std::string prefix = dir.string() + "/";
    for (const auto& [path, content] : files) {
      if (path.rfind(prefix, 0) != 0) continue;
      std::string rest = path.substr(prefix.size());
      std::string name = rest.substr(0, rest.find('/'));
      if (names.empty() || names.back() != name) names.push_back(name);
    }
    return names;
  }
  bool exists(const std::filesystem::path& path) const override {
    return files.count(path.string()) != 0 || is_directory(path);
  }
  bool is_directory(const std::filesystem::path& path) const override {
    auto it = files.lower_bound(path.string() + "/");
    return it != files.end() && it->first.rfind(path.string() + "/", 0) == 0;
  }
  prefcpu::Status make_directory(const std::filesystem::path& path) override {
    return write(path, "");
  }
  prefcpu::Status remove_directory(const std::filesystem::path& path) override {
    return write(path, "");
  }
  prefcpu::Status replace_file(const std::filesystem::path& path, std::string_view content,
                               bool /*durable*/) override {
    return write(path, content);
  }
  prefcpu::Status remove_file(const std::filesystem::path& path) override {
    return write(path, "");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  (void)prefcpu::parse_topology_spec(input.ConsumeRandomLengthString(32));
  MapFs fs;
  const std::string cpu = "/sys/devices/system/cpu/";
  fs.files[cpu + "online"] = input.ConsumeRandomLengthString(64);
  if (input.ConsumeBool()) fs.files[cpu + "nohz_full"] = input.ConsumeRandomLengthString(32);
  if (input.ConsumeBool()) fs.files[cpu + "isolated"] = input.ConsumeRandomLengthString(32);
  for (int i = 0, n = input.ConsumeIntegralInRange(0, 16); i < n; ++i) {
    auto id = input.ConsumeIntegralInRange(0, 63);
    fs.files[cpu + "cpu" + std::to_string(id) + "/topology/thread_siblings_list"] =
        input.ConsumeRandomLengthString(32);
  }
  for (int i = 0, n = input.ConsumeIntegralInRange(0, 4); i < n; ++i) {
    std::string name =
        "node" + (input.ConsumeBool() ? std::to_string(input.ConsumeIntegral<std::uint8_t>())
                                      : input.ConsumeRandomLengthString(12));
    fs.files["/sys/devices/system/node/" + name + "/cpulist"] = input.ConsumeRandomLengthString(32);
  }
  auto topology = prefcpu::read_sysfs_topology(fs, "/sys");
  if (topology) {
    // A CPU in no listed core is a core of its own; cores never overlap.
    for (unsigned online : topology->online()) {
      auto core = topology->siblings(online);
      FUZZ_CHECK(core.test(online));
      for (unsigned sibling : core) FUZZ_CHECK(topology->siblings(sibling) == core);
    }
  }
  return 0;
}
