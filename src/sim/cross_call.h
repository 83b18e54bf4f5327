// Synchronous cross-vCPU calls: a TLB shootdown or smp_call_function() sends an IPI to its target
// vCPUs and spins, interrupts enabled, until every target has run the handler
// (kernel/smp.c smp_call_function_many_cond(), csd_lock_wait()). A target preempted by the host
// runs it only when the host runs it again; the initiator waits that long.
#pragma once

#include <string>

#include "sim/state.h"

namespace prefcpu::sim {

// The Rng stream of VM i's cross-call draws is kCrossCallStream + i, apart from the VMs' own
// streams (1..VMs) and the governor phases' (0).
inline constexpr std::uint64_t kCrossCallStream = 0x63726f7373;  // "cross"

// Sets vm's cross-call gaps from the workload's rates and draws the first due times.
void init_cross_calls(Vm& vm, const WorkloadParams& workload, Rng rng);

// Empty if every in-flight cross-call is consistent: its initiator is the running current task of
// its vCPU, waiting in a kCrossCall op, and its pending count is the number of vCPUs that still
// have it queued; a vCPU with a queued call does not hold a pCPU.
std::string check_cross_calls(const World& w);

}  // namespace prefcpu::sim
