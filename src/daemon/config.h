// prefcpud's configuration: the TOML file (/etc/prefcpu/prefcpud.toml), compiled and validated
// whole before anything uses it, so a bad reload (SIGHUP) changes nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/knobs.h"
#include "core/result.h"
#include "linux/irq/irq_actuator.h"
#include "linux/systemd/backend.h"

namespace prefcpu {

inline constexpr std::size_t kMaxHistorySize = 100000;
inline constexpr std::uint32_t kMinReconcileIntervalMs = 100;
inline constexpr std::uint32_t kMaxReconcileIntervalMs = 3'600'000;

struct Config {
  std::string governor = "kernel";
  Knobs knobs;
  std::vector<std::string> cgroups;  // empty: every top-level cpuset cgroup
  std::string cgroup_root;           // empty: found from mountinfo
  bool shield = false;
  bool dry_run = false;
  Backend backend = Backend::kAuto;  // systemd: AllowedCPUs= on units; cgroupfs: cpuset.cpus
  IrqMode irq_mode = IrqMode::kAuto;
  std::string irq_root = "/proc/irq";
  // Unbound workqueues follow preferred (enforce mode; docs/daemon.md "Workqueues").
  bool workqueues = true;
  // Unbound kernel threads user space may move follow preferred (enforce mode; docs/daemon.md
  // "Kernel threads").
  bool kthreads = true;
  std::size_t history_size = 120;
  bool verbose = false;
  // Actuators re-check what they steer (new IRQs, foreign writes) at this cadence when the mask
  // does not change; a change applies at once.
  std::uint32_t reconcile_interval_ms = 10000;
  std::string metrics_listen;    // empty: no HTTP listener (docs/metrics.md)
  std::string metrics_textfile;  // empty: no node_exporter textfile

  friend bool operator==(const Config&, const Config&) = default;
};

// Parses TOML text against the schema (config_schema.h); unknown keys, wrong types and
// out-of-range values are errors naming the key, its line in `source` and what is accepted. Does
// not check cross-key rules (see validate).
Result<Config> parse_config(std::string_view text, std::string_view source);

// Reads a config file. A missing file is the defaults unless `required` (given with --config);
// anything but a regular file (a directory) is an error.
Result<Config> load_config_file(const std::filesystem::path& path, bool required);

// The whole-config checks: knobs, governor name, history size, cgroup names.
Status validate_config(const Config& config);

// Keys that take effect only at start; a reload that changes one keeps the running value.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);
// `next` with the running values of the keys that take effect only at start.
Config keep_restart_only(Config next, const Config& running);

}  // namespace prefcpu
