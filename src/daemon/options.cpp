#include "daemon/options.h"

#include <CLI/CLI.hpp>
#include <iostream>

#include "core/governor.h"

namespace prefcpu {

ParsedCli parse_cli(int argc, char** argv) {
  CLI::App app{
      "prefcpud: steal-driven vCPU backoff. Samples steal from /proc/stat every "
      "interval, runs the steal governor, and confines the workload's cpusets to the "
      "preferred CPUs."};
  CliOptions cli;
  // Numbers are taken as text and read by the one parser the config and the socket share, so
  // "0x64" or " 100" mean the same (nothing) everywhere.
  std::string interval_ms;
  std::string high;
  std::string low;
  std::string governor;
  std::string numa;
  std::string cgroup_root;
  std::string backend;
  std::string irq_mode;
  std::string irq_root;
  app.add_flag("--foreground,-f", cli.foreground, "Stay in the foreground and log to stderr");
  auto* config =
      app.add_option("--config,-c", cli.config_path, "TOML config file")->capture_default_str();
  app.add_flag("--dry-run,-n", cli.dry_run, "Sample, decide and publish; write nothing");
  auto* governor_opt =
      app.add_option("--governor", governor, governor_names() + " (default kernel)");
  auto* interval_opt =
      app.add_option("--interval-ms", interval_ms, "Sampling interval, 100..100000 (default 1000)");
  auto* high_opt =
      app.add_option("--high", high, "high_threshold in basis points of steal (default 500)");
  auto* low_opt =
      app.add_option("--low", low, "low_threshold in basis points of steal (default 200)");
  auto* numa_opt = app.add_option(
      "--numa", numa, "NUMA splicing: off (the kernel's rule), balance or pack (default off)");
  app.add_option("--cgroup", cli.cgroups,
                 "Cgroup to manage, relative to the cpuset root (repeatable; default: every "
                 "top-level cpuset)");
  app.add_option("--state-dir", cli.state_dir, "preferred, status.json, control.sock, journal")
      ->capture_default_str();
  app.add_option("--proc-stat", cli.proc_stat, "Where to read steal from")->capture_default_str();
  app.add_option("--sysfs-root", cli.sysfs_root, "sysfs root (topology, preferred)")
      ->capture_default_str();
  app.add_option("--proc-root", cli.proc_root, "procfs root (PID/stat, cpuinfo, mountinfo)")
      ->capture_default_str();
  auto* cgroup_root_opt = app.add_option(
      "--cgroup-root", cgroup_root, "cpuset hierarchy root (default: from /proc/self/mountinfo)");
  app.add_flag("--shield", cli.shield,
               "v1: move the root cpuset's tasks into prefcpu-workload and manage that");
  auto* backend_opt = app.add_option(
      "--backend", backend, "auto, systemd (AllowedCPUs= on units) or cgroupfs (default auto)");
  auto* irq_mode_opt =
      app.add_option("--irq-mode", irq_mode, "auto, builtin, irqbalance or off (default auto)");
  auto* irq_root_opt = app.add_option("--irq-root", irq_root, "/proc/irq root");
  app.add_flag("--no-workqueues", cli.no_workqueues,
               "Leave the unbound workqueues' cpumask alone (workqueues = false)");
  app.add_flag("--no-kthreads", cli.no_kthreads,
               "Leave the unbound kernel threads' affinities alone (kthreads = false)");
  std::string metrics_listen;
  auto* metrics_opt = app.add_option("--metrics-listen", metrics_listen,
                                     "Serve Prometheus metrics on IPV4:PORT, e.g. 127.0.0.1:9747");
  app.add_flag("--verbose,-v", cli.verbose, "Log every sample");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return {std::nullopt, code == 0 ? 0 : 2};
  }
  cli.config_given = config->count() > 0;
  if (governor_opt->count() > 0) cli.governor = governor;
  if (numa_opt->count() > 0) cli.numa = numa;
  struct NumberFlag {
    CLI::Option* option;
    const std::string& text;
    std::optional<std::uint32_t>& out;
  };
  for (auto flag : {NumberFlag{interval_opt, interval_ms, cli.interval_ms},
                    NumberFlag{high_opt, high, cli.high_threshold},
                    NumberFlag{low_opt, low, cli.low_threshold}}) {
    if (flag.option->count() == 0) continue;
    auto number = parse_decimal(flag.text, flag.option->get_name(), UINT32_MAX);
    if (!number) {
      std::cerr << "prefcpud: " << number.error().message << "\n";
      return {std::nullopt, 2};
    }
    flag.out = static_cast<std::uint32_t>(*number);
  }
  if (cgroup_root_opt->count() > 0) cli.cgroup_root = cgroup_root;
  if (backend_opt->count() > 0) cli.backend = backend;
  if (irq_mode_opt->count() > 0) cli.irq_mode = irq_mode;
  if (irq_root_opt->count() > 0) cli.irq_root = irq_root;
  if (metrics_opt->count() > 0) cli.metrics_listen = metrics_listen;
  return {cli, 0};
}

Result<Config> apply_cli(Config config, const CliOptions& cli) {
  if (cli.governor) config.governor = *cli.governor;
  if (cli.interval_ms) config.knobs.interval_ms = *cli.interval_ms;
  if (cli.high_threshold) config.knobs.high_threshold = *cli.high_threshold;
  if (cli.low_threshold) config.knobs.low_threshold = *cli.low_threshold;
  if (cli.numa) {
    auto mode = parse_numa_mode(*cli.numa);
    if (!mode) return make_error("--numa: {}", mode.error().message);
    config.knobs.numa = *mode;
  }
  if (!cli.cgroups.empty()) config.cgroups = cli.cgroups;
  if (cli.cgroup_root) config.cgroup_root = *cli.cgroup_root;
  if (cli.shield) config.shield = true;
  if (cli.dry_run) config.dry_run = true;
  if (cli.verbose) config.verbose = true;
  if (cli.backend) {
    auto backend = parse_backend(*cli.backend);
    if (!backend) return make_error("--backend: {}", backend.error().message);
    config.backend = *backend;
  }
  if (cli.irq_mode) {
    auto mode = parse_irq_mode(*cli.irq_mode);
    if (!mode) return make_error("--irq-mode: {}", mode.error().message);
    config.irq_mode = *mode;
  }
  if (cli.irq_root) config.irq_root = *cli.irq_root;
  if (cli.no_workqueues) config.workqueues = false;
  if (cli.no_kthreads) config.kthreads = false;
  if (cli.metrics_listen) config.metrics_listen = *cli.metrics_listen;
  if (auto status = validate_config(config); !status) return status.error();
  return config;
}

Result<Config> load_effective_config(const CliOptions& cli) {
  auto file = load_config_file(cli.config_path, cli.config_given);
  if (!file) return file.error();
  return apply_cli(std::move(*file), cli);
}

}  // namespace prefcpu
