// prefcpud's command line. Flags override the config file, also after a SIGHUP reload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "daemon/config.h"

namespace prefcpu {

struct CliOptions {
  bool foreground = false;
  std::string config_path = "/etc/prefcpu/prefcpud.toml";
  bool config_given = false;  // --config: then the file must exist
  bool dry_run = false;
  std::optional<std::string> governor;
  std::optional<std::uint32_t> interval_ms;
  std::optional<std::uint32_t> high_threshold;
  std::optional<std::uint32_t> low_threshold;
  std::optional<std::string> numa;
  std::vector<std::string> cgroups;
  std::string state_dir = "/run/prefcpu";
  std::string proc_stat = "/proc/stat";
  std::string sysfs_root = "/sys";
  std::string proc_root = "/proc";
  std::optional<std::string> cgroup_root;
  bool shield = false;
  std::optional<std::string> backend;
  std::optional<std::string> irq_mode;
  std::optional<std::string> irq_root;
  bool no_workqueues = false;
  bool no_kthreads = false;
  bool verbose = false;
  std::optional<std::string> metrics_listen;
};

struct ParsedCli {
  std::optional<CliOptions> options;  // empty: exit with exit_code (help, or a usage error)
  int exit_code = 0;
};

// Prints --help, and usage errors to stderr.
ParsedCli parse_cli(int argc, char** argv);

// The config file's values with the flags on top, validated whole.
Result<Config> apply_cli(Config config, const CliOptions& cli);

// Reads the config file the flags name and applies the flags: what start and SIGHUP both use.
Result<Config> load_effective_config(const CliOptions& cli);

}  // namespace prefcpu
