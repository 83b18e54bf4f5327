// The injected clock. Real code uses MonotonicClock; tests advance a FakeClock by hand, so no
// test sleeps to wait for a period.
#pragma once

#include <cstdint>

namespace prefcpu {

class Clock {
 public:
  virtual ~Clock() = default;
  // CLOCK_MONOTONIC in ns, the clock the kernel's ktime_get() reads.
  virtual std::int64_t monotonic_ns() = 0;
  // Returns at deadline_ns or earlier if interrupted (a signal); callers re-check their state.
  virtual void sleep_until(std::int64_t deadline_ns) = 0;
};

class MonotonicClock final : public Clock {
 public:
  std::int64_t monotonic_ns() override;
  void sleep_until(std::int64_t deadline_ns) override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t start_ns = 0) : now_ns_(start_ns) {}
  std::int64_t monotonic_ns() override { return now_ns_; }
  void sleep_until(std::int64_t deadline_ns) override {
    if (deadline_ns > now_ns_) now_ns_ = deadline_ns;
  }
  void advance(std::int64_t ns) { now_ns_ += ns; }

 private:
  std::int64_t now_ns_;
};

}  // namespace prefcpu
