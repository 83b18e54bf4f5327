#include "core/cpu_set.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace prefcpu {

CpuSet::CpuSet(std::initializer_list<unsigned> cpus) {
  for (unsigned cpu : cpus) set(cpu);
}

CpuSet CpuSet::range(unsigned first, unsigned last) {
  CpuSet set;
  set.set_range(first, last);
  return set;
}

void CpuSet::set_range(unsigned first, unsigned last) {
  if (first > last) return;
  last = std::min(last, kMaxCpus - 1);
  unsigned first_word = first / 64;
  unsigned last_word = last / 64;
  std::uint64_t head = ~std::uint64_t{0} << (first % 64);
  std::uint64_t tail = ~std::uint64_t{0} >> (63 - last % 64);
  if (first_word == last_word) {
    words_[first_word] |= head & tail;
    return;
  }
  words_[first_word] |= head;
  for (unsigned w = first_word + 1; w < last_word; ++w) words_[w] = ~std::uint64_t{0};
  words_[last_word] |= tail;
}

unsigned CpuSet::count() const {
  unsigned total = 0;
  for (std::uint64_t w : words_) total += static_cast<unsigned>(std::popcount(w));
  return total;
}

bool CpuSet::empty() const {
  return std::all_of(words_.begin(), words_.end(), [](std::uint64_t w) { return w == 0; });
}

std::optional<unsigned> CpuSet::last() const {
  for (unsigned w = kWords; w-- > 0;) {
    if (words_[w] != 0) return w * 64 + 63 - static_cast<unsigned>(std::countl_zero(words_[w]));
  }
  return std::nullopt;
}

std::optional<unsigned> CpuSet::next(unsigned from) const {
  if (from >= kMaxCpus) return std::nullopt;
  unsigned w = from / 64;
  std::uint64_t word = words_[w] & (~std::uint64_t{0} << (from % 64));
  while (true) {
    if (word != 0) return w * 64 + static_cast<unsigned>(std::countr_zero(word));
    if (++w == kWords) return std::nullopt;
    word = words_[w];
  }
}

bool CpuSet::is_subset_of(const CpuSet& other) const {
  for (unsigned w = 0; w < kWords; ++w) {
    if ((words_[w] & ~other.words_[w]) != 0) return false;
  }
  return true;
}

bool CpuSet::intersects(const CpuSet& other) const {
  for (unsigned w = 0; w < kWords; ++w) {
    if ((words_[w] & other.words_[w]) != 0) return true;
  }
  return false;
}

CpuSet& CpuSet::operator&=(const CpuSet& other) {
  for (unsigned w = 0; w < kWords; ++w) words_[w] &= other.words_[w];
  return *this;
}

CpuSet& CpuSet::operator|=(const CpuSet& other) {
  for (unsigned w = 0; w < kWords; ++w) words_[w] |= other.words_[w];
  return *this;
}

CpuSet& CpuSet::operator-=(const CpuSet& other) {
  for (unsigned w = 0; w < kWords; ++w) words_[w] &= ~other.words_[w];
  return *this;
}

std::vector<unsigned> CpuSet::to_vector() const {
  std::vector<unsigned> cpus;
  cpus.reserve(count());
  for (unsigned cpu : *this) cpus.push_back(cpu);
  return cpus;
}

namespace {

// The kernel's isspace() plus ',' separate regions (lib/bitmap-str.c __end_of_region).
bool is_separator(char c) {
  return c == ',' || std::isspace(static_cast<unsigned char>(c)) != 0;
}

// Cuts the text at its first newline, which the kernel treats as the end of the string, and
// refuses anything but whitespace after it so that "0\n5" cannot quietly mean {0}.
Result<std::string_view> cut_at_newline(std::string_view text, std::string_view what) {
  std::size_t newline = text.find('\n');
  if (newline == std::string_view::npos) return text;
  for (std::size_t i = newline + 1; i < text.size(); ++i) {
    if (std::isspace(static_cast<unsigned char>(text[i])) == 0) {
      return make_error("invalid {} \"{}\" at column {}: expected nothing after the newline", what,
                        text, i + 1);
    }
  }
  return text.substr(0, newline);
}

class CpulistParser {
 public:
  CpulistParser(std::string_view full, std::string_view body, unsigned nbits)
      : full_(full), body_(body), nbits_(nbits) {}

