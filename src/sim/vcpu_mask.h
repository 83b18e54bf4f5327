// A VM-sized bitmask of vCPUs. The simulator's hot paths use this; CpuSet (1 KB) is used only at
// the StealMonitor boundary, once per governor interval.
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

#include "core/cpu_set.h"

namespace prefcpu::sim {

class VcpuMask {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  VcpuMask() = default;
  explicit VcpuMask(std::uint32_t bits, bool all = false)
      : bits_(bits), words_((bits + 63) / 64, 0) {
    if (all) set_all();
  }

  std::uint32_t bits() const { return bits_; }
  bool test(std::uint32_t i) const { return (words_[i / 64] >> (i % 64)) & 1U; }
  void set(std::uint32_t i) { words_[i / 64] |= std::uint64_t{1} << (i % 64); }
  void reset(std::uint32_t i) { words_[i / 64] &= ~(std::uint64_t{1} << (i % 64)); }
  void assign(std::uint32_t i, bool value) { value ? set(i) : reset(i); }
  void set_all();
  std::uint32_t count() const;
  std::uint32_t first() const { return first_and(*this); }

  // Calls f(i) for every member of (this ∩ other), in ascending order.
  template <typename F>
  void for_each_and(const VcpuMask& other, F f) const {
    for (std::size_t w = 0; w < words_.size(); ++w) {
      std::uint64_t both = words_[w] & other.words_[w];
      while (both != 0) {
        f(static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(both))));
        both &= both - 1;
      }
    }
  }

  // Lowest member of (this ∩ other), kNone if empty. Both masks must have the same size.
  std::uint32_t first_and(const VcpuMask& other) const;
  // Lowest member of (this ∩ a ∩ b).
  std::uint32_t first_and(const VcpuMask& a, const VcpuMask& b) const;
  bool intersects(const VcpuMask& other) const { return first_and(other) != kNone; }
  // First member of (this ∩ a ∩ b) at or after start, wrapping (for_each_cpu_wrap order).
  std::uint32_t first_wrap_and(std::uint32_t start, const VcpuMask& a, const VcpuMask& b) const;

  CpuSet to_cpu_set() const;
  static VcpuMask from_cpu_set(const CpuSet& set, std::uint32_t bits);

  const std::vector<std::uint64_t>& words() const { return words_; }

 private:
  std::uint32_t first_and_from(std::uint32_t from, std::uint32_t end, const VcpuMask& a,
                               const VcpuMask& b) const;

  std::uint32_t bits_ = 0;
  std::vector<std::uint64_t> words_;
};

}  // namespace prefcpu::sim
