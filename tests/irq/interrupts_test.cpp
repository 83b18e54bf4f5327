#include "linux/irq/interrupts.h"

#include <gtest/gtest.h>

namespace prefcpu {
namespace {

// Captured on this machine type (2 vCPUs, 6.18, virtio).
constexpr std::string_view kTwoCpus =
    "           CPU0       CPU1       \n"
    "  24:          1          0  IO-APIC   5-edge      ACPI:Ged\n"
    "  26:          0         14  IO-APIC   4-edge      ttyS0\n"
    "  36:          0      39262 PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0\n"
    "  41:       2168          0 PCI-MSIX-0000:00:04.0   1-edge      virtio3-rx\n"
    "NMI:          0          0   Non-maskable interrupts\n"
    "LOC:      24021      28370   Local timer interrupts\n"
    "ERR:          0\n"
    "MIS:          0\n";

TEST(ParseProcInterrupts, ReadsColumnsAndNumberedRowsOnly) {
  auto table = parse_proc_interrupts(kTwoCpus);
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ(table->cpus, (std::vector<unsigned>{0, 1}));
  ASSERT_EQ(table->irqs.size(), 4u);
  EXPECT_EQ(table->irqs.at(36), (std::vector<std::uint64_t>{0, 39262}));
  EXPECT_EQ(table->irqs.at(41), (std::vector<std::uint64_t>{2168, 0}));
  EXPECT_FALSE(table->irqs.contains(0));
}

TEST(ParseProcInterrupts, OfflineCpusHaveNoColumn) {
  auto table = parse_proc_interrupts(
      "       CPU0  CPU2  CPU3\n"
      " 10:     1     2     3  GICv3  27 Level  arch_timer\n"
      "IPI0:    5     6     7  Rescheduling interrupts\n");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ(table->cpus, (std::vector<unsigned>{0, 2, 3}));
  EXPECT_EQ(table->irqs.at(10), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(table->irqs.size(), 1u);
}

TEST(ParseProcInterrupts, ShortRowIsPaddedWithZero) {
  auto table = parse_proc_interrupts("CPU0 CPU1\n 7: 5 chip name\n");
  ASSERT_TRUE(table) << table.error().message;
  EXPECT_EQ(table->irqs.at(7), (std::vector<std::uint64_t>{5, 0}));
}

TEST(ParseProcInterrupts, ErrorsNameTheLine) {
  auto no_header = parse_proc_interrupts(" 24: 1 0 IO-APIC\n");
  ASSERT_FALSE(no_header);
  EXPECT_NE(no_header.error().message.find("line 1"), std::string::npos);
  EXPECT_NE(no_header.error().message.find("CPU0 CPU1"), std::string::npos);

  auto no_colon = parse_proc_interrupts("CPU0\n24 1\n");
  ASSERT_FALSE(no_colon);
  EXPECT_NE(no_colon.error().message.find("line 2"), std::string::npos);

  EXPECT_FALSE(parse_proc_interrupts(""));
}

InterruptTable table(std::vector<unsigned> cpus,
                     std::map<unsigned, std::vector<std::uint64_t>> irqs) {
  return InterruptTable{std::move(cpus), std::move(irqs)};
}

TEST(CountInterrupts, SplitsPreferredFromNonPreferred) {
  auto before = table({0, 1}, {{24, {10, 100}}, {36, {0, 500}}});
  auto after = table({0, 1}, {{24, {15, 130}}, {36, {2, 520}}});
  InterruptDelta delta = count_interrupts(before, after, CpuSet{0});
  EXPECT_EQ(delta.total, 5u + 30u + 2u + 20u);
  EXPECT_EQ(delta.non_preferred, 50u);
  ASSERT_EQ(delta.by_irq.size(), 2u);
  EXPECT_EQ(delta.by_irq[0], (std::pair<unsigned, std::uint64_t>{24, 30}));
  EXPECT_EQ(delta.by_irq[1], (std::pair<unsigned, std::uint64_t>{36, 20}));
}

TEST(CountInterrupts, AllPreferredMeansNoneOutside) {
  auto before = table({0, 1}, {{24, {10, 100}}});
  auto after = table({0, 1}, {{24, {11, 150}}});
  InterruptDelta delta = count_interrupts(before, after, CpuSet{0, 1});
  EXPECT_EQ(delta.total, 51u);
  EXPECT_EQ(delta.non_preferred, 0u);
  EXPECT_TRUE(delta.by_irq.empty());
}

TEST(CountInterrupts, NewIrqCountsFromZeroAndColumnsMatchByCpu) {
  // CPU 1 came online between the snapshots: its column is new.
  auto before = table({0, 2}, {{24, {10, 7}}});
  auto after = table({0, 1, 2}, {{24, {10, 4, 9}}, {50, {0, 3, 0}}});
  InterruptDelta delta = count_interrupts(before, after, CpuSet{0});
  EXPECT_EQ(delta.non_preferred, 4u + 2u + 3u);
  EXPECT_EQ(delta.total, 9u);
}

TEST(CountInterrupts, ThirtyTwoBitCounterWraps) {
  auto before = table({0, 1}, {{24, {0, 4294967290u}}});
  auto after = table({0, 1}, {{24, {0, 4}}});
  InterruptDelta delta = count_interrupts(before, after, CpuSet{0});
  EXPECT_EQ(delta.non_preferred, 10u);
}

}  // namespace
}  // namespace prefcpu
