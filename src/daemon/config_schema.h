// The one declaration of every config key: its TOML type, the values it accepts, its default
// (read from Config{}), and whether a SIGHUP reload changes it. Parsing, validation, the
// restart-only list, and the checks of packaging/prefcpud.toml and the man page's key table
// (tests/daemon/config_schema_test.cpp) all come from here. Adding a key is one line in
// config_schema.cpp, plus its field in Config.
#pragma once

#include <toml++/toml.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config.h"

namespace prefcpu {

enum class Reload { kLive, kRestart };

struct ConfigKey {
  std::string_view name;
  std::string_view type;  // as the man page says it: "integer", "string", ...
  std::string accepted;   // "100..100000", "true or false", ...
  Reload reload = Reload::kLive;
  // TOML value -> config; a wrong type or an out-of-range number is an error naming the key.
  std::function<Status(Config&, const toml::node&)> read;
  // The value's own rule (range, name); rules across keys are validate_config's.
  std::function<Status(const Config&)> check;
  // The value as TOML text, as in `key = <text>`.
  std::function<std::string(const Config&)> toml_text;
  std::function<bool(const Config&, const Config&)> same;
  std::function<void(Config& to, const Config& from)> copy;
};

const std::vector<ConfigKey>& config_schema();
const ConfigKey* find_config_key(std::string_view name);
// "governor, interval_ms, ..." for errors.
std::string config_key_names();

// The man page's key table (tbl rows, tab-separated: key, type, values, default, reload).
std::string config_man_table();

}  // namespace prefcpu
