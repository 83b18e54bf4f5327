// /proc/self/mountinfo: parsed or refused naming the line, never a crash; octal escapes decode
// to mount points without a raw blank.
#include "linux/cgroup/mountinfo.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto mounts =
      prefcpu::parse_mountinfo(std::string_view(reinterpret_cast<const char*>(data), size));
  if (mounts) {
    for (const auto& mount : *mounts) FUZZ_CHECK(!mount.fstype.empty());
  }
  return 0;
}