  Result<CpuSet> parse() {
    CpuSet set;
    while (true) {
      while (pos_ < body_.size() && is_separator(body_[pos_])) ++pos_;
      if (pos_ == body_.size()) return set;
      std::size_t region_start = pos_;
      auto region = parse_region();
      if (!region) return region.error();
      auto [start, end, used, group] = *region;
      if (start > end) {
        return fail(region_start, fmt::format("a range whose start is not above its end, as in "
                                              "{}-{} (start {} is above end {})",
                                              end, start, start, end));
      }
      if (group == 0) return fail(region_start, "a group size of at least 1");
      if (used > group) return fail(region_start, "a used size no larger than the group size");
      if (end >= nbits_) {
        return make_error("invalid cpulist \"{}\" at column {}: CPU {} is out of range 0-{}", full_,
                          region_start + 1, end, nbits_ - 1);
      }
      for (unsigned first = start; first <= end; first += group) {
        if (used == 0) break;
        set.set_range(first, std::min(end, first + used - 1));
        if (end - first < group) break;  // next group would start past end, avoid overflow
      }
    }
  }

 private:
  struct Region {
    unsigned start, end, used, group;
  };

  Error fail(std::size_t column_index, std::string_view expected) const {
    return make_error("invalid cpulist \"{}\" at column {}: expected {}", full_, column_index + 1,
                      expected);
  }

  bool at_region_end() const { return pos_ == body_.size() || is_separator(body_[pos_]); }

  Result<unsigned> number() {
    if (pos_ < body_.size() && body_[pos_] == 'N') {
      ++pos_;
      return nbits_ - 1;
    }
    unsigned value = 0;
    const char* begin = body_.data() + pos_;
    auto [ptr, ec] = std::from_chars(begin, body_.data() + body_.size(), value);
    if (ec == std::errc::result_out_of_range) {
      return make_error("invalid cpulist \"{}\" at column {}: number too large", full_, pos_ + 1);
    }
    if (ec != std::errc{} || ptr == begin) return fail(pos_, "a CPU number");
    pos_ += static_cast<std::size_t>(ptr - begin);
    return value;
  }

  Result<Region> parse_region() {
    Region r{};
    std::string_view rest = body_.substr(pos_);
    bool all = rest.size() >= 3 && std::tolower(static_cast<unsigned char>(rest[0])) == 'a' &&
               std::tolower(static_cast<unsigned char>(rest[1])) == 'l' &&
               std::tolower(static_cast<unsigned char>(rest[2])) == 'l';
    if (all) {
      pos_ += 3;
      r.start = 0;
      r.end = nbits_ - 1;
    } else {
      auto start = number();
      if (!start) return start.error();
      r.start = r.end = *start;
      if (!at_region_end()) {
        if (body_[pos_] != '-' && body_[pos_] != ':') return fail(pos_, "',', '-' or end");
        if (body_[pos_] == ':') return fail(pos_, "'-' before a ':used/group' suffix");
        ++pos_;
        auto end = number();
        if (!end) return end.error();
        r.end = *end;
      }
    }
    r.used = r.group = r.end + 1;
    if (at_region_end()) return r;
    if (body_[pos_] != ':') return fail(pos_, "',', ':' or end");
    ++pos_;
    auto used = number();
    if (!used) return used.error();
    if (pos_ == body_.size() || body_[pos_] != '/') return fail(pos_, "'/'");
    ++pos_;
    auto group = number();
    if (!group) return group.error();
    if (!at_region_end()) return fail(pos_, "',' or end");
    r.used = *used;
    r.group = *group;
    return r;
  }

