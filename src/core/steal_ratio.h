// The steal ratio exactly as the merged steal_governor computes it (drivers/virt/steal_governor.c):
// basis points of steal per online CPU over the interval, with integer, truncating arithmetic.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace prefcpu {

// kernel v7+: a sample less than 1 ms after the previous one is skipped.
inline constexpr std::int64_t kMinSampleGapNs = 1'000'000;

struct StealReading {
  // A constructor, not an aggregate: busy time came later than {monotonic_ns, steal, online}.
  StealReading() = default;
  StealReading(std::int64_t ns, std::uint64_t steal, unsigned cpus,
               std::optional<std::uint64_t> busy = std::nullopt)
      : monotonic_ns(ns), steal_ticks(steal), online_cpus(cpus), busy_ticks(busy) {}

  std::int64_t monotonic_ns = 0;
  std::uint64_t steal_ticks = 0;  // aggregate /proc/stat steal, in USER_HZ ticks
  unsigned online_cpus = 0;
  std::optional<std::uint64_t> busy_ticks;  // aggregate CpuTimes::busy(); empty when unknown
};

// kImplausible: a sample no real kernel produces (steal going back, or more steal than time); it
// becomes the new baseline and gives no decision.
enum class StealVerdict { kBaseline, kSkip, kImplausible, kRatio };

struct StealRatio {
  StealVerdict verdict = StealVerdict::kBaseline;
  std::uint64_t steal_bp = 0;  // valid when verdict == kRatio
  std::uint64_t delta_steal_ns = 0;
  std::int64_t delta_ns = 0;
  // kRatio with busy ticks in both readings: busy time over the interval in basis points of one
  // CPU (10000 = one CPU busy all the time). Empty when busy went back (a counter reset).
  std::optional<std::uint64_t> busy_cpu_bp;
  std::string reason;  // kImplausible: what was wrong with the sample
};

// steal_bp = Δsteal_ns / max(1, Δt_ns * n / 10000).
std::uint64_t steal_basis_points(std::uint64_t delta_steal_ns, std::uint64_t delta_ns,
                                 unsigned online_cpus);

// Busy (or steal) ns over delta_ns as basis points of one CPU: steal_basis_points for one CPU.
std::uint64_t cpu_basis_points(std::uint64_t delta_busy_ns, std::uint64_t delta_ns);

// Remembers the previous reading; the first reading is the baseline.
class StealMeter {
 public:
  // user_hz: the unit of /proc/stat, sysconf(_SC_CLK_TCK) on a real system.
  static Result<StealMeter> create(std::uint64_t user_hz);

  StealRatio observe(const StealReading& reading);
  void reset() { previous_.reset(); }
  // The kernel takes every sample as it comes; prefcpud rejects implausible ones (off by default,
  // so replay and the simulator stay exact).
  void reject_implausible(bool on) { reject_implausible_ = on; }
  std::uint64_t user_hz() const { return user_hz_; }
  std::uint64_t ticks_to_ns(std::uint64_t ticks) const;

 private:
  explicit StealMeter(std::uint64_t user_hz) : user_hz_(user_hz) {}

  std::uint64_t user_hz_;
  bool reject_implausible_ = false;
  std::optional<StealReading> previous_;
};

}  // namespace prefcpu
