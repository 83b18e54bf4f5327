// prefcpud.toml: any text is a config or an error naming the key, never a crash; a config that
// parses and validates has every key within its schema, and cgroup names that stay below the root.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "daemon/config_schema.h"
#include "fuzz_check.h"
#include "linux/cgroup/cgroup_name.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = prefcpu::parse_config(text, "fuzz.toml");
  if (!config) return 0;
  if (prefcpu::validate_config(*config)) {
    for (const auto& key : prefcpu::config_schema()) FUZZ_CHECK(key.check(*config).ok());
    for (const auto& name : config->cgroups) {
      FUZZ_CHECK(!name.empty() && name.front() != '/' && name.find('\0') == std::string::npos);
      FUZZ_CHECK(prefcpu::is_utf8(name));
    }
  }
  (void)prefcpu::check_cgroup_name(text);
  return 0;
}
