// The trace format of prefcpuctl record/replay: read or refused with an error naming the line;
// records come out in the order of their timestamps' lines.
#include "ctl/trace.h"

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  auto trace = prefcpu::read_trace(in);
  if (trace) {
    for (std::size_t i = 1; i < trace->records.size(); ++i) {
      FUZZ_CHECK(trace->records[i - 1].line < trace->records[i].line);
    }
  }
  return 0;
}
