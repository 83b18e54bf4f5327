#include "core/proc_stat.h"

#include <charconv>

namespace prefcpu {

namespace {

// user, nice, system, idle: the four fields every kernel since 2.4 prints.
constexpr unsigned kMinimumFields = 4;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

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

}  // namespace

Result<ProcStat> parse_proc_stat(std::string_view text) {
  ProcStat stat;
  bool have_total = false;
  unsigned line_no = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
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
      if (have_total) return make_error("malformed /proc/stat line {}: a second \"cpu\" line", line_no);
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
    auto times = parse_times(fields, label, line_no);
    if (!times) return times.error();
    stat.online.set(cpu);
  }
  if (!have_total) return make_error("malformed /proc/stat: no aggregate \"cpu\" line");
  if (stat.online.empty()) return make_error("malformed /proc/stat: no \"cpuN\" lines");
  return stat;
}

}  // namespace prefcpu
