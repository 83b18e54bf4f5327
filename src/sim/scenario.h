// Scenarios as TOML (toml++): the built-ins under scenarios/ are compiled in; any other file can
// be given by path. The whole file is checked before anything runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "sim/params.h"

namespace prefcpu::sim {

struct BuiltinScenario {
  std::string_view name;
  std::string_view text;
};

// The TOML files of scenarios/, embedded at build time; sorted by name.
const std::vector<BuiltinScenario>& builtin_scenarios();

// `source` names the text in error messages (a path or "built-in NAME").
Result<Scenario> parse_scenario(std::string_view text, std::string_view source);

// A built-in name, else a path to a TOML file.
Result<Scenario> load_scenario(std::string_view name_or_path);

}  // namespace prefcpu::sim
