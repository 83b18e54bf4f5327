#include "daemon/config.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>

#include "daemon/config_schema.h"

namespace prefcpu {

namespace {

std::string where(const toml::node& node, std::string_view source) {
  const auto& begin = node.source().begin;
  return fmt::format("{}:{}", source, begin.line);
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source) {
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    return make_error("{}:{}:{}: {}", source, begin.line, begin.column, error.description());
  }
  Config config;
  for (const auto& [name, node] : table) {
    const ConfigKey* key = find_config_key(name.str());
    if (key == nullptr) {
      return make_error("{}: unknown key \"{}\": expected one of {}", where(node, source),
                        name.str(), config_key_names());
    }
    if (auto status = key->read(config, node); !status) {
      return make_error("{}: {}", where(node, source), status.error().message);
    }
  }
  return config;
}

Result<Config> load_config_file(const std::filesystem::path& path, bool required) {
  std::error_code ec;
  auto type = std::filesystem::status(path, ec).type();
  if (type == std::filesystem::file_type::not_found && !required) return Config{};
  if (type == std::filesystem::file_type::not_found) {
    return make_error("cannot read config file {}: no such file", path.string());
  }
  // A character device is allowed: `--config /dev/null` is the usual way to say "no file".
  if (type != std::filesystem::file_type::regular &&
      type != std::filesystem::file_type::character) {
    return make_error(
        "cannot read config file {}: it is not a regular file (expected a TOML file, or /dev/null "
        "for none)",
        path.string());
  }
  std::ifstream in(path);
  if (!in) {
    return make_error("cannot read config file {}: permission denied", path.string());
  }
  std::stringstream text;
  text << in.rdbuf();
  auto config = parse_config(text.str(), path.string());
  if (!config) return config.error();
  if (auto status = validate_config(*config); !status) {
    return make_error("{}: {}", path.string(), status.error().message);
  }
  return config;
}

Status validate_config(const Config& config) {
  for (const auto& key : config_schema()) {
    if (auto status = key.check(config); !status) return status;
  }
  return validate_knobs(config.knobs);  // the rule across knobs: low < high
}

std::vector<std::string> restart_only_changes(const Config& running, const Config& next) {
  std::vector<std::string> keys;
  for (const auto& key : config_schema()) {
    if (key.reload == Reload::kRestart && !key.same(running, next)) keys.emplace_back(key.name);
  }
  return keys;
}

Config keep_restart_only(Config next, const Config& running) {
  for (const auto& key : config_schema()) {
    if (key.reload == Reload::kRestart) key.copy(next, running);
  }
  return next;
}

}  // namespace prefcpu
