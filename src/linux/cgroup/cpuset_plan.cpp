#include "linux/cgroup/cpuset_plan.h"

#include <algorithm>

namespace prefcpu {

std::optional<CpusValue> desired_cpus(const CpusValue& original, const CpuSet& preferred,
                                      const CpuSet& online, CgroupVersion version) {
  CpuSet base = original.effective(online);
  if (base.is_subset_of(preferred)) {
    // v1 refuses offline CPUs in cpuset.cpus; v2 keeps the configured value across hotplug.
    if (version == CgroupVersion::kV1) return CpusValue{false, original.cpus & online};
    return original;
  }
  CpuSet wanted = base & preferred;
  if (wanted.empty()) return std::nullopt;
  return CpusValue{false, wanted};
}

std::vector<PlannedWrite> order_writes(const std::vector<CgroupPlan>& plans, const CpuSet& online) {
  struct Step {
    int depth;
    PlannedWrite write;
  };
  std::vector<Step> grows;
  std::vector<Step> shrinks;
  for (const auto& plan : plans) {
    if (plan.current == plan.desired) continue;
    CpuSet now = plan.current.effective(online);
    CpuSet next = plan.desired.effective(online);
    int depth = cgroup_depth(plan.relative);
    if (now.is_subset_of(next)) {
      grows.push_back({depth, {plan.relative, plan.desired, false}});
    } else if (next.is_subset_of(now)) {
      shrinks.push_back({depth, {plan.relative, plan.desired, true}});
    } else {
      grows.push_back({depth, {plan.relative, CpusValue{false, now | next}, false}});
      shrinks.push_back({depth, {plan.relative, plan.desired, true}});
    }
  }
  std::stable_sort(grows.begin(), grows.end(),
                   [](const Step& a, const Step& b) { return a.depth < b.depth; });
  std::stable_sort(shrinks.begin(), shrinks.end(),
                   [](const Step& a, const Step& b) { return a.depth > b.depth; });
  std::vector<PlannedWrite> writes;
  writes.reserve(grows.size() + shrinks.size());
  for (auto& step : grows) writes.push_back(std::move(step.write));
  for (auto& step : shrinks) writes.push_back(std::move(step.write));
  return writes;
}

}  // namespace prefcpu
