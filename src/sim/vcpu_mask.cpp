#include "sim/vcpu_mask.h"

namespace prefcpu::sim {

void VcpuMask::set_all() {
  for (auto& word : words_) word = ~std::uint64_t{0};
  if (bits_ % 64 != 0 && !words_.empty()) words_.back() = (std::uint64_t{1} << (bits_ % 64)) - 1;
}

std::uint32_t VcpuMask::count() const {
  std::uint32_t total = 0;
  for (auto word : words_) total += static_cast<std::uint32_t>(std::popcount(word));
  return total;
}

std::uint32_t VcpuMask::first_and(const VcpuMask& other) const {
  for (std::size_t w = 0; w < words_.size(); ++w) {
    std::uint64_t both = words_[w] & other.words_[w];
    if (both != 0)
      return static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(both)));
  }
  return kNone;
}

std::uint32_t VcpuMask::first_and(const VcpuMask& a, const VcpuMask& b) const {
  return first_and_from(0, bits_, a, b);
}

std::uint32_t VcpuMask::first_and_from(std::uint32_t from, std::uint32_t end, const VcpuMask& a,
                                       const VcpuMask& b) const {
  if (from >= end) return kNone;
  std::size_t w = from / 64;
  std::uint64_t word = words_[w] & a.words_[w] & b.words_[w] & (~std::uint64_t{0} << (from % 64));
  while (true) {
    if (word != 0) {
      auto found =
          static_cast<std::uint32_t>(w * 64 + static_cast<std::size_t>(std::countr_zero(word)));
      return found < end ? found : kNone;
    }
    if (++w >= words_.size() || w * 64 >= end) return kNone;
    word = words_[w] & a.words_[w] & b.words_[w];
  }
}

std::uint32_t VcpuMask::first_wrap_and(std::uint32_t start, const VcpuMask& a,
                                       const VcpuMask& b) const {
  std::uint32_t found = first_and_from(start, bits_, a, b);
  return found != kNone ? found : first_and_from(0, start, a, b);
}

CpuSet VcpuMask::to_cpu_set() const {
  CpuSet set;
  for (std::uint32_t i = 0; i < bits_; ++i) {
    if (test(i)) set.set(i);
  }
  return set;
}

VcpuMask VcpuMask::from_cpu_set(const CpuSet& set, std::uint32_t bits) {
  VcpuMask mask(bits);
  for (unsigned cpu : set) {
    if (cpu < bits) mask.set(cpu);
  }
  return mask;
}

}  // namespace prefcpu::sim
