// The governor's per-period work on large guests, and cpulist parsing and formatting.
// Run: make bench (results and the command are recorded in docs/benchmarks.md).
#include <benchmark/benchmark.h>

#include <string>

#include "core/cpu_set.h"
#include "core/proc_stat.h"
#include "core/steal_monitor.h"

namespace prefcpu {
namespace {

// A /proc/stat as a busy N-CPU guest prints it: 10 fields of realistic width per line.
std::string proc_stat_text(unsigned cpus, std::uint64_t steal) {
  std::string text = "cpu  " + std::to_string(123456789ULL * cpus) + " 1234 " +
                     std::to_string(23456789ULL * cpus) + " " +
                     std::to_string(987654321ULL * cpus) + " 12345 0 6789 " +
                     std::to_string(steal) + " 0 0\n";
  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
    text += "cpu" + std::to_string(cpu) + " 123456789 1234 23456789 987654321 12345 0 6789 " +
            std::to_string(steal / cpus) + " 0 0\n";
  }
  text += "intr 1234567890 0 0 0 0\nctxt 9876543210\nbtime 1700000000\nprocesses 123456\n";
  text += "procs_running 3\nprocs_blocked 0\nsoftirq 1 2 3 4 5 6 7 8 9 10 11\n";
  return text;
}

// Parse + decide: what prefcpud does every interval after reading /proc/stat.
void BM_ParseAndDecide(benchmark::State& state) {
  auto cpus = static_cast<unsigned>(state.range(0));
  auto topo = parse_topology_spec("cores=" + std::to_string(cpus / 2) + ",smt=2,layout=spread");
  auto monitor = StealMonitor::create(*topo, {}, std::move(*make_governor("kernel")), 100);
  // Alternate between two texts so the decision alternates shrink/grow (the mask changes).
  std::string high = proc_stat_text(cpus, 0);
  std::int64_t t = 0;
  std::uint64_t steal = 0;
  bool spike = false;
  for (auto _ : state) {
    state.PauseTiming();
    t += 1'000'000'000;
    spike = !spike;
    steal += spike ? cpus * 10 : 0;  // 1000 bp, then 0 bp
    high = proc_stat_text(cpus, steal);
    state.ResumeTiming();
    auto stat = parse_proc_stat(high);
    Step step = monitor->observe({t, stat->total.steal(), stat->online});
    benchmark::DoNotOptimize(step);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(high.size()));
}
BENCHMARK(BM_ParseAndDecide)->Arg(1024)->Arg(8192)->Unit(benchmark::kMicrosecond);

void BM_ParseProcStat(benchmark::State& state) {
  std::string text = proc_stat_text(static_cast<unsigned>(state.range(0)), 12345);
  for (auto _ : state) benchmark::DoNotOptimize(parse_proc_stat(text));
}
BENCHMARK(BM_ParseProcStat)->Arg(1024)->Arg(8192)->Unit(benchmark::kMicrosecond);

// One kernel-governor decision per iteration, steal spiking every other interval, so that the
// mask moves on every decision.
void run_decisions(benchmark::State& state, const Topology& topo, const Knobs& knobs) {
  auto monitor = StealMonitor::create(topo, knobs, std::move(*make_governor("kernel")), 100);
  CpuSet online = topo.online();
  auto cpus = static_cast<std::uint64_t>(online.count());
  std::int64_t t = 0;
  std::uint64_t steal = 0;
  bool spike = false;
  for (auto _ : state) {
    t += 1'000'000'000;
    spike = !spike;
    steal += spike ? cpus * 10 : 0;
    benchmark::DoNotOptimize(monitor->observe({t, steal, online}));
  }
}

void BM_Decide(benchmark::State& state) {
  auto cpus = static_cast<unsigned>(state.range(0));
  auto topo = parse_topology_spec("cores=" + std::to_string(cpus / 2) + ",smt=2,layout=spread");
  run_decisions(state, *topo, {});
}
BENCHMARK(BM_Decide)->Arg(1024)->Arg(8192)->Unit(benchmark::kMicrosecond);

// BM_Decide at 1024 CPUs on 8 nodes, per NUMA mode (0 off, 1 balance, 2 pack): the cost of the
// splice's node choice (docs/policy.md), ratio to off in docs/benchmarks.md.
void BM_DecideNuma(benchmark::State& state) {
  auto topo = parse_topology_spec("cores=512,smt=2,layout=spread,nodes=8");
  Knobs knobs;
  knobs.numa = static_cast<NumaMode>(state.range(0));
  run_decisions(state, *topo, knobs);
  state.SetLabel(std::string(numa_mode_name(knobs.numa)));
}
BENCHMARK(BM_DecideNuma)->DenseRange(0, 2)->Unit(benchmark::kMicrosecond);

const char* const kLists[] = {"0-1023", "0-1023:2/256", "0-3,8-11,16-19,24-27,32-35,40-43"};

void BM_ParseCpulist(benchmark::State& state) {
  const char* text = kLists[state.range(0)];
  for (auto _ : state) benchmark::DoNotOptimize(parse_cpulist(text));
  state.SetLabel(text);
}
BENCHMARK(BM_ParseCpulist)->DenseRange(0, 2);

void BM_FormatCpulist(benchmark::State& state) {
  CpuSet set;
  // Every other CPU of 8192: the worst case, 4096 single-CPU runs.
  for (unsigned cpu = 0; cpu < static_cast<unsigned>(state.range(0)); cpu += 2) set.set(cpu);
  for (auto _ : state) benchmark::DoNotOptimize(format_cpulist(set));
}
BENCHMARK(BM_FormatCpulist)->Arg(64)->Arg(1024)->Arg(8192);

}  // namespace
}  // namespace prefcpu

BENCHMARK_MAIN();
