// What the model needs of a host and of a VM on it, checked in one place for scenario files and
// for RunConfigs built by hand: whole-core dispatch (smt) and entitled capacity. Messages name the
// key and what is accepted; callers prefix where it was.
#pragma once

#include "core/result.h"
#include "sim/params.h"

namespace prefcpu::sim {

// A VM's virtual processors: its vCPUs in groups of the host's threads per core (one each on
// single-thread pCPUs).
std::uint32_t virtual_processors(const HostParams& host, std::uint32_t vcpus);

Status check_host(const HostParams& host);
Status check_vm_on_host(const HostParams& host, const VmSpec& vm);

}  // namespace prefcpu::sim
