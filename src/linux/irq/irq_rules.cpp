#include "linux/irq/irq_rules.h"

#include <cerrno>

namespace prefcpu {

IrqTarget irq_target(const CpuSet& original, const CpuSet& preferred, const CpuSet& online,
                     bool honour_pins) {
  if ((original & online).is_subset_of(preferred)) return {original, false};
  CpuSet kept = original & preferred;
  if (!kept.empty()) return {kept, false};
  if (honour_pins && original.count() == 1) return {original, true};
  return {preferred, false};
}

CpuSet default_affinity_target(const CpuSet& original, const CpuSet& preferred,
                               const CpuSet& online) {
  return irq_target(original, preferred, online, /*honour_pins=*/false).mask;
}

WriteVerdict classify_write_error(int errno_value) {
  switch (errno_value) {
    case EIO:
    case EPERM:
      return WriteVerdict::kUnmanaged;
    case ENOENT:
      return WriteVerdict::kVanished;
    default:
      return WriteVerdict::kRetry;
  }
}

unsigned hex_mask_bits(std::string_view text) {
  unsigned digits = 0;
  for (char c : text) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (hex) ++digits;
  }
  if (digits == 0) return CpuSet::kMaxCpus;
  return digits * 4 > CpuSet::kMaxCpus ? CpuSet::kMaxCpus : digits * 4;
}

}  // namespace prefcpu
