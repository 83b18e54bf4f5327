#include "linux/irq/irq_rules.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace prefcpu {
namespace {

const CpuSet kOnline = CpuSet::range(0, 3);

TEST(IrqTarget, IntersectsWithPreferred) {
  IrqTarget target = irq_target(CpuSet::range(0, 3), CpuSet{0, 1}, kOnline, true);
  EXPECT_EQ(target.mask, (CpuSet{0, 1}));
  EXPECT_FALSE(target.pinned);
  EXPECT_EQ(irq_target(CpuSet{1, 3}, CpuSet{0, 1}, kOnline, true).mask, CpuSet{1});
}

TEST(IrqTarget, OriginalWhenNothingToSteer) {
  // Full preferred, and an original whose online CPUs are all preferred: the original, exactly,
  // offline CPUs included.
  EXPECT_EQ(irq_target(CpuSet::range(0, 3), kOnline, kOnline, true).mask, CpuSet::range(0, 3));
  EXPECT_EQ(irq_target(CpuSet{0, 6}, CpuSet{0, 1}, kOnline, true).mask, (CpuSet{0, 6}));
}

TEST(IrqTarget, EmptyIntersectionFallsBackToPreferred) {
  IrqTarget target = irq_target(CpuSet{2, 3}, CpuSet{0, 1}, kOnline, true);
  EXPECT_EQ(target.mask, (CpuSet{0, 1}));
  EXPECT_FALSE(target.pinned);
}

TEST(IrqTarget, SingleNonPreferredCpuIsAPin) {
  IrqTarget target = irq_target(CpuSet{3}, CpuSet{0, 1}, kOnline, true);
  EXPECT_EQ(target.mask, CpuSet{3});
  EXPECT_TRUE(target.pinned);
}

TEST(IrqTarget, PinsNotHonouredAfterIrqbalance) {
  IrqTarget target = irq_target(CpuSet{3}, CpuSet{0, 1}, kOnline, false);
  EXPECT_EQ(target.mask, (CpuSet{0, 1}));
  EXPECT_FALSE(target.pinned);
}

TEST(DefaultAffinityTarget, NeverPinned) {
  EXPECT_EQ(default_affinity_target(CpuSet{3}, CpuSet{0}, kOnline), CpuSet{0});
  EXPECT_EQ(default_affinity_target(CpuSet::range(0, 3), CpuSet{0, 2}, kOnline), (CpuSet{0, 2}));
}

TEST(ClassifyWriteError, SortsTheErrnoAsTheIssueSays) {
  EXPECT_EQ(classify_write_error(EIO), WriteVerdict::kUnmanaged);
  EXPECT_EQ(classify_write_error(EPERM), WriteVerdict::kUnmanaged);
  for (int err : {EBUSY, EAGAIN, EINVAL, ENOSPC, ERANGE, ENOMEM}) {
    EXPECT_EQ(classify_write_error(err), WriteVerdict::kRetry) << err;
  }
  EXPECT_EQ(classify_write_error(ENOENT), WriteVerdict::kVanished);
}

TEST(HexMaskBits, KernelWidth) {
  EXPECT_EQ(hex_mask_bits("3\n"), 4u);
  EXPECT_EQ(hex_mask_bits("ff"), 8u);
  EXPECT_EQ(hex_mask_bits("ff,ffffffff"), 40u);
  EXPECT_EQ(hex_mask_bits("00000001,00000000"), 64u);
  // Round trip: what is written back has the width the kernel printed.
  EXPECT_EQ(format_cpumask_hex(CpuSet{0}, hex_mask_bits("3")), "1");
  EXPECT_EQ(format_cpumask_hex(CpuSet{0}, hex_mask_bits("ff,ffffffff")), "00,00000001");
}

}  // namespace
}  // namespace prefcpu
