// The builtin IRQ steering rules, pure: which mask an IRQ gets, and what a refused write means.
#pragma once

#include <string_view>

#include "core/cpu_set.h"

namespace prefcpu {

struct IrqTarget {
  CpuSet mask;
  // The original was a single non-preferred CPU: a deliberate pin, left where it is, as the
  // kernel leaves a task allowed only on non-preferred CPUs running there.
  bool pinned = false;
};

// The mask an IRQ should have under `preferred`:
// - its original, if the original's online CPUs are all preferred (nothing to steer, and a
//   grow puts the original back exactly, offline CPUs included);
// - original ∩ preferred otherwise;
// - if that is empty: the original when it is a single CPU and pins are honoured, else preferred.
IrqTarget irq_target(const CpuSet& original, const CpuSet& preferred, const CpuSet& online,
                     bool honour_pins);

// default_smp_affinity: the same rule without pins (it is where new IRQs start, not a choice
// about one IRQ).
CpuSet default_affinity_target(const CpuSet& original, const CpuSet& preferred,
                               const CpuSet& online);

enum class WriteVerdict {
  kUnmanaged,  // EIO, EPERM: kernel-managed or unchangeable; never touched again
  kRetry,      // EBUSY, EAGAIN, EINVAL, ENOSPC and anything else: retried next period
  kVanished,   // ENOENT: the IRQ went away between listing and writing
};

WriteVerdict classify_write_error(int errno_value);

// The width of a hex mask as the kernel printed it ("3" -> 4, "00000001,00000000" -> 64), so a
// mask written back has the kernel's own width (nr_cpu_ids rounded up to a hex digit).
unsigned hex_mask_bits(std::string_view text);

}  // namespace prefcpu
