// /proc/PID/stat (a comm of up to 16 bytes may hold blanks and parentheses), /proc/PID/status and
// a cgroup's task list: parsed or refused, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "linux/cgroup/task_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto stat = prefcpu::parse_pid_stat(text)) FUZZ_CHECK(stat->pid >= 0);
  (void)prefcpu::parse_pid_status(text);
  (void)prefcpu::parse_task_list(text);
  return 0;
}
