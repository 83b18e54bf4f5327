// Load schedules ([[vm.load]]): the active task count of steps and ramps, a VM's demand falling
// and rising at the scheduled times in a run, and a scenario's schedule end to end.
#include "sim/load_schedule.h"

#include <gtest/gtest.h>

#include "sim/run.h"
#include "sim/scenario.h"
#include "sim_test_support.h"

namespace prefcpu::sim {
namespace {

using testing::bare_host;
using testing::kMs;

TEST(LoadSchedule, NoPhasesKeepsEveryTaskActive) {
  LoadSchedule none({}, 8);
  EXPECT_EQ(none.active_at(0), 8U);
  EXPECT_EQ(none.active_at(kNever - 1), 8U);
  EXPECT_EQ(none.max_tasks(), 8U);
  EXPECT_EQ(none.active_from(7, 5 * kMs), 5 * kMs);
}

TEST(LoadSchedule, StepsChangeTheCountAtTheirTime) {
  LoadSchedule s({{1000 * kMs, 0.5, 0}, {2000 * kMs, 2.0, 0}, {3000 * kMs, 0.0, 0}}, 8);
  EXPECT_EQ(s.active_at(0), 8U);
  EXPECT_EQ(s.active_at(1000 * kMs - 1), 8U);
  EXPECT_EQ(s.active_at(1000 * kMs), 4U);
  EXPECT_EQ(s.active_at(2000 * kMs), 16U);
  EXPECT_EQ(s.active_at(3000 * kMs), 0U);
  EXPECT_EQ(s.max_tasks(), 16U);
  // Task 5 is parked from 1 s and needed again at 2 s; after 3 s never.
  EXPECT_EQ(s.active_from(5, 1500 * kMs), 2000 * kMs);
  EXPECT_EQ(s.active_from(0, 3000 * kMs), kNever);
}

TEST(LoadSchedule, ARampMovesOneTaskAtATimeAtTheMiddleOfItsShare) {
  // 4 -> 8 tasks over 800 ms from 2 s: moves at 2 s + 800 ms x (1, 3, 5, 7) / 8.
  LoadSchedule s({{1000 * kMs, 0.5, 0}, {2000 * kMs, 1.0, 800 * kMs}}, 8);
  EXPECT_EQ(s.active_at(2000 * kMs), 4U);
  EXPECT_EQ(s.active_at(2100 * kMs - 1), 4U);
  EXPECT_EQ(s.active_at(2100 * kMs), 5U);
  EXPECT_EQ(s.active_at(2300 * kMs), 6U);
  EXPECT_EQ(s.active_at(2500 * kMs), 7U);
  EXPECT_EQ(s.active_at(2700 * kMs), 8U);
  EXPECT_EQ(s.active_from(6, 2000 * kMs), 2500 * kMs);
  // Down over 3 ns, shorter than a ns per move: moves at 3 x (1, 3, 5, 7) / 8 = 0, 1, 1, 2 ns;
  // at 1 ns both land and the later one is in force.
  LoadSchedule fast({{0, 0.0, 3}}, 4);
  EXPECT_EQ(fast.active_at(0), 3U);
  EXPECT_EQ(fast.active_at(1), 1U);
  EXPECT_EQ(fast.active_at(2), 0U);
  EXPECT_EQ(fast.active_from(1, 1), kNever);
}

// A CPU-bound VM of `vcpus` tasks alone on as many pCPUs: its busy time is its demand.
std::unique_ptr<Simulation> cpu_bound_alone(std::uint32_t vcpus, std::vector<LoadPhase> load) {
  VmConfig vm = testing::idle_vm("vm", vcpus);
  vm.spec.workload.kind = WorkloadKind::kCpuBound;
  vm.spec.load = std::move(load);
  return testing::make_sim(bare_host(vcpus), {vm}, 2000 * kMs);
}

// The VM's busy vCPUs on average over [from, to).
double busy_between(Simulation& sim, Ns from, Ns to) {
  sim.run_until(from);
  Ns before = sim.vm_busy_ns(0);
  sim.run_until(to);
  return static_cast<double>(sim.vm_busy_ns(0) - before) / static_cast<double>(to - from);
}

TEST(LoadScheduleRun, AStepDownLowersDemandAtItsTime) {
  auto sim = cpu_bound_alone(4, {{500 * kMs, 0.5, 0}});
  ASSERT_TRUE(sim);
  EXPECT_NEAR(busy_between(*sim, 400 * kMs, 500 * kMs), 4.0, 0.01);
  EXPECT_NEAR(busy_between(*sim, 500 * kMs, 600 * kMs), 2.0, 0.01);
  EXPECT_NEAR(busy_between(*sim, 600 * kMs, 1500 * kMs), 2.0, 0.01);
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
}

TEST(LoadScheduleRun, AStepUpWakesParkedTasksAtItsTime) {
  auto sim = cpu_bound_alone(4, {{0, 0.25, 0}, {300 * kMs, 1.0, 0}});
  ASSERT_TRUE(sim);
  EXPECT_NEAR(busy_between(*sim, 0, 300 * kMs), 1.0, 0.01);
  EXPECT_NEAR(busy_between(*sim, 300 * kMs, 400 * kMs), 4.0, 0.01);
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
}

TEST(LoadScheduleRun, ARampChangesDemandGradually) {
  // 8 -> 0 tasks over 800 ms from 100 ms: one task less at 150, 250, ..., 850 ms.
  auto sim = cpu_bound_alone(8, {{100 * kMs, 0.0, 800 * kMs}});
  ASSERT_TRUE(sim);
  EXPECT_NEAR(busy_between(*sim, 50 * kMs, 150 * kMs), 8.0, 0.01);
  for (std::uint32_t k = 1; k <= 8; ++k) {
    Ns from = (50 + 100 * static_cast<Ns>(k)) * kMs;
    EXPECT_NEAR(busy_between(*sim, from, from + 100 * kMs), 8.0 - k, 0.01) << "after move " << k;
  }
  EXPECT_NEAR(busy_between(*sim, 950 * kMs, 1500 * kMs), 0.0, 1e-9);
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
}

// The per-interval throughput of the baseline run of a scenario, averaged over [from, to).
double mean_throughput(const CaseResult& result, Ns from, Ns to) {
  double sum = 0;
  int n = 0;
  for (const auto& row : result.timeseries) {
    if (row.t_ns > from && row.t_ns <= to) {
      sum += row.throughput;
      ++n;
    }
  }
  return n > 0 ? sum / n : 0.0;
}

TEST(LoadScheduleRun, AScenarioStepHalvesOltpThroughputAndStaysDeterministic) {
  constexpr std::string_view kText = R"(
name = "oltp-step"
duration_s = 2.0
random_governor_phase = false
[host]
pcpus = 8
[knobs]
interval_ms = 100
[workload]
kind = "oltp"
[[vm]]
vcpus = 4
[[vm.load]]
at_s = 1.0
level = 0.5
)";
  auto scenario = parse_scenario(kText, "oltp-step.toml");
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  ASSERT_EQ(scenario->cases[0].vms[0].load.size(), 1U);
  RunOptions options;
  auto result = run_case(*scenario, scenario->cases[0], options, /*baseline=*/true);
  ASSERT_TRUE(result.ok()) << result.error().message;
  double before = mean_throughput(*result, 200 * kMs, 1000 * kMs);
  double after = mean_throughput(*result, 1200 * kMs, 2000 * kMs);
  EXPECT_GT(before, 0.0);
  EXPECT_NEAR(after / before, 0.5, 0.1) << before << " -> " << after;
  auto again = run_case(*scenario, scenario->cases[0], options, true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->events, result->events);
  EXPECT_EQ(again->vms[0].stats.units, result->vms[0].stats.units);
}

std::string error_of(std::string_view load) {
  std::string text =
      "name = \"t\"\nduration_s = 10\n[host]\npcpus = 4\n[workload]\n"
      "kind = \"cpu-bound\"\n[[vm]]\nvcpus = 2\n" +
      std::string(load);
  return testing::scenario_error(text);
}

TEST(LoadScheduleScenario, BadPhasesAreRejectedNamingTheField) {
  EXPECT_EQ(error_of("[[vm.load]]\nat_s = 1\nlevel = 0.5\nramp_s = 2\n"), "(no error)");
  auto has = [](const std::string& error, std::string_view what) {
    return error.find(what) != std::string::npos;
  };
  std::string e = error_of("[[vm.load]]\nat_s = 1\nlevl = 0.5\n");
  EXPECT_TRUE(has(e,
                  "[[vm]] #1 [[vm.load]] #1: unknown key \"levl\": expected one of at_s, "
                  "level, ramp_s"))
      << e;
  e = error_of("[[vm.load]]\nat_s = 1\nlevel = 11\n");
  EXPECT_TRUE(has(e, "level is 11: expected a number in 0..10")) << e;
  e = error_of("[[vm.load]]\nat_s = 1\nlevel = \"half\"\n");
  EXPECT_TRUE(has(e, "level is not a number")) << e;
  e = error_of("[[vm.load]]\nlevel = 0.5\n");
  EXPECT_TRUE(has(e, "at_s is missing")) << e;
  e = error_of("[[vm.load]]\nat_s = 1\n");
  EXPECT_TRUE(has(e, "level is missing: expected a number in 0..10")) << e;
  e = error_of("[[vm.load]]\nat_s = 1\nlevel = 1\nramp_s = -1\n");
  EXPECT_TRUE(has(e, "ramp_s is -1: expected a number in 0..3600")) << e;
  e = error_of("[[vm.load]]\nat_s = 10\nlevel = 1\n");
  EXPECT_TRUE(has(e, "at_s 10 is not before duration_s 10")) << e;
  e = error_of("[[vm.load]]\nat_s = 5\nlevel = 1\n[[vm.load]]\nat_s = 2\nlevel = 0\n");
  EXPECT_TRUE(has(e, "[[vm.load]] #2: at_s 2 starts before the previous phase has ended at 5 s"))
      << e;
  e = error_of("[[vm.load]]\nat_s = 1\nlevel = 1\nramp_s = 4\n[[vm.load]]\nat_s = 3\nlevel = 0\n");
  EXPECT_TRUE(has(e, "at_s 3 starts before the previous phase has ended at 5 s")) << e;
  e = error_of("[[vm.load]]\nat_s = 1\nlevel = 1\n[[vm.load]]\nat_s = 1\nlevel = 0\n");
  EXPECT_TRUE(has(e, "at_s 1 is the previous phase's")) << e;
  e = error_of("load = 3\n");
  EXPECT_TRUE(has(e, "load is not an array of tables: expected [[vm.load]] entries")) << e;
  e = error_of("[vm.workload]\nkind = \"hackbench\"\n[[vm.load]]\nat_s = 1\nlevel = 0.5\n");
  EXPECT_TRUE(has(e,
                  "[[vm.load]] with workload kind \"hackbench\": expected kind \"oltp\" or "
                  "\"cpu-bound\""))
      << e;
  // A case that turns the VM into hackbench is checked after the merge.
  e = error_of("[[vm.load]]\nat_s = 1\nlevel = 0.5\n[[case]]\nworkload = { kind = \"idle\" }\n");
  EXPECT_TRUE(has(e, "[[case]] #1 [[vm]] #1: [[vm.load]] with workload kind \"idle\"")) << e;
}

}  // namespace
}  // namespace prefcpu::sim
