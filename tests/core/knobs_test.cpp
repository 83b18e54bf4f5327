#include "core/knobs.h"

#include <gtest/gtest.h>

namespace prefcpu {
namespace {

TEST(Knobs, DefaultsAreTheKernels) {
  Knobs knobs;
  EXPECT_EQ(knobs.interval_ms, 1000U);
  EXPECT_EQ(knobs.high_threshold, 500U);
  EXPECT_EQ(knobs.low_threshold, 200U);
  EXPECT_TRUE(validate_knobs(knobs));
}

TEST(Knobs, IntervalRangeIsInclusive) {
  EXPECT_TRUE(validate_knobs({100, 500, 200}));
  EXPECT_TRUE(validate_knobs({100000, 500, 200}));
  auto low = validate_knobs({99, 500, 200});
  ASSERT_FALSE(low);
  EXPECT_EQ(low.error().message, "interval_ms 99 is out of range: expected 100..100000");
  EXPECT_FALSE(validate_knobs({100001, 500, 200}));
}

TEST(Knobs, HighMustBeBelowTenThousand) {
  EXPECT_TRUE(validate_knobs({1000, 9999, 200}));
  auto bad = validate_knobs({1000, 10000, 200});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "high_threshold 10000 is out of range: expected 1..9999 basis points");
}

TEST(Knobs, LowMustBeBelowHigh) {
  EXPECT_TRUE(validate_knobs({1000, 500, 499}));
  EXPECT_TRUE(validate_knobs({1000, 1, 0}));
  auto equal = validate_knobs({1000, 500, 500});
  ASSERT_FALSE(equal);
  EXPECT_EQ(equal.error().message,
            "low_threshold 500 must be below high_threshold 500: expected 0..499 basis points");
  EXPECT_FALSE(validate_knobs({1000, 0, 0}));
}

TEST(SetKnob, ChangesOneKnobAfterValidatingTheWholeSet) {
  Knobs knobs;
  ASSERT_TRUE(set_knob(knobs, "interval_ms", "100"));
  EXPECT_EQ(knobs.interval_ms, 100U);
  // Lower low first: high 200 next to the default low 200 would be refused.
  EXPECT_FALSE(set_knob(knobs, "high_threshold", "200"));
  ASSERT_TRUE(set_knob(knobs, "low_threshold", "100"));
  ASSERT_TRUE(set_knob(knobs, "high_threshold", "200"));
  EXPECT_EQ(knobs, (Knobs{100, 200, 100}));
}

TEST(SetKnob, LeavesKnobsUnchangedOnError) {
  Knobs knobs;
  auto above = set_knob(knobs, "low_threshold", "600");
  ASSERT_FALSE(above);
  EXPECT_EQ(above.error().message,
            "low_threshold 600 must be below high_threshold 500: expected 0..499 basis points");
  auto text = set_knob(knobs, "interval_ms", "fast");
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().message,
            "interval_ms \"fast\" is not a number: expected a non-negative integer");
  EXPECT_FALSE(set_knob(knobs, "interval_ms", "-5"));
  EXPECT_FALSE(set_knob(knobs, "interval_ms", "10 "));
  EXPECT_FALSE(set_knob(knobs, "interval_ms", ""));
  auto unknown = set_knob(knobs, "period", "10");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "unknown knob \"period\": expected interval_ms, high_threshold, low_threshold, "
            "shrink_after, floor_window or numa");
  EXPECT_EQ(knobs, Knobs{});
}

TEST(SetKnob, NumaTakesAModeNameAndNothingElse) {
  Knobs knobs;
  EXPECT_EQ(knobs.numa, NumaMode::kOff) << "off, the kernel's exact rule, is the default";
  for (const char* bad : {"Balance", "", "1", "balance ", "on", "spread"}) {
    auto wrong = set_knob(knobs, "numa", bad);
    ASSERT_FALSE(wrong) << bad;
    EXPECT_EQ(wrong.error().message,
              fmt::format("numa \"{}\" is not a NUMA mode: expected off, balance or pack", bad));
    EXPECT_EQ(knobs, Knobs{});
  }
  ASSERT_TRUE(set_knob(knobs, "numa", "pack"));
  EXPECT_EQ(knobs.numa, NumaMode::kPack);
  ASSERT_TRUE(set_knob(knobs, "numa", "balance"));
  EXPECT_EQ(knobs.numa, NumaMode::kBalance);
  EXPECT_EQ(numa_mode_name(knobs.numa), "balance");
  ASSERT_TRUE(set_knob(knobs, "numa", "off"));
  EXPECT_EQ(knobs, Knobs{});
  EXPECT_TRUE(is_knob("numa"));
  EXPECT_EQ(find_knob("numa"), nullptr) << "numa is a word, not in the numeric table";
}

TEST(Knobs, DescribeNamesEveryKnobWithItsValue) {
  Knobs knobs;
  knobs.shrink_after = 7;
  knobs.numa = NumaMode::kPack;
  EXPECT_EQ(describe_knobs(knobs),
            "interval_ms 1000, high_threshold 500, low_threshold 200, shrink_after 7, "
            "floor_window 30, numa pack");
}

}  // namespace
}  // namespace prefcpu
