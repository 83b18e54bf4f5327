// Google Benchmarks of the simulator, plus the pipe costs its hackbench defaults come from.
//   BM_SimEvents/<scenario>: simulator events per second on one core (goal >= 5M/s).
//   sim_events/<scenario>_without_<mechanism>: the same with one mechanism of the simulator's
//   fourth or sixth revision turned off, to say what each costs (docs/benchmarks.md,
//   "Simulator"); each on a scenario whose host has it (host queues: the fair host of `large`;
//   entitlement per virtual processor: the dispatch window of `seed-hackbench`).
//   BM_PipeWrite100 / BM_PipeRead100: CPU per 100-byte pipe write / read on this machine,
//   the source of WorkloadParams::write_ns / read_ns (docs/benchmarks.md, "Simulator").
//   BM_PipeWakingWrite100: the same write when it must wake a reader blocked on the pipe; less
//   BM_PipeWrite100, the wakeup done under the wait queue's lock (WorkloadParams::wake_ns).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <ctime>
#include <thread>

#include "sim/run.h"
#include "sim/scenario.h"

namespace {

using prefcpu::sim::EntitlementScope;
using prefcpu::sim::HostQueues;
using prefcpu::sim::load_scenario;
using prefcpu::sim::RefillKind;
using prefcpu::sim::run_case;
using prefcpu::sim::RunOptions;
using prefcpu::sim::Scenario;

// A mechanism to turn off, each through its own scenario key (docs/simulator.md). The guest
// wakeup path has no such key, so it is not timed apart.
enum class Without : std::uint8_t {
  kNothing,
  kRqLock,
  kHostQueues,
  kWorkingSetRefill,
  kVpEntitlement
};

void turn_off(Scenario& scenario, Without mechanism) {
  switch (mechanism) {
    case Without::kNothing:
      break;
    case Without::kRqLock:
      for (auto& c : scenario.cases) {
        for (auto& vm : c.vms) vm.guest.rq_lock = false;
      }
      break;
    case Without::kHostQueues:
      scenario.host.queues = HostQueues::kGlobal;
      break;
    case Without::kWorkingSetRefill:
      scenario.host.refill = RefillKind::kFlat;
      break;
    case Without::kVpEntitlement:
      scenario.host.entitlement_by = EntitlementScope::kPartition;
      break;
  }
}

// One case of a built-in scenario, with the kernel governor, scaled down by `scale`.
void sim_events(benchmark::State& state, const char* name, std::size_t case_index, double scale,
                Without mechanism = Without::kNothing) {
  auto scenario = load_scenario(name);
  if (!scenario) {
    state.SkipWithError(scenario.error().message.c_str());
    return;
  }
  turn_off(*scenario, mechanism);
  RunOptions options;
  options.scale = scale;
  std::uint64_t events = 0;
  double sim_s = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    auto result = run_case(*scenario, scenario->cases.at(case_index), options, false);
    if (!result) {
      state.SkipWithError(result.error().message.c_str());
      return;
    }
    events += result->events;
    sim_s += static_cast<double>(result->end_ns) / 1e9;
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["sim_s_per_s"] = benchmark::Counter(sim_s, benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(sim_events, seed_hackbench_10_groups, "seed-hackbench", 0, 0.01)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sim_events, seed_daytrader, "seed-daytrader", 0, 0.1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sim_events, cpu_bound, "cpu-bound", 0, 0.1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sim_events, large, "large", 0, 0.1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sim_events, large_without_rq_lock, "large", 0, 0.1, Without::kRqLock)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sim_events, large_without_host_queues, "large", 0, 0.1, Without::kHostQueues)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sim_events, large_without_working_set_refill, "large", 0, 0.1,
                  Without::kWorkingSetRefill)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sim_events, seed_hackbench_10_groups_without_rq_lock, "seed-hackbench", 0, 0.01,
                  Without::kRqLock)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sim_events, seed_hackbench_10_groups_without_vp_entitlement, "seed-hackbench", 0,
                  0.01, Without::kVpEntitlement)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(sim_events, seed_hackbench_10_groups_without_working_set_refill, "seed-hackbench",
                  0, 0.01, Without::kWorkingSetRefill)
    ->Unit(benchmark::kMillisecond);

constexpr int kMessages = 640;  // one pipe's worth of 100-byte messages (16 x 4 KiB pages)

struct PipeFds {
  PipeFds() {
    if (::pipe(fds.data()) != 0) std::abort();
  }
  ~PipeFds() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  std::array<int, 2> fds{};
};

// CPU time of this thread: other work on a shared machine does not count.
double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void fill(int fd, std::array<char, 100>& message) {
  for (int i = 0; i < kMessages; ++i) {
    if (::write(fd, message.data(), message.size()) != 100) std::abort();
  }
}

void drain(int fd, std::array<char, 100>& message) {
  for (int i = 0; i < kMessages; ++i) {
    if (::read(fd, message.data(), message.size()) != 100) std::abort();
  }
}

// Reported as ns per message: kMessages writes (or reads) per iteration, the other side of the
// pipe untimed.
void BM_PipeWrite100(benchmark::State& state) {
  PipeFds pipe;
  std::array<char, 100> message{};
  double seconds = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    double start = thread_cpu_seconds();
    fill(pipe.fds[1], message);
    seconds += thread_cpu_seconds() - start;
    drain(pipe.fds[0], message);
  }
  state.counters["ns_per_write"] =
      seconds * 1e9 / (static_cast<double>(state.iterations()) * kMessages);
}
BENCHMARK(BM_PipeWrite100);

void BM_PipeRead100(benchmark::State& state) {
  PipeFds pipe;
  std::array<char, 100> message{};
  double seconds = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    fill(pipe.fds[1], message);
    double start = thread_cpu_seconds();
    drain(pipe.fds[0], message);
    seconds += thread_cpu_seconds() - start;
  }
  state.counters["ns_per_read"] =
      seconds * 1e9 / (static_cast<double>(state.iterations()) * kMessages);
}
BENCHMARK(BM_PipeRead100);

// One timed write per iteration to a pipe whose reader is blocked in read(): the writer sleeps
// 200 us first so that the reader (which answers on a second pipe) has gone back to sleep.
void BM_PipeWakingWrite100(benchmark::State& state) {
  PipeFds to_reader;
  PipeFds to_writer;
  std::thread reader([&] {
    std::array<char, 100> in{};
    while (::read(to_reader.fds[0], in.data(), in.size()) == 100) {
      if (::write(to_writer.fds[1], in.data(), 1) != 1) std::abort();
    }
  });
  std::array<char, 100> message{};
  double seconds = 0;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores)
    ::usleep(200);
    double start = thread_cpu_seconds();
    if (::write(to_reader.fds[1], message.data(), message.size()) != 100) std::abort();
    seconds += thread_cpu_seconds() - start;
    if (::read(to_writer.fds[0], message.data(), 1) != 1) std::abort();
  }
  ::close(to_reader.fds[1]);
  to_reader.fds[1] = ::open("/dev/null", O_WRONLY);  // the destructor closes something valid
  reader.join();
  state.counters["ns_per_write"] = seconds * 1e9 / static_cast<double>(state.iterations());
}
BENCHMARK(BM_PipeWakingWrite100)->Iterations(5000);

}  // namespace

BENCHMARK_MAIN();
