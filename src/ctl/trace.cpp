#include "ctl/trace.h"

#include <charconv>

namespace prefcpu {

Result<Trace> read_trace(std::istream& in) {
  Trace trace;
  std::string line;
  unsigned line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] == '#') {
      // "# key: value" before the first record is metadata; everything else is a comment.
      std::size_t colon = line.find(':');
      if (trace.records.empty() && colon != std::string::npos) {
        std::size_t key_begin = line.find_first_not_of(" \t", 1);
        std::string key = line.substr(key_begin, colon - key_begin);
        if (!key.empty() && key.find(' ') == std::string::npos) {
          std::size_t value_begin = line.find_first_not_of(" \t", colon + 1);
          trace.headers[key] = value_begin == std::string::npos ? "" : line.substr(value_begin);
        }
      }
      continue;
    }
    if (!line.empty() && line[0] == '@') {
      std::size_t begin = line.find_first_not_of(" \t", 1);
      std::int64_t ns = 0;
      const char* first =
          begin == std::string::npos ? line.data() + line.size() : line.data() + begin;
      auto [ptr, ec] = std::from_chars(first, line.data() + line.size(), ns);
      if (ec != std::errc{} || ptr == first ||
          line.find_first_not_of(" \t", static_cast<std::size_t>(ptr - line.data())) !=
              std::string::npos) {
        return make_error("trace line {}: \"{}\", expected \"@ <monotonic_ns>\"", line_no, line);
      }
      if (!trace.records.empty() && ns < trace.records.back().monotonic_ns) {
        return make_error("trace line {}: time {} goes back from {}, expected a monotonic clock",
                          line_no, ns, trace.records.back().monotonic_ns);
      }
      trace.records.push_back({ns, line_no, {}});
      continue;
    }
    if (trace.records.empty()) {
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      return make_error("trace line {}: \"{}\" before the first \"@ <monotonic_ns>\" line", line_no,
                        line);
    }
    trace.records.back().proc_stat += line;
    trace.records.back().proc_stat += '\n';
  }
  if (trace.records.empty())
    return make_error("trace has no records: expected \"@ <monotonic_ns>\" lines");
  return trace;
}

std::string trace_record_text(std::int64_t monotonic_ns, std::string_view proc_stat) {
  std::string text = "@ " + std::to_string(monotonic_ns) + "\n";
  text += proc_stat;
  if (!proc_stat.empty() && proc_stat.back() != '\n') text += '\n';
  return text;
}

}  // namespace prefcpu
