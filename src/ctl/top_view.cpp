#include "ctl/top_view.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/cpu_set.h"
#include "ctl/status_view.h"

namespace prefcpu {

namespace {

constexpr std::size_t kLabel = 11;  // "preferred  "
constexpr const char* kBlocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kDim = "\x1b[2m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kReset = "\x1b[0m";

const nlohmann::json& get(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::optional<std::uint64_t> steal_of(const nlohmann::json& value) {
  if (!value.is_number_unsigned() && !value.is_number_integer()) return std::nullopt;
  if (value.is_number_integer() && value.get<std::int64_t>() < 0) return std::nullopt;
  return value.get<std::uint64_t>();
}

std::string percent(std::optional<std::uint64_t> bp) {
  if (!bp) return "-";
  return fmt::format("{}.{:02} %", *bp / 100, *bp % 100);
}

CpuSet cpus_of(const nlohmann::json& value) {
  if (!value.is_string()) return {};
  auto parsed = parse_cpulist(value.get<std::string>());
  return parsed ? *parsed : CpuSet{};
}

// Two lines per row of CPUs: their numbers, and a mark under each: ■ preferred, · online but not
// preferred, blank offline. Rows wrap at the terminal's width.
std::string cpu_rows(const CpuSet& preferred, const CpuSet& online, const TopOptions& options) {
  auto last = (online | preferred).last();
  if (!last) return "CPUs       -\n";
  std::size_t cell = std::to_string(*last).size() + 1;
  auto per_row = static_cast<unsigned>(
      std::max<std::size_t>(1, (std::max(options.width, kLabel + cell) - kLabel) / cell));
  std::string out;
  for (unsigned first = 0; first <= *last; first += per_row) {
    std::string numbers = fmt::format("{:<{}}", first == 0 ? "CPU" : "", kLabel);
    std::string marks = fmt::format("{:<{}}", first == 0 ? "preferred" : "", kLabel);
    for (unsigned cpu = first; cpu <= *last && cpu < first + per_row; ++cpu) {
      numbers += fmt::format("{:>{}}", cpu, cell);
      const char* mark = preferred.test(cpu) ? "■" : online.test(cpu) ? "·" : " ";
      const char* colour = preferred.test(cpu) ? kGreen : kDim;
      marks += std::string(cell - 1, ' ');
      marks += options.color ? std::string(colour) + mark + kReset : std::string(mark);
    }
    while (!marks.empty() && marks.back() == ' ')
      marks.pop_back();  // offline CPUs at the end leave no blanks
    out.append(numbers).append("\n").append(marks).append("\n");
  }
  return out;
}

// A decision that did something: the mask changed, or the user or an error stepped in. A shrink
// at the protected core or a grow at the full mask changes nothing and is left out.
bool is_decision(const nlohmann::json& entry, const nlohmann::json* previous) {
  std::string action = text(get(entry, "action"));
  if (action == "baseline" || action == "manual" || action == "auto" || action == "error") {
    return true;
  }
  return previous != nullptr && get(*previous, "preferred") != get(entry, "preferred");
}

}  // namespace

std::string sparkline(const std::vector<std::optional<std::uint64_t>>& steal_bp,
                      std::uint64_t max_bp) {
  std::string out;
  max_bp = std::max<std::uint64_t>(max_bp, 1);
  for (const auto& value : steal_bp) {
    if (!value) {
      out += " ";
      continue;
    }
    std::uint64_t level = (std::min(*value, max_bp) * 7 + max_bp / 2) / max_bp;
    out += kBlocks[level];
  }
  return out;
}

std::string render_top(const nlohmann::json& status, const nlohmann::json& history,
                       const TopOptions& options) {
  const auto& knobs = get(status, "knobs");
  auto high = steal_of(get(knobs, "high_threshold"));
  auto low = steal_of(get(knobs, "low_threshold"));
  std::string out = fmt::format(
      "{}prefcpu top{}  mode {}, governor {}, interval_ms {}, {}\n", options.color ? kBold : "",
      options.color ? kReset : "", text(get(status, "mode")), text(get(status, "governor")),
      text(get(knobs, "interval_ms")),
      get(status, "automatic") == false ? "custom mask " + text(get(status, "custom_preferred"))
                                        : std::string("automatic"));

  CpuSet preferred = cpus_of(get(status, "preferred"));
  CpuSet online = cpus_of(get(status, "online"));
  out += cpu_rows(preferred, online, options);
  out += fmt::format("{:<{}}{} of {} online CPUs preferred ({})\n", "", kLabel, preferred.count(),
                     online.count(), text(get(status, "preferred")));

  const auto& entries = get(history, "history");
  std::vector<std::optional<std::uint64_t>> steal;
  if (entries.is_array()) {
    for (const auto& entry : entries) steal.push_back(steal_of(get(entry, "steal_bp")));
  }
  std::size_t columns = options.width > kLabel ? options.width - kLabel : 1;
  if (steal.size() > columns) steal.erase(steal.begin(), steal.end() - static_cast<long>(columns));
  std::uint64_t max_bp = high.value_or(1);
  for (const auto& value : steal) max_bp = std::max(max_bp, value.value_or(0));
  out += fmt::format("{:<{}}{}\n", "steal", kLabel, sparkline(steal, max_bp));
  out += fmt::format("{:<{}}now {}, top of scale {} (high_threshold {}, low_threshold {})\n", "",
                     kLabel, percent(steal_of(get(status, "steal_bp"))), percent(max_bp),
                     percent(high), percent(low));

  out += "\nlast decisions\n     age_s  action    steal      preferred\n";
  std::vector<std::string> lines;
  auto now = get(history, "monotonic_ns");
  if (entries.is_array()) {
    for (std::size_t i = entries.size(); i-- > 0 && lines.size() < options.decisions;) {
      const auto& entry = entries[i];
      if (!is_decision(entry, i > 0 ? &entries[i - 1] : nullptr)) continue;
      const auto& at = get(entry, "monotonic_ns");
      // Integers only, subtracted as doubles: a float or an extreme value in a hand-edited file
      // must not overflow.
      double age = now.is_number_integer() && at.is_number_integer()
                       ? (static_cast<double>(now.get<std::int64_t>()) -
                          static_cast<double>(at.get<std::int64_t>())) /
                             1e9
                       : 0.0;
      lines.push_back(fmt::format("{:10.1f}  {:<8}  {:<9}  {}\n", -age, text(get(entry, "action")),
                                  percent(steal_of(get(entry, "steal_bp"))),
                                  text(get(entry, "preferred"))));
    }
  }
  if (lines.empty()) lines.emplace_back("         -  none in the history kept\n");
  for (const auto& line : lines) out += line;
  return out;
}

}  // namespace prefcpu
