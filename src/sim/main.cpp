// prefcpu-sim: run a scenario with the baseline and a governor side by side, list scenarios, or
// print the oracle's static partition (the overcommit rig's --governor oracle asks for it).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "sim/oracle.h"
#include "sim/plot.h"
#include "sim/report.h"
#include "sim/run.h"
#include "sim/scenario.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

int fail(int code, const std::string& message) {
  std::cerr << "prefcpu-sim: " << message << "\n";
  return code;
}

int list_scenarios() {
  for (const auto& builtin : prefcpu::sim::builtin_scenarios()) {
    auto scenario = prefcpu::sim::parse_scenario(builtin.text, builtin.name);
    std::string description = scenario ? scenario->description : scenario.error().message;
    fmt::print("{:<16} {}\n", builtin.name, description);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"prefcpu-sim: simulate an overcommitted host and compare steal governors"};
  app.require_subcommand(1);

  std::string scenario_name;
  prefcpu::sim::RunOptions options;
  std::uint32_t interval_ms = 0;
  std::uint32_t high = 0;
  std::uint32_t low = 0;
  std::uint64_t seed = 0;
  bool json = false;
  std::string timeseries_path;
  std::string plot_path;
  CLI::App* run = app.add_subcommand("run", "run a scenario: baseline (none) and a governor");
  run->add_option("SCENARIO", scenario_name, "a built-in name (see `list`) or a TOML file")
      ->required();
  run->add_option("--governor", options.governor,
                  "governor for every VM that does not pin one (default kernel); oracle: a "
                  "fixed share of the host's pCPUs from the start, the yardstick");
  auto* interval_opt = run->add_option("--interval-ms", interval_ms, "steal_governor interval_ms");
  auto* high_opt = run->add_option("--high", high, "high_threshold in basis points");
  auto* low_opt = run->add_option("--low", low, "low_threshold in basis points");
  auto* seed_opt = run->add_option("--seed", seed, "seed of every random draw");
  run->add_flag("--json", json, "print JSON instead of the table");
  run->add_option("--timeseries", timeseries_path, "write per-interval samples as CSV");
  run->add_option("--plot", plot_path, "render steal, preferred and the change as a PNG");
  app.add_subcommand("list", "list the built-in scenarios");
  std::uint32_t pcpus = 0;
  std::vector<std::uint32_t> demand;
  CLI::App* oracle = app.add_subcommand(
      "oracle", "print each VM's share of the host under the oracle: pCPUs x demand / total");
  oracle->add_option("--pcpus", pcpus, "host pCPUs")->required()->check(CLI::Range(1U, 65536U));
  oracle->add_option("--demand", demand, "each VM's busy vCPUs, e.g. 4,4")
      ->required()
      ->delimiter(',')
      ->check(CLI::Range(1U, 65536U));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitBadInput;
  }
  if (app.got_subcommand("list")) return list_scenarios();
  if (app.got_subcommand("oracle")) {
    std::vector<std::uint32_t> shares = prefcpu::sim::oracle_shares(pcpus, demand);
    fmt::print("{}\n", fmt::join(shares, " "));
    return 0;
  }

  if (*interval_opt) options.interval_ms = interval_ms;
  if (*high_opt) options.high_threshold = high;
  if (*low_opt) options.low_threshold = low;
  if (*seed_opt) options.seed = seed;
  auto scenario = prefcpu::sim::load_scenario(scenario_name);
  if (!scenario) return fail(kExitBadInput, scenario.error().message);
  auto report = prefcpu::sim::run_scenario(*scenario, options);
  if (!report) return fail(kExitBadInput, report.error().message);

  std::cout << (json ? prefcpu::sim::format_json(*report) : prefcpu::sim::format_table(*report));
  std::cout.flush();
  if (!timeseries_path.empty()) {
    std::ofstream out(timeseries_path);
    out << prefcpu::sim::format_timeseries_csv(*report);
    if (!out)
      return fail(kExitFailure, fmt::format("--timeseries {}: cannot write", timeseries_path));
  }
  if (!plot_path.empty()) {
    if (auto status = prefcpu::sim::render_plot(*report, plot_path); !status) {
      return fail(kExitFailure, status.error().message);
    }
  }
  return 0;
}
