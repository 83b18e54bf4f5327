// /proc/stat: any text is parsed or refused with an error, never a crash; a parsed sample has a
// CPU set within the supported range.
#include "core/proc_stat.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto stat = prefcpu::parse_proc_stat(text);
  if (stat) FUZZ_CHECK(!stat->online.empty());
  if (!stat) FUZZ_CHECK(!stat.error().message.empty());
  return 0;
}
