#include "daemon/config.h"

#include <toml++/toml.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/governor.h"

namespace prefcpu {

namespace {

constexpr std::string_view kKeys =
    "governor, interval_ms, high_threshold, low_threshold, cgroups, cgroup_root, shield, "
    "dry_run, backend, irq_mode, irq_root, history_size, verbose";

std::string where(const toml::node& node, std::string_view source) {
  const auto& begin = node.source().begin;
  return fmt::format("{}:{}", source, begin.line);
}

Result<std::string> get_string(const toml::node& node, std::string_view key,
                               std::string_view source) {
  if (const auto* value = node.as_string()) return std::string(value->get());
  return make_error("{}: {} must be a string, as in {} = \"...\"", where(node, source), key, key);
}

Result<bool> get_bool(const toml::node& node, std::string_view key, std::string_view source) {
  if (const auto* value = node.as_boolean()) return value->get();
  return make_error("{}: {} must be true or false", where(node, source), key);
}

Result<std::uint64_t> get_unsigned(const toml::node& node, std::string_view key,
                                   std::string_view source, std::uint64_t max) {
  const auto* value = node.as_integer();
  if (value == nullptr) {
    return make_error("{}: {} must be an integer", where(node, source), key);
  }
  std::int64_t number = value->get();
  if (number < 0 || static_cast<std::uint64_t>(number) > max) {
    return make_error("{}: {} = {} is out of range: expected 0..{}", where(node, source), key,
                      number, max);
  }
  return static_cast<std::uint64_t>(number);
}

Status set_key(Config& config, std::string_view key, const toml::node& node,
               std::string_view source) {
  constexpr std::uint64_t kU32 = std::numeric_limits<std::uint32_t>::max();
  auto u32 = [&](std::uint32_t& field) -> Status {
    auto value = get_unsigned(node, key, source, kU32);
    if (!value) return value.error();
    field = static_cast<std::uint32_t>(*value);
    return {};
  };
  auto text = [&](std::string& field) -> Status {
    auto value = get_string(node, key, source);
    if (!value) return value.error();
    field = *value;
    return {};
  };
  auto flag = [&](bool& field) -> Status {
    auto value = get_bool(node, key, source);
    if (!value) return value.error();
    field = *value;
    return {};
  };
  if (key == "governor") return text(config.governor);
  if (key == "interval_ms") return u32(config.knobs.interval_ms);
  if (key == "high_threshold") return u32(config.knobs.high_threshold);
  if (key == "low_threshold") return u32(config.knobs.low_threshold);
  if (key == "cgroup_root") return text(config.cgroup_root);
  if (key == "irq_root") return text(config.irq_root);
  if (key == "shield") return flag(config.shield);
  if (key == "dry_run") return flag(config.dry_run);
  if (key == "verbose") return flag(config.verbose);
  if (key == "history_size") {
    auto value = get_unsigned(node, key, source, kMaxHistorySize);
    if (!value) return value.error();
    config.history_size = static_cast<std::size_t>(*value);
    return {};
  }
  if (key == "backend") {
    std::string name;
    if (auto status = text(name); !status) return status;
    auto parsed = parse_backend(name);
    if (!parsed) return make_error("{}: {}", where(node, source), parsed.error().message);
    config.backend = *parsed;
    return {};
  }
  if (key == "irq_mode") {
    std::string mode;
    if (auto status = text(mode); !status) return status;
    auto parsed = parse_irq_mode(mode);
    if (!parsed) return make_error("{}: {}", where(node, source), parsed.error().message);
    config.irq_mode = *parsed;
    return {};
  }
  if (key == "cgroups") {
    const auto* array = node.as_array();
    if (array == nullptr) {
      return make_error(
          "{}: cgroups must be an array of strings, as in cgroups = "
          "[\"system.slice\"]",
          where(node, source));
    }
    config.cgroups.clear();
    for (const auto& element : *array) {
      auto name = get_string(element, "each cgroups entry", source);
      if (!name) return name.error();
      config.cgroups.push_back(*name);
    }
    return {};
  }
  return make_error("{}: unknown key \"{}\": expected one of {}", where(node, source), key, kKeys);
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
  for (const auto& [key, node] : table) {
    if (auto status = set_key(config, key.str(), node, source); !status) return status.error();
  }
  return config;
}

Result<Config> load_config_file(const std::filesystem::path& path, bool required) {
  std::ifstream in(path);
  if (!in) {
    if (!required && !std::filesystem::exists(path)) return Config{};
    return make_error(
        "cannot read config file {}: {}", path.string(),
        std::filesystem::exists(path) ? "permission denied or not a file" : "no such file");
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
  if (auto status = validate_knobs(config.knobs); !status) return status;
  if (auto governor = make_governor(config.governor); !governor) return governor.error();
  if (config.history_size == 0 || config.history_size > kMaxHistorySize) {
    return make_error("history_size {} is out of range: expected 1..{}", config.history_size,
                      kMaxHistorySize);
  }
  for (const auto& name : config.cgroups) {
    if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos) {
      return make_error(
          "cgroup \"{}\" is invalid: expected a path relative to the cpuset root, "
          "such as \"system.slice\"",
          name);
    }
  }
  return {};
}

std::vector<std::string> restart_only_changes(const Config& running, const Config& next) {
  std::vector<std::string> keys;
  if (running.cgroups != next.cgroups) keys.emplace_back("cgroups");
  if (running.cgroup_root != next.cgroup_root) keys.emplace_back("cgroup_root");
  if (running.shield != next.shield) keys.emplace_back("shield");
  if (running.dry_run != next.dry_run) keys.emplace_back("dry_run");
  if (running.backend != next.backend) keys.emplace_back("backend");
  if (running.irq_mode != next.irq_mode) keys.emplace_back("irq_mode");
  if (running.irq_root != next.irq_root) keys.emplace_back("irq_root");
  return keys;
}

}  // namespace prefcpu
