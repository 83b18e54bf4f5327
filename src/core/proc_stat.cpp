#include "core/proc_stat.h"

#include <charconv>
#include <cstring>

namespace prefcpu {

namespace {

// user, nice, system, idle: the four fields every kernel since 2.4 prints.
constexpr unsigned kMinimumFields = 4;

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

// Parses the numeric fields after the label; stores the first CpuTimes::kFields of them.
Result<CpuTimes> parse_times(std::string_view fields, std::string_view label, unsigned line_no) {
  CpuTimes times;
  std::size_t pos = 0;
  unsigned index = 0;
  while (true) {
    while (pos < fields.size() && is_blank(fields[pos])) ++pos;
    if (pos == fields.size()) break;
    std::uint64_t value = 0;
    const char* begin = fields.data() + pos;
    auto [ptr, ec] = std::from_chars(begin, fields.data() + fields.size(), value);
    if (ec != std::errc{} || (ptr != fields.data() + fields.size() && !is_blank(*ptr))) {
      std::size_t end = pos;
      while (end < fields.size() && !is_blank(fields[end])) ++end;
      return make_error(
          "malformed /proc/stat line {} (\"{}\"): field {} is \"{}\", expected a decimal number",
          line_no, label, index + 1, fields.substr(pos, end - pos));
    }
    if (index < CpuTimes::kFields) times.ticks[index] = value;
    ++index;
    pos = static_cast<std::size_t>(ptr - fields.data());
  }
  if (index < kMinimumFields) {
    return make_error(
        "malformed /proc/stat line {} (\"{}\"): {} fields, expected at least {} (user nice system "
        "idle)",
        line_no, label, index, kMinimumFields);
  }
  times.fields_present = index < CpuTimes::kFields ? index : CpuTimes::kFields;
  return times;
}

// 16 bytes at a time with GCC/Clang vector extensions (portable across architectures): per-CPU
// lines are most of /proc/stat, and checking them byte by byte cost more than the 50 us budget.
using Bytes16 = unsigned char __attribute__((vector_size(16)));

Bytes16 load16(const char* p) {
  Bytes16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// True when fields holds at least kMinimumFields numbers and nothing but digits and blanks.
bool is_numeric_fields(std::string_view fields) {
  const char* p = fields.data();
  const std::size_t n = fields.size();
  if (n < 2 || is_blank(p[0]) == false) return false;  // a label is always followed by a blank
  Bytes16 bad{};
  Bytes16 starts{};  // per-lane count of digits that follow a blank, as 0 - (count)
  std::size_t i = 1;
  for (; i + 16 <= n; i += 16) {
    Bytes16 v = load16(p + i);
    Bytes16 before = load16(p + i - 1);
    Bytes16 digit = (v - '0') <= 9;
    Bytes16 blank = (v == ' ') | (v == '\t');
    Bytes16 blank_before = (before == ' ') | (before == '\t');
    bad |= ~(digit | blank);
    starts += digit & blank_before;  // each true lane is 0xff, i.e. -1
  }
  // Horizontal sums without a lane loop: a byte-wise sum is the top byte of x * 0x0101...01
  // (exact while a line has fewer than 256 numbers; more means garbage, and the slow path says so).
  std::uint64_t counts[2];
  std::uint64_t flags[2];
  Bytes16 negated = -starts;
  std::memcpy(counts, &negated, sizeof counts);
  std::memcpy(flags, &bad, sizeof flags);
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  auto numbers = static_cast<unsigned>((counts[0] * kOnes) >> 56) +
                 static_cast<unsigned>((counts[1] * kOnes) >> 56);
  unsigned any_bad = static_cast<unsigned>((flags[0] | flags[1]) != 0);
  for (; i < n; ++i) {
    bool digit = static_cast<unsigned char>(p[i] - '0') <= 9;
    any_bad |= static_cast<unsigned>(!digit && !is_blank(p[i]));
    numbers += static_cast<unsigned>(digit && is_blank(p[i - 1]));
  }
  return any_bad == 0 && numbers >= kMinimumFields;
}

}  // namespace

Result<ProcStat> parse_proc_stat(std::string_view text) {
  ProcStat stat;
  bool have_total = false;
  unsigned line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);  // memchr underneath
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (line.size() < 3 || line.compare(0, 3, "cpu") != 0) continue;
    std::size_t label_end = 3;
    while (label_end < line.size() && !is_blank(line[label_end])) ++label_end;
    std::string_view label = line.substr(0, label_end);
    std::string_view fields = line.substr(label_end);
    if (label.size() == 3) {
      if (have_total)
        return make_error("malformed /proc/stat line {}: a second \"cpu\" line", line_no);
      auto times = parse_times(fields, label, line_no);
      if (!times) return times.error();
      stat.total = *times;
      have_total = true;
      continue;
    }
    unsigned cpu = 0;
    auto [ptr, ec] = std::from_chars(label.data() + 3, label.data() + label.size(), cpu);
    if (ec != std::errc{} || ptr != label.data() + label.size()) {
      return make_error("malformed /proc/stat line {}: label \"{}\", expected \"cpu\" or \"cpuN\"",
                        line_no, label);
    }
    if (cpu >= CpuSet::kMaxCpus) {
      return make_error("malformed /proc/stat line {}: CPU {} is beyond the supported 0-{}",
                        line_no, cpu, CpuSet::kMaxCpus - 1);
    }
    if (stat.online.test(cpu)) {
      return make_error("malformed /proc/stat line {}: \"{}\" appears twice", line_no, label);
    }
    // Per-CPU values are not needed, only checked: a cheap scan keeps 1024 CPUs well under 50 us.
    if (!is_numeric_fields(fields)) {
      auto times = parse_times(fields, label, line_no);  // for its precise error message
      if (!times) return times.error();
    }
    stat.online.set(cpu);
  }
  if (!have_total) return make_error("malformed /proc/stat: no aggregate \"cpu\" line");
  if (stat.online.empty()) return make_error("malformed /proc/stat: no \"cpuN\" lines");
  return stat;
}

}  // namespace prefcpu
