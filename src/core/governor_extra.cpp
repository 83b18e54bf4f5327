// Governors beyond the kernel's: a baseline that never acts and a smoothed variant.
#include "core/governors.h"

namespace prefcpu {

namespace {

// The status quo: preferred stays equal to online. The simulator's baseline.
class NoneGovernor final : public Governor {
 public:
  std::string_view name() const override { return "none"; }
  Decision decide(std::uint64_t /*steal_bp*/, const Knobs& /*knobs*/) override {
    return Decision::kHold;
  }
};

// Smooths steal with an exponentially weighted moving average before the kernel's bands, as
// s390 HiperDispatch does (weight 1/16 at 250 ms there; 1/4 here because our default interval
// is 1 s, which gives a similar ~4 s time constant).
class EwmaGovernor final : public Governor {
 public:
  std::string_view name() const override { return "ewma"; }
  Decision decide(std::uint64_t steal_bp, const Knobs& knobs) override {
    average_ = primed_ ? (average_ * (kWeight - 1) + steal_bp) / kWeight : steal_bp;
    primed_ = true;
    if (average_ > knobs.high_threshold) return Decision::kShrink;
    if (average_ <= knobs.low_threshold) return Decision::kGrow;
    return Decision::kHold;
  }
  void reset() override { primed_ = false; }

 private:
  static constexpr std::uint64_t kWeight = 4;
  std::uint64_t average_ = 0;
  bool primed_ = false;
};

}  // namespace

std::unique_ptr<Governor> make_none_governor() {
  return std::make_unique<NoneGovernor>();
}
std::unique_ptr<Governor> make_ewma_governor() {
  return std::make_unique<EwmaGovernor>();
}

}  // namespace prefcpu
