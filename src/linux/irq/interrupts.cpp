#include "linux/irq/interrupts.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace prefcpu {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

// Splits on blanks; views point into `line`.
std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    std::size_t begin = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > begin) words.push_back(line.substr(begin, i - begin));
  }
  return words;
}

template <typename T>
bool parse_number(std::string_view text, T& value) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<InterruptTable> parse_proc_interrupts(std::string_view text) {
  InterruptTable table;
  bool have_header = false;
  std::size_t line_number = 0;
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_number;
    auto words = split_words(line);
    if (words.empty()) continue;
    if (!have_header) {
      for (std::string_view word : words) {
        unsigned cpu = 0;
        if (!word.starts_with("CPU") || !parse_number(word.substr(3), cpu)) {
          return make_error(
              "invalid /proc/interrupts line {}: \"{}\": expected a header of CPU columns like "
              "\"CPU0 CPU1\"",
              line_number, line);
        }
        table.cpus.push_back(cpu);
      }
      have_header = true;
      continue;
    }
    std::string_view label = words.front();
    if (!label.ends_with(':')) {
      return make_error("invalid /proc/interrupts line {}: \"{}\": expected \"LABEL:\" first",
                        line_number, line);
    }
    unsigned irq = 0;
    if (!parse_number(label.substr(0, label.size() - 1), irq)) continue;  // named row
    std::vector<std::uint64_t> counts(table.cpus.size(), 0);
    for (std::size_t column = 0; column < counts.size() && column + 1 < words.size(); ++column) {
      // The chip name follows the counts; a row may carry fewer counts than columns.
      if (!parse_number(words[column + 1], counts[column])) break;
    }
    table.irqs[irq] = std::move(counts);
  }
  if (!have_header) return make_error("invalid /proc/interrupts: empty, expected a CPU header");
  return table;
}

InterruptDelta count_interrupts(const InterruptTable& before, const InterruptTable& after,
                                const CpuSet& preferred) {
  constexpr std::uint64_t kCounterRange = std::uint64_t{1} << 32;
  InterruptDelta delta;
  for (const auto& [irq, counts] : after.irqs) {
    auto old = before.irqs.find(irq);
    std::uint64_t on_non_preferred = 0;
    for (std::size_t column = 0; column < counts.size() && column < after.cpus.size(); ++column) {
      unsigned cpu = after.cpus[column];
      std::uint64_t previous = 0;
      if (old != before.irqs.end()) {
        auto it = std::find(before.cpus.begin(), before.cpus.end(), cpu);
        auto before_column = static_cast<std::size_t>(it - before.cpus.begin());
        if (it != before.cpus.end() && before_column < old->second.size()) {
          previous = old->second[before_column];
        }
      }
      std::uint64_t now = counts[column];
      std::uint64_t fired =
          now >= previous ? now - previous : (now + kCounterRange - previous) % kCounterRange;
      delta.total += fired;
      if (!preferred.test(cpu)) on_non_preferred += fired;
    }
    if (on_non_preferred > 0) {
      delta.non_preferred += on_non_preferred;
      delta.by_irq.emplace_back(irq, on_non_preferred);
    }
  }
  std::stable_sort(delta.by_irq.begin(), delta.by_irq.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return delta;
}

}  // namespace prefcpu
