#include "core/steal_ratio.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace prefcpu {

namespace {
__extension__ using u128 = unsigned __int128;  // GCC and Clang both have it

std::uint64_t saturate(u128 value) {
  return value > std::numeric_limits<std::uint64_t>::max()
             ? std::numeric_limits<std::uint64_t>::max()
             : static_cast<std::uint64_t>(value);
}
}  // namespace

std::uint64_t steal_basis_points(std::uint64_t delta_steal_ns, std::uint64_t delta_ns,
                                 unsigned online_cpus) {
  // 128-bit intermediate: the kernel's u64 product cannot overflow for real inputs, ours never.
  u128 denom = static_cast<u128>(delta_ns) * online_cpus / 10000;
  denom = std::max<u128>(denom, 1);
  return saturate(static_cast<u128>(delta_steal_ns) / denom);
}

std::uint64_t cpu_basis_points(std::uint64_t delta_busy_ns, std::uint64_t delta_ns) {
  return steal_basis_points(delta_busy_ns, delta_ns, 1);
}

Result<StealMeter> StealMeter::create(std::uint64_t user_hz) {
  if (user_hz == 0 || user_hz > 1'000'000'000) {
    return make_error("invalid USER_HZ {}: expected 1..1000000000 (usually 100)", user_hz);
  }
  return StealMeter(user_hz);
}

std::uint64_t StealMeter::ticks_to_ns(std::uint64_t ticks) const {
  return saturate(static_cast<u128>(ticks) * 1'000'000'000U / user_hz_);
}

StealRatio StealMeter::observe(const StealReading& reading) {
  if (!previous_) {
    previous_ = reading;
    return {};
  }
  StealRatio ratio;
  ratio.delta_ns = reading.monotonic_ns - previous_->monotonic_ns;
  if (ratio.delta_ns < kMinSampleGapNs) {
    ratio.verdict = StealVerdict::kSkip;  // the baseline is kept, as the kernel does
    return ratio;
  }
  if (reject_implausible_ && reading.steal_ticks < previous_->steal_ticks) {
    ratio.verdict = StealVerdict::kImplausible;
    ratio.reason = fmt::format("steal went back from {} to {} ticks", previous_->steal_ticks,
                               reading.steal_ticks);
    previous_ = reading;
    return ratio;
  }
  std::uint64_t now_ns = ticks_to_ns(reading.steal_ticks);
  std::uint64_t before_ns = ticks_to_ns(previous_->steal_ticks);
  ratio.delta_steal_ns = now_ns > before_ns ? now_ns - before_ns : 0;  // clamp a counter reset
  ratio.steal_bp = steal_basis_points(
      ratio.delta_steal_ns, static_cast<std::uint64_t>(ratio.delta_ns), reading.online_cpus);
  ratio.verdict = StealVerdict::kRatio;
  if (reading.busy_ticks && previous_->busy_ticks &&
      *reading.busy_ticks >= *previous_->busy_ticks) {
    ratio.busy_cpu_bp =
        cpu_basis_points(ticks_to_ns(*reading.busy_ticks) - ticks_to_ns(*previous_->busy_ticks),
                         static_cast<std::uint64_t>(ratio.delta_ns));
  }
  if (reject_implausible_) {
    // All the time of every CPU is 10000 bp; /proc/stat truncates each CPU's steal to a tick, so
    // the aggregate may run ahead by one tick per CPU.
    std::uint64_t slack =
        steal_basis_points(ticks_to_ns(reading.online_cpus),
                           static_cast<std::uint64_t>(ratio.delta_ns), reading.online_cpus);
    if (reading.online_cpus == 0 || ratio.steal_bp > 10000 + slack) {
      ratio.verdict = StealVerdict::kImplausible;
      ratio.reason = fmt::format(
          "steal_bp {} is more than all the time of {} online CPUs (10000, plus {} for tick "
          "rounding)",
          ratio.steal_bp, reading.online_cpus, slack);
    }
  }
  previous_ = reading;
  return ratio;
}

}  // namespace prefcpu
