#include <gtest/gtest.h>

#include "core/cpu_set.h"

namespace prefcpu {
namespace {

TEST(CpumaskHex, FormatsAsPercentPb) {
  EXPECT_EQ(format_cpumask_hex(CpuSet{0, 1}, 2), "3");
  EXPECT_EQ(format_cpumask_hex(CpuSet{}, 2), "0");
  EXPECT_EQ(format_cpumask_hex(CpuSet::range(0, 7), 8), "ff");
  EXPECT_EQ(format_cpumask_hex(CpuSet{0}, 16), "0001");
  EXPECT_EQ(format_cpumask_hex(CpuSet{0, 1}, 64), "00000000,00000003");
  EXPECT_EQ(format_cpumask_hex(CpuSet{35}, 36), "8,00000000");
  EXPECT_EQ(format_cpumask_hex(CpuSet{32}, 33), "1,00000000");
  EXPECT_EQ(format_cpumask_hex(CpuSet::range(0, 31), 32), "ffffffff");
}

TEST(CpumaskHex, ParsesBitmapParseSyntax) {
  auto check = [](const char* text, unsigned nbits, const char* cpulist) {
    auto set = parse_cpumask_hex(text, nbits);
    ASSERT_TRUE(set) << text << ": " << set.error().message;
    EXPECT_EQ(format_cpulist(*set), cpulist) << text;
  };
  check("3", 2, "0-1");
  check("3\n", 2, "0-1");
  check("00000000,00000003", 64, "0-1");
  check("1,00000000", 64, "32");
  check("FF", 8, "0-7");
  check("", 8, "");
  check(" 0 ", 8, "");
  check("80000000,00000000,00000001", 96, "0,95");
}

TEST(CpumaskHex, RejectsClearly) {
  auto bad = parse_cpumask_hex("3g");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "invalid CPU mask \"3g\" at column 2: expected a hex digit or ','");
  auto wide = parse_cpumask_hex("123456789");
  ASSERT_FALSE(wide);
  EXPECT_EQ(wide.error().message,
            "invalid CPU mask \"123456789\" at column 1: a group holds at most 8 hex digits");
  auto beyond = parse_cpumask_hex("4", 2);
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().message, "invalid CPU mask \"4\": CPU 2 is out of range 0-1");
}

TEST(CpumaskHex, RoundTrips) {
  for (unsigned nbits : {1U, 2U, 31U, 32U, 33U, 64U, 100U, 8192U}) {
    CpuSet set;
    for (unsigned cpu = 0; cpu < nbits; cpu += 3) set.set(cpu);
    auto parsed = parse_cpumask_hex(format_cpumask_hex(set, nbits), nbits);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, set) << nbits;
  }
}

}  // namespace
}  // namespace prefcpu
