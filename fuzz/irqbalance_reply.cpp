// irqbalance's reply to "setup" (its socket is another process: untrusted input): parsed or
// refused, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "linux/irq/irqbalance_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view reply(reinterpret_cast<const char*>(data), size);
  auto setup = prefcpu::parse_irqbalance_setup(reply);
  if (setup) {
    auto command = prefcpu::irqbalance_cpus_command(setup->banned);
    FUZZ_CHECK(!command.empty());
  }
  return 0;
}
