// A set of CPU numbers, as the kernel's struct cpumask, sized for CONFIG_NR_CPUS=8192.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace prefcpu {

class CpuSet {
 public:
  static constexpr unsigned kMaxCpus = 8192;

  CpuSet() = default;
  CpuSet(std::initializer_list<unsigned> cpus);
  // Inclusive range first..last, as in the cpulist "first-last".
  static CpuSet range(unsigned first, unsigned last);

  void set(unsigned cpu) { words_[cpu / 64] |= bit(cpu); }
  void reset(unsigned cpu) { words_[cpu / 64] &= ~bit(cpu); }
  bool test(unsigned cpu) const { return cpu < kMaxCpus && (words_[cpu / 64] & bit(cpu)) != 0; }
  void set_range(unsigned first, unsigned last);
  void clear() { words_.fill(0); }

  unsigned count() const;
  bool empty() const;
  std::optional<unsigned> first() const { return next(0); }
  std::optional<unsigned> last() const;
  // Lowest member >= from, as cpumask_next(from - 1).
  std::optional<unsigned> next(unsigned from) const;

  bool is_subset_of(const CpuSet& other) const;
  bool intersects(const CpuSet& other) const;

  CpuSet& operator&=(const CpuSet& other);
  CpuSet& operator|=(const CpuSet& other);
  // Set difference (cpumask_andnot).
  CpuSet& operator-=(const CpuSet& other);
  friend CpuSet operator&(CpuSet a, const CpuSet& b) { return a &= b; }
  friend CpuSet operator|(CpuSet a, const CpuSet& b) { return a |= b; }
  friend CpuSet operator-(CpuSet a, const CpuSet& b) { return a -= b; }
  friend bool operator==(const CpuSet&, const CpuSet&) = default;

  std::vector<unsigned> to_vector() const;

  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = unsigned;
    using difference_type = std::ptrdiff_t;
    using pointer = const unsigned*;
    using reference = unsigned;

    Iterator(const CpuSet* set, unsigned cpu) : set_(set), cpu_(cpu) {}
    unsigned operator*() const { return cpu_; }
    Iterator& operator++() {
      cpu_ = set_->next(cpu_ + 1).value_or(kMaxCpus);
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.cpu_ == b.cpu_; }

   private:
    const CpuSet* set_;
    unsigned cpu_;
  };
  Iterator begin() const { return {this, first().value_or(kMaxCpus)}; }
  Iterator end() const { return {this, kMaxCpus}; }

 private:
  static constexpr unsigned kWords = kMaxCpus / 64;
  static constexpr std::uint64_t bit(unsigned cpu) { return std::uint64_t{1} << (cpu % 64); }

  std::array<std::uint64_t, kWords> words_{};
};

// Parses the cpulist syntax of the kernel's bitmap_parselist() (lib/bitmap-str.c): "N", "A-B",
// "A-B:used/group", the keyword "all", the token "N" for nbits-1, separated by commas or
// whitespace. Leading and trailing whitespace and one trailing newline are accepted; the empty
// string is the empty set. On error nothing is returned, never a partial set.
Result<CpuSet> parse_cpulist(std::string_view text, unsigned nbits = CpuSet::kMaxCpus);

// Formats as the kernel's "%*pbl": "0-3,8-11"; the empty set is "".
std::string format_cpulist(const CpuSet& set);

// Parses the hex mask syntax of bitmap_parse(), as in /proc/irq/default_smp_affinity:
// comma-separated groups of up to 8 hex digits, least significant group last.
Result<CpuSet> parse_cpumask_hex(std::string_view text, unsigned nbits = CpuSet::kMaxCpus);

// Formats as the kernel's "%*pb" for an nbits-wide mask: "3", "ff", "00000001,00000000".
std::string format_cpumask_hex(const CpuSet& set, unsigned nbits);

}  // namespace prefcpu
