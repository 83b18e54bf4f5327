#include "sim/host_check.h"

#include <algorithm>

namespace prefcpu::sim {

std::uint32_t virtual_processors(const HostParams& host, std::uint32_t vcpus) {
  return vcpus / std::max<std::uint32_t>(host.smt, 1);
}

// Whole-core dispatch: a dispatch-window host, and a throughput curve a thread can follow (no
// thread faster than alone).
Status check_host(const HostParams& host) {
  if (host.smt == 0 || host.smt > 8) {
    return make_error("smt {} is out of range: expected 1..8", host.smt);
  }
  if (host.smt > 1 && host.scheduler != HostKind::kDispatchWindow) {
    return make_error(
        "smt {} with scheduler \"fair\": expected 1 (whole-core dispatch is the dispatch-window "
        "host's; the fair host's pcpus are threads)",
        host.smt);
  }
  for (std::uint32_t k = 1; k <= host.smt; ++k) {
    if (host.smt_core_pm[k] == 0 || host.smt_core_pm[k] > 1000 * k) {
      return make_error("smt_core_pm[{}] = {}: expected 1..{}", k, host.smt_core_pm[k], 1000 * k);
    }
  }
  return {};
}

// A VM's vCPUs are whole guest cores, and under whole-core dispatch virtual processors of the
// host's threads; its entitlement fits its virtual processors, at most a core each.
Status check_vm_on_host(const HostParams& host, const VmSpec& vm) {
  if (vm.guest.smt == 0 || vm.vcpus % vm.guest.smt != 0) {
    return make_error("vcpus {} is not a multiple of smt {}: expected whole cores", vm.vcpus,
                      vm.guest.smt);
  }
  if (host.smt > 1 && vm.guest.smt != host.smt) {
    return make_error(
        "[guest] smt {} on a host with smt {}: expected {} (a virtual processor is a whole core)",
        vm.guest.smt, host.smt, host.smt);
  }
  std::uint32_t vps = virtual_processors(host, vm.vcpus);
  if (host.scheduler == HostKind::kDispatchWindow && vm.entitlement &&
      *vm.entitlement > static_cast<double>(vps)) {
    return make_error(
        "entitlement {} over {} virtual processors: expected at most {} (a virtual processor is "
        "entitled to at most one core)",
        *vm.entitlement, vps, vps);
  }
  return {};
}

}  // namespace prefcpu::sim