  std::string_view full_;
  std::string_view body_;
  unsigned nbits_;
  std::size_t pos_ = 0;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<CpuSet> parse_cpulist(std::string_view text, unsigned nbits) {
  if (nbits == 0 || nbits > CpuSet::kMaxCpus) nbits = CpuSet::kMaxCpus;
  auto body = cut_at_newline(text, "cpulist");
  if (!body) return body.error();
  return CpulistParser(text, *body, nbits).parse();
}

std::string format_cpulist(const CpuSet& set) {
  std::string out;
  char digits[16];
  auto append = [&](unsigned value) {
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
    out.append(digits, end);
  };
  auto cpu = set.first();
  while (cpu) {
    unsigned run_start = *cpu;
    unsigned run_end = run_start;
    while (set.test(run_end + 1)) ++run_end;
    if (!out.empty()) out += ',';
    append(run_start);
    if (run_end != run_start) {
      out += '-';
      append(run_end);
    }
    cpu = set.next(run_end + 1);
  }
  return out;
}

Result<CpuSet> parse_cpumask_hex(std::string_view text, unsigned nbits) {
  if (nbits == 0 || nbits > CpuSet::kMaxCpus) nbits = CpuSet::kMaxCpus;
  auto body = cut_at_newline(text, "CPU mask");
  if (!body) return body.error();
  // Groups of 32 bits, most significant first (lib/bitmap-str.c bitmap_parse).
  struct Group {
    std::size_t begin, end;
  };
  std::vector<Group> groups;
  for (std::size_t i = 0; i < body->size();) {
    if (is_separator((*body)[i])) {
      ++i;
      continue;
    }
    std::size_t begin = i;
    while (i < body->size() && !is_separator((*body)[i])) {
      if (hex_value((*body)[i]) < 0) {
        return make_error("invalid CPU mask \"{}\" at column {}: expected a hex digit or ','", text,
                          i + 1);
      }
      ++i;
    }
    if (i - begin > 8) {
      return make_error("invalid CPU mask \"{}\" at column {}: a group holds at most 8 hex digits",
                        text, begin + 1);
    }
    groups.push_back({begin, i});
  }
  CpuSet set;
  unsigned base = 0;
  for (auto g = groups.rbegin(); g != groups.rend(); ++g, base += 32) {
    for (std::size_t i = g->end; i-- > g->begin;) {
      auto nibble = static_cast<unsigned>(hex_value((*body)[i]));
      unsigned bit_base = base + 4 * static_cast<unsigned>(g->end - 1 - i);
      for (unsigned b = 0; b < 4; ++b) {
        if ((nibble & (1U << b)) == 0) continue;
        if (bit_base + b >= nbits) {
          return make_error("invalid CPU mask \"{}\": CPU {} is out of range 0-{}", text,
                            bit_base + b, nbits - 1);
        }
        set.set(bit_base + b);
      }
    }
  }
  return set;
}

std::string format_cpumask_hex(const CpuSet& set, unsigned nbits) {
  if (nbits == 0 || nbits > CpuSet::kMaxCpus) nbits = CpuSet::kMaxCpus;
  // lib/vsprintf.c bitmap_string(): the top group is as wide as its bits need, the rest 8 digits.
  unsigned top_bits = nbits % 32 == 0 ? 32 : nbits % 32;
  std::string out;
  for (int base = static_cast<int>((nbits + 31) / 32 * 32) - 32; base >= 0; base -= 32) {
    std::uint32_t value = 0;
    for (unsigned b = 0; b < 32; ++b) {
      if (set.test(static_cast<unsigned>(base) + b)) value |= 1U << b;
    }
    bool top = out.empty();
    if (!top) out += ',';
    unsigned width = top ? (top_bits + 3) / 4 : 8;
    if (top && top_bits < 32) value &= (1U << top_bits) - 1;
    out += fmt::format("{:0{}x}", value, width);
  }
  return out;
}

}  // namespace prefcpu
