#include "core/steal_ratio.h"

#include <gtest/gtest.h>

namespace prefcpu {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

StealMeter meter(std::uint64_t user_hz = 100) {
  auto created = StealMeter::create(user_hz);
  EXPECT_TRUE(created);
  return *created;
}

TEST(StealBasisPoints, KernelFormulaWithPreDividedDenominator) {
  // 2 CPUs, 1 s, 100 ms of steal: denom = 1e9*2/10000 = 200000; 1e8/200000 = 500 bp.
  EXPECT_EQ(steal_basis_points(100'000'000, kSecond, 2), 500U);
  // 100 % steal on every CPU is 10000.
  EXPECT_EQ(steal_basis_points(4 * kSecond, kSecond, 4), 10000U);
  // Truncation: 3 CPUs, 1 s: denom = 300000; 1e8 / 300000 = 333.33 -> 333.
  EXPECT_EQ(steal_basis_points(100'000'000, kSecond, 3), 333U);
  // denom = max(1, ...): tiny interval times few CPUs.
  EXPECT_EQ(steal_basis_points(5, 1, 1), 5U);
  EXPECT_EQ(steal_basis_points(5, kSecond, 0), 5U);
}

TEST(StealBasisPoints, NoOverflowAtTheExtremes) {
  // 8192 CPUs over a day: the kernel's u64 product is 7e17, fine; ours is 128-bit anyway.
  const std::uint64_t day = 86'400ULL * kSecond;
  EXPECT_EQ(steal_basis_points(day * 8192, day, 8192), 10000U);
  EXPECT_EQ(steal_basis_points(UINT64_MAX, UINT64_MAX, 8192), 1U);
}

TEST(StealMeter, FirstReadingIsTheBaseline) {
  StealMeter m = meter();
  EXPECT_EQ(m.observe({0, 100, 2}).verdict, StealVerdict::kBaseline);
}

TEST(StealMeter, UserHz100) {
  StealMeter m = meter(100);
  (void)m.observe({0, 0, 2});
  auto ratio = m.observe({kSecond, 10, 2});  // 10 ticks = 100 ms
  ASSERT_EQ(ratio.verdict, StealVerdict::kRatio);
  EXPECT_EQ(ratio.delta_steal_ns, 100'000'000U);
  EXPECT_EQ(ratio.steal_bp, 500U);
}

TEST(StealMeter, UserHz250) {
  StealMeter m = meter(250);
  (void)m.observe({0, 0, 2});
  auto ratio = m.observe({kSecond, 10, 2});  // 10 ticks = 40 ms
  ASSERT_EQ(ratio.verdict, StealVerdict::kRatio);
  EXPECT_EQ(ratio.delta_steal_ns, 40'000'000U);
  EXPECT_EQ(ratio.steal_bp, 200U);
}

TEST(StealMeter, JustUnderOneMillisecondIsSkippedAndKeepsTheBaseline) {
  StealMeter m = meter();
  (void)m.observe({0, 0, 1});
  auto skipped = m.observe({kMinSampleGapNs - 1, 50, 1});
  EXPECT_EQ(skipped.verdict, StealVerdict::kSkip);
  // The baseline stayed at t=0, steal=0: the next sample measures from there.
  auto ratio = m.observe({kSecond, 10, 1});
  ASSERT_EQ(ratio.verdict, StealVerdict::kRatio);
  EXPECT_EQ(ratio.delta_ns, kSecond);
  EXPECT_EQ(ratio.steal_bp, 1000U);
}

TEST(StealMeter, ExactlyOneMillisecondIsMeasured) {
  StealMeter m = meter();
  (void)m.observe({0, 0, 1});
  auto ratio = m.observe({kMinSampleGapNs, 0, 1});
  EXPECT_EQ(ratio.verdict, StealVerdict::kRatio);
  EXPECT_EQ(ratio.steal_bp, 0U);
}

TEST(StealMeter, JustOverOneMillisecondIsMeasured) {
  StealMeter m = meter();
  (void)m.observe({0, 0, 1});
  auto ratio = m.observe({kMinSampleGapNs + 1, 1, 1});
  ASSERT_EQ(ratio.verdict, StealVerdict::kRatio);
  // 10 ms of steal in 1.000001 ms: denom = 100, 1e7/100 = 100000 bp (the kernel does not clamp).
  EXPECT_EQ(ratio.steal_bp, 100000U);
}

TEST(StealMeter, TimeGoingBackIsSkipped) {
  StealMeter m = meter();
  (void)m.observe({kSecond, 0, 1});
  EXPECT_EQ(m.observe({0, 10, 1}).verdict, StealVerdict::kSkip);
}

TEST(StealMeter, CounterGoingBackwardsClampsToZero) {
  StealMeter m = meter();
  (void)m.observe({0, 1000, 2});
  auto ratio = m.observe({kSecond, 10, 2});
  ASSERT_EQ(ratio.verdict, StealVerdict::kRatio);
  EXPECT_EQ(ratio.delta_steal_ns, 0U);
  EXPECT_EQ(ratio.steal_bp, 0U);
  // And the baseline moved to the new, lower value.
  auto next = m.observe({2 * kSecond, 20, 2});
  EXPECT_EQ(next.steal_bp, 500U);
}

TEST(StealMeter, DenominatorUsesTheCurrentSamplesOnlineCount) {
  StealMeter m = meter();
  (void)m.observe({0, 0, 8});
  auto ratio = m.observe({kSecond, 40, 4});  // 400 ms over 4 CPUs now online
  EXPECT_EQ(ratio.steal_bp, 1000U);
}

TEST(StealMeter, EightThousandCpus) {
  StealMeter m = meter();
  (void)m.observe({0, 0, 8192});
  auto ratio = m.observe({kSecond, 8192 * 5, 8192});  // 50 ms per CPU
  EXPECT_EQ(ratio.steal_bp, 500U);
}

TEST(StealMeter, BusyInBasisPointsOfOneCpu) {
  auto m = meter();
  (void)m.observe({0, 0, 4, 1000});
  // 250 ticks of busy over 1 s at USER_HZ 100: 2.5 CPUs.
  auto ratio = m.observe({kSecond, 0, 4, 1250});
  EXPECT_EQ(ratio.busy_cpu_bp, 25000U);
  // Half a second, 50 ticks: 1 CPU.
  EXPECT_EQ(m.observe({kSecond + kSecond / 2, 0, 4, 1300}).busy_cpu_bp, 10000U);
  // Busy going back (a counter reset) is unknown for that interval, not a huge number.
  EXPECT_FALSE(m.observe({2 * kSecond, 0, 4, 10}).busy_cpu_bp);
  // Readings without busy time give none; steal is measured as before.
  auto plain = m.observe({3 * kSecond, 100, 4});
  EXPECT_FALSE(plain.busy_cpu_bp);
  EXPECT_EQ(plain.steal_bp, 2500U);
}

TEST(StealMeter, RejectsImpossibleUserHz) {
  auto zero = StealMeter::create(0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message, "invalid USER_HZ 0: expected 1..1000000000 (usually 100)");
}

}  // namespace
}  // namespace prefcpu
