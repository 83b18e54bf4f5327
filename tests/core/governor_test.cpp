#include "core/governor.h"

#include <gtest/gtest.h>

#include <vector>

namespace prefcpu {
namespace {

std::unique_ptr<Governor> governor(const char* name) {
  auto made = make_governor(name);
  EXPECT_TRUE(made) << name;
  return std::move(*made);
}

std::vector<Decision> run(Governor& g, const std::vector<std::uint64_t>& samples,
                          Knobs knobs = {}) {
  std::vector<Decision> out;
  for (auto bp : samples) out.push_back(g.decide(bp, knobs));
  return out;
}

constexpr Decision S = Decision::kShrink;
constexpr Decision G = Decision::kGrow;
constexpr Decision H = Decision::kHold;

TEST(KernelGovernor, BandsOfTheMergedRule) {
  auto g = governor("kernel");
  // high 500, low 200: > 500 shrinks, <= 200 grows, in between holds.
  EXPECT_EQ(run(*g, {501, 500, 499, 201, 200, 199, 0, 10000}),
            (std::vector<Decision>{S, H, H, H, G, G, G, S}));
}

TEST(KernelGovernor, ActsOnEverySample) {
  auto g = governor("kernel");
  EXPECT_EQ(run(*g, {900, 900, 900}), (std::vector<Decision>{S, S, S}));
}

TEST(KernelGovernor, UsesTheKnobsItIsGiven) {
  auto g = governor("kernel");
  Knobs tuned{100, 200, 100};  // "Period 100, High 200, Low 100"
  EXPECT_EQ(run(*g, {201, 200, 101, 100}, tuned), (std::vector<Decision>{S, H, H, G}));
}

TEST(KernelV2Governor, NeedsTwoConsecutiveSamplesInTheSameBand) {
  auto g = governor("kernel-v2");
  EXPECT_EQ(run(*g, {900, 900, 900}), (std::vector<Decision>{H, S, S}));
}

TEST(KernelV2Governor, MiddleBandResetsTheDirection) {
  auto g = governor("kernel-v2");
  EXPECT_EQ(run(*g, {900, 300, 900, 900}), (std::vector<Decision>{H, H, H, S}));
}

TEST(KernelV2Governor, OppositeBandResetsTheDirection) {
  auto g = governor("kernel-v2");
  EXPECT_EQ(run(*g, {900, 100, 100, 900, 100}), (std::vector<Decision>{H, H, G, H, H}));
}

TEST(KernelV2Governor, ResetForgetsTheDirection) {
  auto g = governor("kernel-v2");
  (void)g->decide(900, {});
  g->reset();
  EXPECT_EQ(g->decide(900, {}), H);
}

TEST(NoneGovernor, NeverActs) {
  auto g = governor("none");
  EXPECT_EQ(run(*g, {10000, 0}), (std::vector<Decision>{H, H}));
}

TEST(EwmaGovernor, SmoothsASingleSpike) {
  auto g = governor("ewma");
  // Average starts at 0 (first sample 0), one spike of 1200 lifts it to 300: hold, not shrink.
  EXPECT_EQ(run(*g, {0, 1200, 0}), (std::vector<Decision>{G, H, H}));  // 0, 300, 225
  auto sustained = governor("ewma");
  EXPECT_EQ(run(*sustained, {1200, 1200}), (std::vector<Decision>{S, S}));
}

// Pins the weight (1/4) and both band edges: > high shrinks, <= low grows.
TEST(EwmaGovernor, WeightIsAQuarterAndTheBandsAreTheKernels) {
  auto at = [](std::uint64_t second) {
    auto g = governor("ewma");
    (void)g->decide(0, {});
    return g->decide(second, {});
  };
  EXPECT_EQ(at(2000), H) << "average 500 exactly: not above high 500";
  EXPECT_EQ(at(2004), S) << "average 501";
  EXPECT_EQ(at(1000), H) << "average 250 (a weight of 1/5 would give 200, a grow)";
  EXPECT_EQ(at(800), G) << "average 200 exactly: at low 200 grows";
  EXPECT_EQ(at(804), H) << "average 201";
}

TEST(GovernorRegistry, ListsTheBuiltIns) {
  EXPECT_EQ(governor_names(), "none, kernel, kernel-v2, ewma, target");
  for (const auto& info : governors()) {
    auto made = make_governor(info.name);
    ASSERT_TRUE(made);
    EXPECT_EQ((*made)->name(), info.name);
  }
}

TEST(GovernorRegistry, UnknownNameListsTheAccepted) {
  auto made = make_governor("cpuplugd");
  ASSERT_FALSE(made);
  EXPECT_EQ(made.error().message,
            "unknown governor \"cpuplugd\": expected one of none, kernel, kernel-v2, ewma, target");
}

TEST(GovernorRegistry, RejectsADuplicateName) {
  auto status = register_governor({"kernel", "again", [] { return std::unique_ptr<Governor>(); }});
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "governor \"kernel\" is already registered");
}

TEST(Decision, Names) {
  EXPECT_EQ(decision_name(Decision::kShrink), "shrink");
  EXPECT_EQ(decision_name(Decision::kGrow), "grow");
  EXPECT_EQ(decision_name(Decision::kHold), "hold");
}

}  // namespace
}  // namespace prefcpu
