#include "linux/housekeeping/kthread_journal.h"

#include <utility>

#include "protocol/json_text.h"

namespace prefcpu {

namespace {

Result<std::pair<pid_t, MovedKthread>> parse_entry(const nlohmann::json& entry) {
  auto bad = [&] {
    return make_error(
        "journal section kthreads: thread {} is invalid: expected {{\"pid\": N, \"start_time\": "
        "N, \"original\": \"<cpulist>\", \"set\": \"<cpulist>\"}}",
        json_text(entry));
  };
  if (!entry.is_object()) return bad();
  auto pid = entry.find("pid");
  auto start = entry.find("start_time");
  auto original = entry.find("original");
  auto set = entry.find("set");
  if (pid == entry.end() || !pid->is_number_integer() || pid->get<std::int64_t>() <= 0 ||
      start == entry.end() || !start->is_number_integer() || start->get<std::int64_t>() < 0 ||
      original == entry.end() || !original->is_string() || set == entry.end() ||
      !set->is_string()) {
    return bad();
  }
  MovedKthread moved;
  moved.start_time = start->get<std::uint64_t>();
  moved.comm = entry.value("comm", std::string("?"));
  auto original_cpus = parse_cpulist(original->get<std::string>());
  auto set_cpus = parse_cpulist(set->get<std::string>());
  if (!original_cpus || original_cpus->empty() || !set_cpus || set_cpus->empty()) return bad();
  moved.original = *original_cpus;
  moved.set = *set_cpus;
  if (auto previous = entry.find("previous"); previous != entry.end()) {
    auto cpus = previous->is_string() ? parse_cpulist(previous->get<std::string>())
                                      : Result<CpuSet>(make_error("not a string"));
    if (!cpus) return bad();
    moved.previous = *cpus;
  }
  return std::pair{static_cast<pid_t>(pid->get<std::int64_t>()), std::move(moved)};
}

}  // namespace

nlohmann::json kthread_section(const MovedKthreads& moved) {
  nlohmann::json section = nlohmann::json::object();
  if (moved.empty()) return section;
  nlohmann::json threads = nlohmann::json::array();
  for (const auto& [pid, thread] : moved) {
    nlohmann::json entry = {{"pid", pid},
                            {"start_time", thread.start_time},
                            {"comm", thread.comm},
                            {"original", format_cpulist(thread.original)},
                            {"set", format_cpulist(thread.set)}};
    if (thread.previous) entry["previous"] = format_cpulist(*thread.previous);
    threads.push_back(std::move(entry));
  }
  section["threads"] = std::move(threads);
  return section;
}

Result<MovedKthreads> parse_kthread_section(const nlohmann::json& section) {
  MovedKthreads moved;
  if (section.is_null() || (section.is_object() && section.empty())) return moved;
  auto threads = section.is_object() ? section.find("threads") : section.end();
  if (threads == section.end() || !threads->is_array()) {
    return make_error("journal section kthreads {}: expected {{\"threads\": [...]}}",
                      json_text(section));
  }
  for (const auto& entry : *threads) {
    auto parsed = parse_entry(entry);
    if (!parsed) return parsed.error();
    moved[parsed->first] = std::move(parsed->second);
  }
  return moved;
}

}  // namespace prefcpu
