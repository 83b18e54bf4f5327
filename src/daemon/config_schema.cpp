#include "daemon/config_schema.h"

#include <fmt/format.h>

#include <cstdint>
#include <type_traits>

#include "core/governor.h"
#include "daemon/metrics_address.h"
#include "linux/cgroup/cgroup_name.h"

namespace prefcpu {

namespace {

// Each maker takes an accessor usable on Config& and const Config& alike, e.g.
// [](auto& c) -> auto& { return c.shield; }, and fills every function of the key from it.
template <typename Get>
ConfigKey common(std::string_view name, std::string_view type, std::string accepted, Reload reload,
                 Get get) {
  ConfigKey key{name, type, std::move(accepted), reload, {}, {}, {}, {}, {}};
  key.same = [get](const Config& a, const Config& b) { return get(a) == get(b); };
  key.copy = [get](Config& to, const Config& from) { get(to) = get(from); };
  key.check = [](const Config&) -> Status { return {}; };
  return key;
}

template <typename Get>
ConfigKey integer(std::string_view name, std::uint64_t min, std::uint64_t max, Reload reload,
                  Get get) {
  using T = std::remove_cvref_t<decltype(get(std::declval<Config&>()))>;
  ConfigKey key = common(name, "integer", fmt::format("{}..{}", min, max), reload, get);
  key.read = [name, min, max, get](Config& config, const toml::node& node) -> Status {
    const auto* value = node.as_integer();
    if (value == nullptr) return make_error("{} must be an integer", name);
    std::int64_t number = value->get();
    if (number < 0 || static_cast<std::uint64_t>(number) > max ||
        static_cast<std::uint64_t>(number) < min) {
      return make_error("{} = {} is out of range: expected {}..{}", name, number, min, max);
    }
    get(config) = static_cast<T>(number);
    return {};
  };
  key.check = [name, min, max, get](const Config& config) -> Status {
    auto value = static_cast<std::uint64_t>(get(config));
    if (value < min || value > max) {
      return make_error("{} {} is out of range: expected {}..{}", name, value, min, max);
    }
    return {};
  };
  key.toml_text = [get](const Config& config) { return fmt::format("{}", get(config)); };
  return key;
}

template <typename Get>
ConfigKey boolean(std::string_view name, Reload reload, Get get) {
  ConfigKey key = common(name, "boolean", "true or false", reload, get);
  key.read = [name, get](Config& config, const toml::node& node) -> Status {
    const auto* value = node.as_boolean();
    if (value == nullptr) return make_error("{} must be true or false", name);
    get(config) = value->get();
    return {};
  };
  key.toml_text = [get](const Config& config) { return get(config) ? "true" : "false"; };
  return key;
}

Result<std::string> read_string(const toml::node& node, std::string_view name) {
  if (const auto* value = node.as_string()) return std::string(value->get());
  return make_error("{} must be a string, as in {} = \"...\"", name, name);
}

// A string, converted by `parse` (which also checks it) into the field's type, and back by
// `show`.
template <typename Get, typename Parse, typename Show>
ConfigKey text(std::string_view name, std::string accepted, Reload reload, Get get, Parse parse,
               Show show) {
  ConfigKey key = common(name, "string", std::move(accepted), reload, get);
  key.read = [name, get, parse](Config& config, const toml::node& node) -> Status {
    auto value = read_string(node, name);
    if (!value) return value.error();
    auto parsed = parse(*value);
    if (!parsed) return parsed.error();
    get(config) = std::move(*parsed);
    return {};
  };
  key.check = [get, parse, show](const Config& config) -> Status {
    auto parsed = parse(show(get(config)));
    if (!parsed) return parsed.error();
    return {};
  };
  key.toml_text = [get, show](const Config& config) {
    return fmt::format("\"{}\"", show(get(config)));
  };
  return key;
}

template <typename Get>
ConfigKey plain_text(std::string_view name, std::string accepted, Reload reload, Get get) {
  return text(
      name, std::move(accepted), reload, get,
      [](const std::string& value) -> Result<std::string> { return value; },
      [](const std::string& value) { return value; });
}

template <typename Get>
ConfigKey knob(std::string_view name, Get get) {
  const KnobInfo* info = find_knob(name);
  return integer(name, info->min, info->max, Reload::kLive, get);
}

ConfigKey cgroup_list() {
  auto get = [](auto& config) -> auto& {
    return config.cgroups;
  };
  ConfigKey key =
      common("cgroups", "array of strings", "paths below the cpuset root", Reload::kRestart, get);
  key.read = [get](Config& config, const toml::node& node) -> Status {
    const auto* array = node.as_array();
    if (array == nullptr) {
      return make_error("cgroups must be an array of strings, as in cgroups = [\"system.slice\"]");
    }
    std::vector<std::string> names;
    for (const auto& element : *array) {
      auto name = read_string(element, "each cgroups entry");
      if (!name) return name.error();
      if (auto status = check_cgroup_name(*name); !status) return status.error();
      names.push_back(std::move(*name));
    }
    get(config) = std::move(names);
    return {};
  };
  key.check = [get](const Config& config) -> Status {
    for (const auto& name : get(config)) {
      if (auto status = check_cgroup_name(name); !status) return status;
    }
    return {};
  };
  key.toml_text = [get](const Config& config) {
    std::string text = "[";
    for (const auto& name : get(config)) text += (text.size() > 1 ? ", \"" : "\"") + name + "\"";
    return text + "]";
  };
  return key;
}

std::vector<ConfigKey> make_schema() {
  std::vector<ConfigKey> keys;
  keys.push_back(text(
      "governor", "a name from prefcpuctl governors", Reload::kLive,
      [](auto& c) -> auto& { return c.governor; },
      [](const std::string& name) -> Result<std::string> {
        if (auto governor = make_governor(name); !governor) return governor.error();
        return name;
      },
      [](const std::string& name) { return name; }));
  keys.push_back(knob(
      "interval_ms", [](auto& c) -> auto& { return c.knobs.interval_ms; }));
  keys.push_back(knob(
      "high_threshold", [](auto& c) -> auto& { return c.knobs.high_threshold; }));
  keys.push_back(knob(
      "low_threshold", [](auto& c) -> auto& { return c.knobs.low_threshold; }));
  keys.push_back(knob(
      "shrink_after", [](auto& c) -> auto& { return c.knobs.shrink_after; }));
  keys.push_back(knob(
      "floor_window", [](auto& c) -> auto& { return c.knobs.floor_window; }));
  keys.push_back(text(
      "numa", "off, balance or pack", Reload::kLive, [](auto& c) -> auto& { return c.knobs.numa; },
      [](const std::string& mode) { return parse_numa_mode(mode); },
      [](NumaMode mode) { return std::string(numa_mode_name(mode)); }));
  keys.push_back(cgroup_list());
  keys.push_back(plain_text(
      "cgroup_root", "a directory, or empty", Reload::kRestart,
      [](auto& c) -> auto& { return c.cgroup_root; }));
  keys.push_back(boolean(
      "shield", Reload::kRestart, [](auto& c) -> auto& { return c.shield; }));
  keys.push_back(boolean(
      "dry_run", Reload::kRestart, [](auto& c) -> auto& { return c.dry_run; }));
  keys.push_back(text(
      "backend", "auto, systemd or cgroupfs", Reload::kRestart,
      [](auto& c) -> auto& { return c.backend; },
      [](const std::string& name) { return parse_backend(name); },
      [](Backend backend) { return std::string(backend_name(backend)); }));
  keys.push_back(text(
      "irq_mode", "auto, builtin, irqbalance or off", Reload::kRestart,
      [](auto& c) -> auto& { return c.irq_mode; },
      [](const std::string& mode) { return parse_irq_mode(mode); },
      [](IrqMode mode) { return std::string(irq_mode_name(mode)); }));
  keys.push_back(plain_text(
      "irq_root", "a directory", Reload::kRestart, [](auto& c) -> auto& { return c.irq_root; }));
  keys.push_back(boolean(
      "workqueues", Reload::kRestart, [](auto& c) -> auto& { return c.workqueues; }));
  keys.push_back(boolean(
      "kthreads", Reload::kRestart, [](auto& c) -> auto& { return c.kthreads; }));
  keys.push_back(integer(
      "history_size", 1, kMaxHistorySize, Reload::kLive,
      [](auto& c) -> auto& { return c.history_size; }));
  keys.push_back(integer(
      "reconcile_interval_ms", kMinReconcileIntervalMs, kMaxReconcileIntervalMs, Reload::kLive,
      [](auto& c) -> auto& { return c.reconcile_interval_ms; }));
  keys.push_back(boolean(
      "verbose", Reload::kLive, [](auto& c) -> auto& { return c.verbose; }));
  keys.push_back(text(
      "metrics_listen", "IPV4:PORT, or empty (off)", Reload::kRestart,
      [](auto& c) -> auto& { return c.metrics_listen; },
      [](const std::string& value) -> Result<std::string> {
        if (value.empty()) return value;
        if (auto address = parse_metrics_address(value); !address) return address.error();
        return value;
      },
      [](const std::string& value) { return value; }));
  keys.push_back(text(
      "metrics_textfile", "an absolute path, or empty (off)", Reload::kRestart,
      [](auto& c) -> auto& { return c.metrics_textfile; },
      [](const std::string& value) -> Result<std::string> {
        if (!value.empty() && value.front() != '/') {
          return make_error("metrics_textfile \"{}\" is invalid: expected an absolute path", value);
        }
        return value;
      },
      [](const std::string& value) { return value; }));
  return keys;
}

}  // namespace

const std::vector<ConfigKey>& config_schema() {
  static const std::vector<ConfigKey> schema = make_schema();
  return schema;
}

const ConfigKey* find_config_key(std::string_view name) {
  for (const auto& key : config_schema()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

std::string config_key_names() {
  std::string names;
  for (const auto& key : config_schema()) {
    if (!names.empty()) names += ", ";
    names += key.name;
  }
  return names;
}

std::string config_man_table() {
  const Config defaults;
  std::string table;
  for (const auto& key : config_schema()) {
    table += fmt::format("{}\t{}\t{}\t{}\t{}\n", key.name, key.type, key.accepted,
                         key.toml_text(defaults), key.reload == Reload::kLive ? "yes" : "restart");
  }
  return table;
}

}  // namespace prefcpu
