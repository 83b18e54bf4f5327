#include "sim/report.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "protocol/json_text.h"

namespace prefcpu::sim {

namespace {

// n / 10^k is the double nearest the decimal, so JSON prints it short.
double rounded(double value, double scale) {
  return std::round(value * scale) / scale;
}

std::string knobs_text(const VmResult& vm) {
  return fmt::format("{}, interval_ms {}, high {}, low {}", vm.governor, vm.knobs.interval_ms,
                     vm.knobs.high_threshold, vm.knobs.low_threshold);
}

std::string metric_text(const std::string& metric, double value) {
  if (metric == "time_s") return fmt::format("{:.3f}", value);
  if (metric == "tps") return fmt::format("{:.1f}", value);
  return fmt::format("{:.3f}", value);
}

}  // namespace

double improvement_pct(const std::string& metric, double baseline, double with_series) {
  if (baseline <= 0 || with_series <= 0) return 0.0;
  if (metric == "time_s") return (baseline - with_series) * 100.0 / baseline;
  return (with_series - baseline) * 100.0 / baseline;
}

std::string format_table(const Report& report) {
  std::string out = fmt::format("prefcpu-sim {} (seed {}): baseline = none, with_series = {}\n",
                                report.scenario, report.seed, report.governor);
  if (report.results.size() < 2) return out;
  std::size_t vms = report.results.front().vms.size();
  for (std::size_t v = 0; v < vms; ++v) {
    const VmResult& first = report.results[1].vms[v];
    out += fmt::format("\nOn {} ({} vCPUs; with_series: {}):\n", first.name, first.vcpus,
                       knobs_text(first));
    out += fmt::format("  {:<20} {:<20} {:>12} {:>12} {:>9}\n", "case", "", "baseline",
                       "with_series", "change");
    for (std::size_t i = 0; i + 1 < report.results.size(); i += 2) {
      const VmResult& base = report.results[i].vms[v];
      const VmResult& with = report.results[i + 1].vms[v];
      double change = improvement_pct(base.metric, base.value, with.value);
      auto mark = [](const VmResult& r) { return r.finished ? "" : "*"; };
      out += fmt::format("  {:<20} {:<20} {:>12} {:>12} {:>+8.1f}%\n", report.results[i].name,
                         base.metric, metric_text(base.metric, base.value) + mark(base),
                         metric_text(with.metric, with.value) + mark(with), change);
      auto row = [&](const char* label, const std::string& a, const std::string& b) {
        out += fmt::format("  {:<20} {:<20} {:>12} {:>12}\n", "", label, a, b);
      };
      row("host useful/pCPU-s", fmt::format("{:.3f}", report.results[i].host_useful_per_pcpu_s),
          fmt::format("{:.3f}", report.results[i + 1].host_useful_per_pcpu_s));
      row("steal %", fmt::format("{:.1f}", base.steal_pct), fmt::format("{:.1f}", with.steal_pct));
      row("mean preferred", fmt::format("{:.1f}", base.mean_preferred),
          fmt::format("{:.1f}", with.mean_preferred));
      row("shrinks / grows", fmt::format("{}/{}", base.stats.shrinks, base.stats.grows),
          fmt::format("{}/{}", with.stats.shrinks, with.stats.grows));
      row("holder preemptions", fmt::format("{}", base.stats.holder_preemptions),
          fmt::format("{}", with.stats.holder_preemptions));
      row("spin ms", fmt::format("{:.1f}", static_cast<double>(base.stats.spin_ns) / 1e6),
          fmt::format("{:.1f}", static_cast<double>(with.stats.spin_ns) / 1e6));
      row("host switches", fmt::format("{}", base.stats.host_switches),
          fmt::format("{}", with.stats.host_switches));
      row("governor intervals", fmt::format("{}", base.governor_intervals),
          fmt::format("{}", with.governor_intervals));
      if (base.solo_tail_ns > 0 || with.solo_tail_ns > 0) {
        row("solo tail s", fmt::format("{:.3f}", static_cast<double>(base.solo_tail_ns) / 1e9),
            fmt::format("{:.3f}", static_cast<double>(with.solo_tail_ns) / 1e9));
      }
    }
  }
  bool unfinished = false;
  for (const auto& result : report.results) {
    for (const auto& vm : result.vms) unfinished = unfinished || !vm.finished;
  }
  if (unfinished) out += "\n* did not finish within the scenario's duration_s; value is the cap\n";
  bool short_run = false;
  for (const auto& result : report.results) {
    for (const auto& vm : result.vms) short_run = short_run || vm.governor_intervals < 30;
  }
  if (short_run) {
    out +=
        "\nNote: a VM ran fewer than 30 governor intervals; its governor may not have converged\n";
  }
  return out;
}

std::string format_json(const Report& report) {
  nlohmann::ordered_json doc;
  doc["scenario"] = report.scenario;
  doc["seed"] = report.seed;
  doc["results"] = nlohmann::ordered_json::array();
  for (const auto& result : report.results) {
    nlohmann::ordered_json entry;
    entry["case"] = result.name;
    entry["governor"] = result.governor;
    entry["sim_s"] = rounded(static_cast<double>(result.end_ns) / 1e9, 1e6);
    entry["events"] = result.events;
    entry["host_useful_per_pcpu_s"] = rounded(result.host_useful_per_pcpu_s, 1e6);
    entry["vms"] = nlohmann::ordered_json::array();
    for (const auto& vm : result.vms) {
      nlohmann::ordered_json v;
      v["name"] = vm.name;
      v["metric"] = vm.metric;
      v["value"] = rounded(vm.value, 1e6);
      v["steal_pct"] = rounded(vm.steal_pct, 1e3);
      v["mean_preferred"] = rounded(vm.mean_preferred, 1e3);
      // Beyond the shape: what explains the value.
      v["governor"] = vm.governor;
      v["finished"] = vm.finished;
      v["vcpus"] = vm.vcpus;
      v["shrinks"] = vm.stats.shrinks;
      v["grows"] = vm.stats.grows;
      v["holder_preemptions"] = vm.stats.holder_preemptions;
      v["spin_ms"] = rounded(static_cast<double>(vm.stats.spin_ns) / 1e6, 1e3);
      v["lock_blocks"] = vm.stats.lock_blocks;
      v["host_switches"] = vm.stats.host_switches;
      v["host_preemptions"] = vm.stats.host_preemptions;
      v["host_migrations"] = vm.stats.host_migrations;
      v["pushes"] = vm.stats.pushes;
      v["pulls"] = vm.stats.pulls;
      v["halts"] = vm.stats.halts;
      v["cpu_s"] = rounded(static_cast<double>(vm.cpu_ns) / 1e9, 1e6);
      v["work_s"] = rounded(static_cast<double>(vm.stats.work_ns) / 1e9, 1e6);
      v["overhead_s"] = rounded(static_cast<double>(vm.stats.overhead_ns) / 1e9, 1e6);
      v["refill_s"] = rounded(static_cast<double>(vm.stats.refill_ns) / 1e9, 1e6);
      v["solo_tail_s"] = rounded(static_cast<double>(vm.solo_tail_ns) / 1e9, 1e6);
      v["governor_intervals"] = vm.governor_intervals;
      v["rounds"] = vm.rounds;
      v["pv_waits"] = vm.stats.pv_waits;
      v["pv_kicks"] = vm.stats.pv_kicks;
      v["ple_exits"] = vm.stats.ple_exits;
      v["yields"] = vm.stats.yields;
      // Only where a scenario asked for cross-calls, so that default outputs keep their keys.
      if (vm.stats.cross_calls[0] + vm.stats.cross_calls[1] > 0) {
        v["shootdowns"] = vm.stats.cross_calls[0];
        v["cross_calls"] = vm.stats.cross_calls[1];
        v["cross_call_ipis"] = vm.stats.cross_call_ipis;
        v["pv_tlb_flushes"] = vm.stats.pv_tlb_flushes;
        v["cross_call_wait_ms"] =
            rounded(static_cast<double>(vm.stats.cross_call_wait_ns) / 1e6, 1e3);
      }
      entry["vms"].push_back(std::move(v));
    }
    doc["results"].push_back(std::move(entry));
  }
  return json_text(doc) + "\n";
}

std::string format_timeseries_csv(const Report& report) {
  std::string out = "case,governor,vm,t_s,steal_pct,preferred,throughput\n";
  for (const auto& result : report.results) {
    for (const auto& row : result.timeseries) {
      out += fmt::format("\"{}\",{},{},{:.3f},{:.2f},{},{:.3f}\n", result.name, result.governor,
                         result.vms[row.vm].name, static_cast<double>(row.t_ns) / 1e9,
                         row.steal_pct, row.preferred, row.throughput);
    }
  }
  return out;
}

}  // namespace prefcpu::sim
