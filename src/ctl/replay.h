// `prefcpuctl replay`: run the steal monitor over a recorded trace, one JSON line per record.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>

#include "core/knobs.h"
#include "core/result.h"
#include "core/topology.h"
#include "ctl/trace.h"

namespace prefcpu {

struct ReplayOptions {
  std::string governor = "kernel";
  Knobs knobs;
  std::uint64_t user_hz = 0;  // 0: the trace's "user_hz" header, else sysconf(_SC_CLK_TCK)
};

// The topology a trace carries in its "cores", "nohz_full", "isolated" and "nodes" headers.
Result<std::optional<Topology>> topology_from_trace_headers(const Trace& trace);

// Writes one JSON object per record. On a bad record, returns an error naming its line; lines
// already written stay written.
Status replay_trace(const Trace& trace, const Topology& topology, const ReplayOptions& options,
                    std::ostream& out);

}  // namespace prefcpu
