// prefcpu-sim scenario files: any text is a scenario or an error naming the key, never a crash; a
// scenario that parses has a host, at least one case and VM, and whole cores in every VM; a load
// schedule's phases are in time order within the run, each after the previous ramp.
#include "sim/scenario.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto scenario = prefcpu::sim::parse_scenario(text, "fuzz.toml");
  if (!scenario) {
    FUZZ_CHECK(!scenario.error().message.empty());
    return 0;
  }
  FUZZ_CHECK(scenario->host.pcpus >= 1);
  FUZZ_CHECK(!scenario->cases.empty());
  for (const auto& spec : scenario->cases) {
    FUZZ_CHECK(!spec.vms.empty());
    for (const auto& vm : spec.vms) {
      FUZZ_CHECK(vm.vcpus >= 1 && vm.guest.smt >= 1 && vm.vcpus % vm.guest.smt == 0);
      prefcpu::sim::Ns free_from = 0;
      for (const auto& phase : vm.load) {
        FUZZ_CHECK(phase.at_ns >= free_from && phase.at_ns < scenario->duration_ns);
        FUZZ_CHECK(phase.level >= 0 && phase.level <= 10 && phase.ramp_ns >= 0);
        free_from = phase.at_ns + phase.ramp_ns;
      }
    }
  }
  return 0;
}
