// The trace format of `prefcpuctl record` and `prefcpuctl replay`:
//   # comment lines (the recorder writes "# key: value" headers, see docs/replay.md)
//   @ <monotonic_ns>
//   <verbatim /proc/stat content>
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace prefcpu {

struct TraceRecord {
  std::int64_t monotonic_ns = 0;
  unsigned line = 0;  // line number of the "@" line, for errors
  std::string proc_stat;
};

struct Trace {
  std::map<std::string, std::string> headers;  // "# key: value" comments before the first record
  std::vector<TraceRecord> records;
};

Result<Trace> read_trace(std::istream& in);

std::string trace_record_text(std::int64_t monotonic_ns, std::string_view proc_stat);

}  // namespace prefcpu
