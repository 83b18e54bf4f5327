// Cpulists (sysfs, cpuset.cpus, set-preferred) and hex cpumasks (/proc/irq/N/smp_affinity):
// whatever parses prints back to a list that parses to the same set.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/cpu_set.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto set = prefcpu::parse_cpulist(text)) {
    auto again = prefcpu::parse_cpulist(prefcpu::format_cpulist(*set));
    FUZZ_CHECK(again.ok() && *again == *set);
  }
  if (auto set = prefcpu::parse_cpulist(text, 64)) {
    FUZZ_CHECK(set->last().value_or(0) < 64);
  }
  if (auto mask = prefcpu::parse_cpumask_hex(text)) {
    auto printed = prefcpu::format_cpumask_hex(*mask, prefcpu::CpuSet::kMaxCpus);
    auto again = prefcpu::parse_cpumask_hex(printed);
    FUZZ_CHECK(again.ok() && *again == *mask);
  }
  return 0;
}
