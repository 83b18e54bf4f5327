// /proc/interrupts: parsed or refused, never a crash.
#include "linux/irq/interrupts.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)prefcpu::parse_proc_interrupts(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
