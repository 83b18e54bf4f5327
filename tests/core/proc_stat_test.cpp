#include "core/proc_stat.h"

#include <gtest/gtest.h>

#include <string>

namespace prefcpu {
namespace {

constexpr const char* kModern =
    "cpu  1004 0 964 10778 423 0 15 9 0 0\n"
    "cpu0 398 0 383 5805 16 0 6 2 0 0\n"
    "cpu1 606 0 581 4972 407 0 9 7 0 0\n"
    "intr 123 0 0\n"
    "ctxt 456\n"
    "btime 1700000000\n"
    "processes 10\n"
    "procs_running 1\n"
    "procs_blocked 0\n"
    "softirq 1 2 3\n";

TEST(ProcStat, ReadsAggregateStealAndOnlineSet) {
  auto stat = parse_proc_stat(kModern);
  ASSERT_TRUE(stat) << stat.error().message;
  EXPECT_EQ(stat->total.steal(), 9U);
  EXPECT_EQ(stat->total.ticks[0], 1004U);
  EXPECT_EQ(stat->total.fields_present, 10U);
  EXPECT_EQ(format_cpulist(stat->online), "0-1");
}

TEST(ProcStat, BusyIsUserNiceSystemIrqSoftirq) {
  // user 1004 + nice 0 + system 964 + irq 0 + softirq 15; not idle, iowait or steal.
  EXPECT_EQ(parse_proc_stat(kModern)->total.busy(), 1983U);
  // guest and guest_nice are inside user and nice already: not counted twice.
  EXPECT_EQ(parse_proc_stat("cpu 10 20 30 1000 5 1 2 99 7 8\ncpu0 0 0 0 0\n")->total.busy(), 63U);
  // 2.4's four fields still give busy time.
  EXPECT_EQ(parse_proc_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n")->total.busy(), 6U);
}

TEST(ProcStat, OnlineSetHasHolesWhereCpusAreOffline) {
  auto stat = parse_proc_stat("cpu 1 2 3 4 5 6 7 8\ncpu0 1 1 1 1\ncpu2 1 1 1 1\ncpu3 1 1 1 1\n");
  ASSERT_TRUE(stat) << stat.error().message;
  EXPECT_EQ(format_cpulist(stat->online), "0,2-3");
  EXPECT_EQ(stat->total.steal(), 8U);
}

TEST(ProcStat, OldKernelsWithoutStealReadZero) {
  // 2.6.0-2.6.10 print seven fields; 2.4 prints four.
  auto seven = parse_proc_stat("cpu 1 2 3 4 5 6 7\ncpu0 1 2 3 4 5 6 7\n");
  ASSERT_TRUE(seven) << seven.error().message;
  EXPECT_EQ(seven->total.steal(), 0U);
  EXPECT_EQ(seven->total.fields_present, 7U);
  auto four = parse_proc_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n");
  ASSERT_TRUE(four) << four.error().message;
  EXPECT_EQ(four->total.steal(), 0U);
}

TEST(ProcStat, ExtraFieldsAreIgnored) {
  auto stat =
      parse_proc_stat("cpu 1 2 3 4 5 6 7 42 9 10 11 12\ncpu0 1 2 3 4 5 6 7 42 9 10 11 12\n");
  ASSERT_TRUE(stat) << stat.error().message;
  EXPECT_EQ(stat->total.steal(), 42U);
}

TEST(ProcStat, ToleratesTabsAndNoTrailingNewline) {
  auto stat = parse_proc_stat("cpu\t1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8");
  ASSERT_TRUE(stat) << stat.error().message;
  EXPECT_EQ(stat->total.steal(), 8U);
  EXPECT_EQ(format_cpulist(stat->online), "0");
}

TEST(ProcStat, ReportsTheMalformedLine) {
  auto bad_field = parse_proc_stat("cpu 1 2 3 4 5 6 7 8x\ncpu0 1 2 3 4\n");
  ASSERT_FALSE(bad_field);
  EXPECT_EQ(bad_field.error().message,
            "malformed /proc/stat line 1 (\"cpu\"): field 8 is \"8x\", expected a decimal number");
  auto short_line = parse_proc_stat("cpu 1 2 3 4\ncpu0 1 2\n");
  ASSERT_FALSE(short_line);
  EXPECT_EQ(short_line.error().message,
            "malformed /proc/stat line 2 (\"cpu0\"): 2 fields, expected at least 4 (user nice "
            "system idle)");
  auto bad_label = parse_proc_stat("cpu 1 2 3 4\ncpuX 1 2 3 4\n");
  ASSERT_FALSE(bad_label);
  EXPECT_EQ(bad_label.error().message,
            "malformed /proc/stat line 2: label \"cpuX\", expected \"cpu\" or \"cpuN\"");
  auto twice = parse_proc_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\ncpu0 1 2 3 4\n");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "malformed /proc/stat line 3: \"cpu0\" appears twice");
  auto beyond = parse_proc_stat("cpu 1 2 3 4\ncpu8192 1 2 3 4\n");
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error().message,
            "malformed /proc/stat line 2: CPU 8192 is beyond the supported 0-8191");
  auto negative = parse_proc_stat("cpu 1 2 3 -4\ncpu0 1 2 3 4\n");
  EXPECT_FALSE(negative);
}

TEST(ProcStat, FindsABadByteAnywhereInAPerCpuLine) {
  // The per-CPU check works 16 bytes at a time; put the bad byte at every offset.
  const std::string good = " 123456789 1234 23456789 987654321 12345 0 6789 8 0 0";
  for (std::size_t at = 1; at < good.size(); ++at) {
    if (good[at] == ' ') continue;
    std::string fields = good;
    fields[at] = 'x';
    auto stat = parse_proc_stat("cpu 1 2 3 4\ncpu0" + fields + "\n");
    ASSERT_FALSE(stat) << "offset " << at;
    EXPECT_NE(stat.error().message.find("malformed /proc/stat line 2 (\"cpu0\")"),
              std::string::npos)
        << stat.error().message;
  }
  for (std::size_t length = 2; length <= good.size(); ++length) {
    std::string fields = good.substr(0, length);
    std::size_t numbers = 0;
    for (std::size_t i = 1; i < fields.size(); ++i)
      numbers += fields[i] != ' ' && fields[i - 1] == ' ';
    auto stat = parse_proc_stat("cpu 1 2 3 4\ncpu0" + fields + "\n");
    EXPECT_EQ(static_cast<bool>(stat), numbers >= 4) << "length " << length;
  }
  auto tab = parse_proc_stat("cpu 1 2 3 4\ncpu0 123456789\t1234 23456789 987654321 12345\n");
  EXPECT_TRUE(tab);
  auto three = parse_proc_stat("cpu 1 2 3 4\ncpu0 1234567890123456789 12345678901234 1\n");
  ASSERT_FALSE(three);
  EXPECT_EQ(three.error().message,
            "malformed /proc/stat line 2 (\"cpu0\"): 3 fields, expected at least 4 (user nice "
            "system idle)");
}

TEST(ProcStat, RequiresTheLinesItNeeds) {
  auto no_total = parse_proc_stat("cpu0 1 2 3 4\nintr 1\n");
  ASSERT_FALSE(no_total);
  EXPECT_EQ(no_total.error().message, "malformed /proc/stat: no aggregate \"cpu\" line");
  auto no_cpus = parse_proc_stat("cpu 1 2 3 4\n");
  ASSERT_FALSE(no_cpus);
  EXPECT_EQ(no_cpus.error().message, "malformed /proc/stat: no \"cpuN\" lines");
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("garbage\n"));
}

TEST(ProcStat, EightThousandCpus) {
  std::string text = "cpu 1 2 3 4 5 6 7 123456789 0 0\n";
  for (unsigned cpu = 0; cpu < 8192; ++cpu) {
    text += "cpu" + std::to_string(cpu) + " 1 2 3 4 5 6 7 8 0 0\n";
  }
  auto stat = parse_proc_stat(text);
  ASSERT_TRUE(stat) << stat.error().message;
  EXPECT_EQ(stat->online.count(), 8192U);
  EXPECT_EQ(stat->total.steal(), 123456789U);
}

}  // namespace
}  // namespace prefcpu
