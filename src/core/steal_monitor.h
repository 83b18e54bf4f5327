// The steal governor's loop body, shared by prefcpud, `prefcpuctl replay` and prefcpu-sim:
// one /proc/stat sample in, one decision and the new preferred mask out. No clock, no I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/cpu_set.h"
#include "core/governor.h"
#include "core/knobs.h"
#include "core/result.h"
#include "core/steal_ratio.h"
#include "core/topology.h"

namespace prefcpu {

// What happened to the preferred mask in one step. The monitor yields the first six; prefcpud's
// other sources of the mask add auto (custom mask cleared), idle, mirror, and error (no sample).
enum class Action {
  kBaseline,
  kShrink,
  kGrow,
  kHold,
  kSkip,
  kManual,
  kAuto,
  kIdle,
  kMirror,
  kError
};

std::string_view action_name(Action action);

struct Sample {
  // A constructor, not an aggregate: busy time came later and most samples are written as
  // {monotonic_ns, steal_ticks, online}.
  Sample() = default;
  Sample(std::int64_t ns, std::uint64_t steal, const CpuSet& cpus,
         std::optional<std::uint64_t> busy = std::nullopt)
      : monotonic_ns(ns), steal_ticks(steal), online(cpus), busy_ticks(busy) {}

  std::int64_t monotonic_ns = 0;
  std::uint64_t steal_ticks = 0;            // aggregate steal from /proc/stat, USER_HZ ticks
  CpuSet online;                            // cpuN lines of the same /proc/stat
  std::optional<std::uint64_t> busy_ticks;  // aggregate CpuTimes::busy(); empty when unknown
};

struct Step {
  Action action = Action::kBaseline;
  std::optional<std::uint64_t> steal_bp;     // empty on baseline and skip
  std::optional<std::uint64_t> busy_cpu_bp;  // empty on baseline, skip, or busy unknown
  CpuSet preferred;                          // after this step
  CpuSet removed;                            // CPUs that stopped being preferred in this step
  CpuSet added;                              // CPUs that became preferred in this step
  std::string skip_reason;                   // a skip for an implausible sample: why
  bool changed() const { return !removed.empty() || !added.empty(); }
};

class StealMonitor {
 public:
  static Result<StealMonitor> create(Topology topology, Knobs knobs,
                                     std::unique_ptr<Governor> governor, std::uint64_t user_hz);

  Step observe(const Sample& sample);

  const CpuSet& preferred() const { return preferred_; }
  const CpuSet& online() const { return online_; }
  const Knobs& knobs() const { return knobs_; }
  const Governor& governor() const { return *governor_; }
  const Topology& topology() const { return topology_; }
  bool automatic() const { return !custom_; }
  const std::optional<CpuSet>& custom_preferred() const { return custom_; }

  Status set_knobs(const Knobs& knobs);
  void set_governor(std::unique_ptr<Governor> governor);
  void set_topology(Topology topology) { topology_ = std::move(topology); }
  // prefcpud: implausible samples are skips (StealMeter::reject_implausible).
  void reject_implausible(bool on) { meter_.reject_implausible(on); }
  // The seed's writable /sys/devices/system/cpu/preferred: a custom mask turns the automatic
  // monitor off. It must be non-empty and within online.
  Status set_custom_preferred(const CpuSet& custom);
  // The seed's empty write: back to the monitor, starting from all online CPUs.
  void clear_custom_preferred();

 private:
  StealMonitor(Topology topology, Knobs knobs, std::unique_ptr<Governor> governor, StealMeter meter)
      : topology_(std::move(topology)),
        knobs_(knobs),
        governor_(std::move(governor)),
        meter_(meter) {}

  // Moves preferred_ as the plan says, by the kernel's one-core steps; the step's action.
  Action apply(const Plan& plan);

  Topology topology_;
  Knobs knobs_;
  std::unique_ptr<Governor> governor_;
  StealMeter meter_;
  CpuSet preferred_;
  CpuSet online_;
  bool started_ = false;
  std::optional<CpuSet> custom_;
};

}  // namespace prefcpu
