#include "sim/oracle.h"

#include <algorithm>
#include <numeric>

namespace prefcpu::sim {

std::vector<std::uint32_t> oracle_shares(std::uint32_t pcpus,
                                         const std::vector<std::uint32_t>& demand) {
  std::vector<std::uint32_t> share(demand.size(), 0);
  std::uint64_t total = std::accumulate(demand.begin(), demand.end(), std::uint64_t{0});
  if (total == 0) return share;
  std::vector<std::int64_t> remainder(demand.size(), -1);  // -1: takes no spare pCPU
  std::uint64_t given = 0;
  for (std::size_t i = 0; i < demand.size(); ++i) {
    std::uint64_t scaled = std::uint64_t{pcpus} * demand[i];
    share[i] = static_cast<std::uint32_t>(scaled / total);
    remainder[i] = static_cast<std::int64_t>(scaled % total);
    if (share[i] == 0) {
      share[i] = 1;  // every VM runs somewhere
      remainder[i] = -1;
    }
    given += share[i];
  }
  while (given < pcpus) {
    auto best = std::max_element(remainder.begin(), remainder.end());
    if (*best < 0) break;
    auto i = static_cast<std::size_t>(best - remainder.begin());
    ++share[i];
    *best = -1;
    ++given;
  }
  for (std::size_t i = 0; i < demand.size(); ++i) share[i] = std::min(share[i], demand[i]);
  return share;
}

Result<std::unique_ptr<Governor>> make_sim_governor(std::string_view name) {
  if (name == kOracle) return make_governor("none");
  auto governor = make_governor(name);
  if (!governor) {
    return make_error("{}; or \"{}\" (the simulator's static partition)", governor.error().message,
                      kOracle);
  }
  return governor;
}

}  // namespace prefcpu::sim
