#include "linux/irq/irqbalance_protocol.h"

#include <gtest/gtest.h>

namespace prefcpu {
namespace {

TEST(ParseIrqbalanceSetup, ReplyOfThisMachinesIrqbalance) {
  auto setup = parse_irqbalance_setup("SLEEP 10 BANNED 00000000");
  ASSERT_TRUE(setup) << setup.error().message;
  EXPECT_EQ(setup->sleep_s, 10u);
  EXPECT_TRUE(setup->banned.empty());
  EXPECT_TRUE(setup->banned_irqs.empty());
}

TEST(ParseIrqbalanceSetup, BannedMaskAndBannedIrqs) {
  auto setup = parse_irqbalance_setup(
      "SLEEP 1 IRQ 36 LOAD 0 DIFF 0 CLASS 3 IRQ 41 LOAD 12 DIFF 4 CLASS 5 BANNED 00000022");
  ASSERT_TRUE(setup) << setup.error().message;
  EXPECT_EQ(setup->sleep_s, 1u);
  EXPECT_EQ(setup->banned_irqs, (std::vector<unsigned>{36, 41}));
  EXPECT_EQ(setup->banned, (CpuSet{1, 5}));
}

TEST(ParseIrqbalanceSetup, MaskWiderThanThirtyTwoCpus) {
  auto setup = parse_irqbalance_setup("SLEEP 10 BANNED 00000001,00000002");
  ASSERT_TRUE(setup) << setup.error().message;
  EXPECT_EQ(setup->banned, (CpuSet{1, 32}));
}

TEST(ParseIrqbalanceSetup, RejectsWhatIsNotASetupReply) {
  auto empty = parse_irqbalance_setup("");
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("root"), std::string::npos);
  for (std::string_view reply :
       {"TYPE 0 NUMBER 0 LOAD 0 SAVE_MODE 0", "SLEEP x BANNED 0", "SLEEP 10 BANNED",
        "SLEEP 10 BANNED 0g", "SLEEP 10 IRQ 3 LOAD 1 BANNED 0", "SLEEP 10 BANNED 0 extra"}) {
    auto setup = parse_irqbalance_setup(reply);
    EXPECT_FALSE(setup) << reply;
    if (!setup) {
      EXPECT_NE(setup.error().message.find(reply), std::string::npos) << reply;
    }
  }
}

TEST(IrqbalanceCpusCommand, CpulistOrNullForEmpty) {
  EXPECT_EQ(irqbalance_cpus_command(CpuSet{1}), "settings cpus 1");
  EXPECT_EQ(irqbalance_cpus_command(CpuSet{1, 2, 3, 8}), "settings cpus 1-3,8");
  EXPECT_EQ(irqbalance_cpus_command(CpuSet{}), "settings cpus NULL");
}

TEST(IrqbalanceBannedFor, UserSetPlusNonPreferred) {
  CpuSet online = CpuSet::range(0, 7);
  EXPECT_EQ(irqbalance_banned_for(CpuSet{}, CpuSet::range(0, 3), online), CpuSet::range(4, 7));
  EXPECT_EQ(irqbalance_banned_for(CpuSet{1, 9}, CpuSet::range(0, 5), online), (CpuSet{1, 6, 7, 9}));
  // Full preferred: the user's own set, unchanged.
  EXPECT_EQ(irqbalance_banned_for(CpuSet{5}, online, online), CpuSet{5});
}

TEST(IrqbalanceBannedFor, NeverBansEveryOnlineCpu) {
  CpuSet online{0, 1};
  // The user bans CPU 0, the only preferred one: the user's ban stands alone.
  EXPECT_EQ(irqbalance_banned_for(CpuSet{0}, CpuSet{0}, online), CpuSet{0});
}

}  // namespace
}  // namespace prefcpu
