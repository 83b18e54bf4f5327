#include "core/cpu_set.h"

#include <gtest/gtest.h>

namespace prefcpu {
namespace {

struct ParseCase {
  const char* text;
  unsigned nbits;
  const char* expected;  // formatted
};

class CpulistParses : public ::testing::TestWithParam<ParseCase> {};

TEST_P(CpulistParses, AsTheKernelDoes) {
  const auto& c = GetParam();
  auto set = parse_cpulist(c.text, c.nbits);
  ASSERT_TRUE(set) << c.text << ": " << set.error().message;
  EXPECT_EQ(format_cpulist(*set), c.expected) << "input \"" << c.text << "\"";
}

INSTANTIATE_TEST_SUITE_P(
    BitmapParselist, CpulistParses,
    ::testing::Values(
        ParseCase{"", 8192, ""}, ParseCase{"\n", 8192, ""}, ParseCase{"   ", 8192, ""},
        ParseCase{"5", 8192, "5"}, ParseCase{"0-3", 8192, "0-3"},
        ParseCase{"0-3,8-11", 8192, "0-3,8-11"}, ParseCase{"0-3,8-11\n", 8192, "0-3,8-11"},
        ParseCase{"  0-3 , 8-11  \n", 8192, "0-3,8-11"},
        ParseCase{"0 2\t4", 8192, "0,2,4"},  // whitespace separates regions too
        ParseCase{",,1,,3,", 8192, "1,3"},   // empty regions are skipped
        ParseCase{"3,1,2", 8192, "1-3"}, ParseCase{"0-3,2-5", 8192, "0-5"},
        ParseCase{"7-7", 8192, "7"}, ParseCase{"0-1023:2/256", 8192, "0-1,256-257,512-513,768-769"},
        ParseCase{"0-9:3/4", 8192, "0-2,4-6,8-9"}, ParseCase{"0-7:0/2", 8192, ""},
        ParseCase{"0-7:2/2", 8192, "0-7"}, ParseCase{"all", 4, "0-3"}, ParseCase{"ALL", 4, "0-3"},
        ParseCase{"all:1/2", 8, "0,2,4,6"}, ParseCase{"N", 16, "15"}, ParseCase{"4-N", 8, "4-7"},
        ParseCase{"0-N:1/4", 16, "0,4,8,12"}, ParseCase{"8191", 8192, "8191"},
        ParseCase{"0-8191", 8192, "0-8191"}));

struct ErrorCase {
  const char* text;
  unsigned nbits;
  const char* message;  // exact
};

class CpulistRejects : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(CpulistRejects, WithColumnAndExpectation) {
  const auto& c = GetParam();
  auto set = parse_cpulist(c.text, c.nbits);
  ASSERT_FALSE(set) << "\"" << c.text << "\" parsed as " << format_cpulist(*set);
  EXPECT_EQ(set.error().message, c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, CpulistRejects,
    ::testing::Values(
        ErrorCase{"0-3x", 8192, "invalid cpulist \"0-3x\" at column 4: expected ',', ':' or end"},
        ErrorCase{"x", 8192, "invalid cpulist \"x\" at column 1: expected a CPU number"},
        ErrorCase{"0-", 8192, "invalid cpulist \"0-\" at column 3: expected a CPU number"},
        ErrorCase{"-1", 8192, "invalid cpulist \"-1\" at column 1: expected a CPU number"},
        ErrorCase{"1+2", 8192, "invalid cpulist \"1+2\" at column 2: expected ',', '-' or end"},
        ErrorCase{"3-1", 8192,
                  "invalid cpulist \"3-1\" at column 1: expected a range whose start is not above "
                  "its end, as in 1-3 (start 3 is above end 1)"},
        ErrorCase{"1-0", 8192,
                  "invalid cpulist \"1-0\" at column 1: expected a range whose start is not above "
                  "its end, as in 0-1 (start 1 is above end 0)"},
        ErrorCase{"0-3:3/2", 8192,
                  "invalid cpulist \"0-3:3/2\" at column 1: expected a used size no larger than "
                  "the group size"},
        ErrorCase{"0-3:1/0", 8192,
                  "invalid cpulist \"0-3:1/0\" at column 1: expected a group size of at least 1"},
        ErrorCase{"0-3:1", 8192, "invalid cpulist \"0-3:1\" at column 6: expected '/'"},
        ErrorCase{"0-3:1/2x", 8192,
                  "invalid cpulist \"0-3:1/2x\" at column 8: expected ',' or end"},
        ErrorCase{"5:1/2", 8192,
                  "invalid cpulist \"5:1/2\" at column 2: expected '-' before a ':used/group' "
                  "suffix"},
        ErrorCase{"8192", 8192,
                  "invalid cpulist \"8192\" at column 1: CPU 8192 is out of range 0-8191"},
        ErrorCase{"0-4", 4, "invalid cpulist \"0-4\" at column 1: CPU 4 is out of range 0-3"},
        ErrorCase{"99999999999", 8192,
                  "invalid cpulist \"99999999999\" at column 1: number too large"},
        ErrorCase{"0\n5", 8192,
                  "invalid cpulist \"0\n5\" at column 3: expected nothing after the newline"}));

TEST(CpulistRejects, NeverYieldsAPartialSet) {
  // The first region is fine; the whole parse still fails.
  auto set = parse_cpulist("0-3,8-11,bad");
  EXPECT_FALSE(set);
}

TEST(CpulistFormat, MatchesPercentPbl) {
  EXPECT_EQ(format_cpulist(CpuSet{}), "");
  EXPECT_EQ(format_cpulist(CpuSet{5}), "5");
  EXPECT_EQ(format_cpulist(CpuSet{0, 1}), "0-1");
  EXPECT_EQ(format_cpulist(CpuSet{0, 2, 4}), "0,2,4");
  EXPECT_EQ(format_cpulist(CpuSet::range(0, 3) | CpuSet::range(8, 11)), "0-3,8-11");
  EXPECT_EQ(format_cpulist(CpuSet{63, 64}), "63-64");
  EXPECT_EQ(format_cpulist(CpuSet{8190, 8191}), "8190-8191");
}

TEST(CpuSet, RangesAcrossWordBoundaries) {
  for (unsigned first : {0U, 1U, 62U, 63U, 64U, 127U, 4095U, 8128U}) {
    for (unsigned length : {1U, 2U, 64U, 65U, 130U}) {
      unsigned last = std::min(first + length - 1, CpuSet::kMaxCpus - 1);
      CpuSet set = CpuSet::range(first, last);
      EXPECT_EQ(set.count(), last - first + 1) << first << "-" << last;
      EXPECT_EQ(set.first(), first);
      EXPECT_EQ(set.last(), last);
      EXPECT_FALSE(set.test(first == 0 ? CpuSet::kMaxCpus : first - 1));
      EXPECT_FALSE(set.test(last + 1));
    }
  }
}

TEST(CpuSet, FirstLastNextOnEmpty) {
  CpuSet set;
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(set.first(), std::nullopt);
  EXPECT_EQ(set.last(), std::nullopt);
  EXPECT_EQ(set.next(0), std::nullopt);
  EXPECT_EQ(set.begin(), set.end());
  EXPECT_EQ(set.count(), 0U);
}

TEST(CpuSet, NextAndIteration) {
  CpuSet set{3, 64, 65, 8191};
  EXPECT_EQ(set.next(0), 3U);
  EXPECT_EQ(set.next(3), 3U);
  EXPECT_EQ(set.next(4), 64U);
  EXPECT_EQ(set.next(66), 8191U);
  EXPECT_EQ(set.next(8192), std::nullopt);
  EXPECT_EQ(set.to_vector(), (std::vector<unsigned>{3, 64, 65, 8191}));
}

TEST(CpuSet, Algebra) {
  CpuSet a = CpuSet::range(0, 7);
  CpuSet b = CpuSet::range(4, 11);
  EXPECT_EQ(format_cpulist(a & b), "4-7");
  EXPECT_EQ(format_cpulist(a | b), "0-11");
  EXPECT_EQ(format_cpulist(a - b), "0-3");
  EXPECT_TRUE((a & b).is_subset_of(a));
  EXPECT_FALSE(b.is_subset_of(a));
  EXPECT_TRUE(a.intersects(b));
  EXPECT_FALSE((a - b).intersects(b));
  EXPECT_TRUE(CpuSet{}.is_subset_of(a));
  a.reset(0);
  EXPECT_FALSE(a.test(0));
  EXPECT_FALSE(a.test(CpuSet::kMaxCpus + 5));  // out of range reads as absent
}

}  // namespace
}  // namespace prefcpu
