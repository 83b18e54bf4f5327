// The two rules the kernel series shipped: the merged v14 rule and the v2..v7 "direction" rule.
#include "core/governors.h"

namespace prefcpu {

namespace {

Decision band(std::uint64_t steal_bp, const Knobs& knobs) {
  if (steal_bp > knobs.high_threshold) return Decision::kShrink;
  if (steal_bp <= knobs.low_threshold) return Decision::kGrow;  // note the <=, as in the kernel
  return Decision::kHold;
}

// kernel v14 steal_governor: act on every sample.
class KernelGovernor final : public Governor {
 public:
  std::string_view name() const override { return "kernel"; }
  Decision decide(std::uint64_t steal_bp, const Knobs& knobs) override {
    return band(steal_bp, knobs);
  }
};

// kernel v2..v7 (SM_DIR): act only when the previous sample fell in the same band.
class KernelV2Governor final : public Governor {
 public:
  std::string_view name() const override { return "kernel-v2"; }
  Decision decide(std::uint64_t steal_bp, const Knobs& knobs) override {
    Decision now = band(steal_bp, knobs);
    Decision act = now == previous_ ? now : Decision::kHold;
    previous_ = now;
    return act;
  }
  void reset() override { previous_ = Decision::kHold; }

 private:
  Decision previous_ = Decision::kHold;  // SM_DIR_NONE
};

}  // namespace

std::unique_ptr<Governor> make_kernel_governor() {
  return std::make_unique<KernelGovernor>();
}
std::unique_ptr<Governor> make_kernel_v2_governor() {
  return std::make_unique<KernelV2Governor>();
}

}  // namespace prefcpu
