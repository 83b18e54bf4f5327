// The oracle: a yardstick, not a governor. A static partition of the host's pCPUs among the VMs,
// in proportion to their demand, held from t = 0 with no steal feedback (issue 11). The rig's
// `--governor oracle` asks `prefcpu-sim oracle` for the same shares, so the rule lives here only.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "core/governor.h"
#include "core/result.h"

namespace prefcpu::sim {

inline constexpr std::string_view kOracle = "oracle";

// Each VM's share of `pcpus`: pcpus x demand / total demand, at least 1 and at most the VM's
// vCPUs, the spare pCPUs to the largest remainders (earlier VMs first on ties).
// `demand` is the VM's busy vCPUs; every workload here keeps all of its vCPUs busy, so the
// callers pass the vCPU counts.
std::vector<std::uint32_t> oracle_shares(std::uint32_t pcpus,
                                         const std::vector<std::uint32_t>& demand);

// make_governor, plus "oracle", which runs as "none" under a fixed custom mask.
Result<std::unique_ptr<Governor>> make_sim_governor(std::string_view name);

}  // namespace prefcpu::sim
