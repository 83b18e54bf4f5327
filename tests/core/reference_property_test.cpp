// Randomized property test: the real StealMonitor and CpuSet against the reference model.
#include <gtest/gtest.h>

#include <random>

#include "core/cpu_set.h"
#include "core/steal_monitor.h"
#include "reference_model.h"

namespace prefcpu {
namespace {

reference::Cpus to_ref(const CpuSet& set) {
  auto v = set.to_vector();
  return {v.begin(), v.end()};
}

CpuSet from_ref(const reference::Cpus& cpus) {
  CpuSet set;
  for (unsigned cpu : cpus) set.set(cpu);
  return set;
}

TEST(ReferenceProperty, CpulistFormatAndParseAgreeWithTheReference) {
  std::mt19937_64 rng(20261125);
  for (int round = 0; round < 2000; ++round) {
    reference::Cpus cpus;
    unsigned limit = 1U + static_cast<unsigned>(rng() % 8192);
    unsigned n = static_cast<unsigned>(rng() % 40);
    for (unsigned i = 0; i < n; ++i) cpus.insert(static_cast<unsigned>(rng() % limit));
    CpuSet set = from_ref(cpus);
    ASSERT_EQ(format_cpulist(set), reference::format(cpus));
    auto parsed = parse_cpulist(format_cpulist(set));
    ASSERT_TRUE(parsed);
    ASSERT_EQ(*parsed, set);
    ASSERT_EQ(set.count(), cpus.size());
    if (!cpus.empty()) {
      ASSERT_EQ(set.first(), *cpus.begin());
      ASSERT_EQ(set.last(), *cpus.rbegin());
    }
  }
}

struct RandomMachine {
  Topology topology;
  reference::Machine reference;
};

RandomMachine random_machine(std::mt19937_64& rng) {
  unsigned cores = 1 + static_cast<unsigned>(rng() % 12);
  unsigned smt = 1 + static_cast<unsigned>(rng() % 4);
  bool spread = rng() % 2 == 0;
  TopologyInput input;
  reference::Machine ref;
  for (unsigned k = 0; k < cores; ++k) {
    CpuSet core;
    reference::Cpus ref_core;
    for (unsigned t = 0; t < smt; ++t) {
      unsigned cpu = spread ? k + t * cores : k * smt + t;
      core.set(cpu);
      ref_core.insert(cpu);
    }
    input.cores.push_back(core);
    ref.cores.push_back(ref_core);
  }
  input.online = CpuSet::range(0, cores * smt - 1);
  for (unsigned cpu = 0; cpu < cores * smt; ++cpu) {
    if (rng() % 6 == 0) {
      input.nohz_full.set(cpu);
      ref.nohz_full.insert(cpu);
    } else if (rng() % 12 == 0) {
      input.isolated.set(cpu);
      ref.isolated.insert(cpu);
    }
  }
  auto topo = Topology::build(input);
  EXPECT_TRUE(topo);
  return {*topo, ref};
}

TEST(ReferenceProperty, StealMonitorAgreesWithTheReferenceOnRandomTraces) {
  std::mt19937_64 rng(42);
  int compared = 0;
  for (int trace = 0; trace < 400; ++trace) {
    RandomMachine machine = random_machine(rng);
    bool v2 = rng() % 2 == 0;
    std::uint32_t high = 1 + static_cast<std::uint32_t>(rng() % 3000);
    std::uint32_t low = static_cast<std::uint32_t>(rng() % high);
    std::uint64_t user_hz = rng() % 2 == 0 ? 100 : 250;
    auto monitor =
        StealMonitor::create(machine.topology, {1000, high, low},
                             std::move(*make_governor(v2 ? "kernel-v2" : "kernel")), user_hz);
    ASSERT_TRUE(monitor);
    reference::Monitor ref(machine.reference, v2, high, low, user_hz);

    CpuSet all = machine.topology.online();
    CpuSet online = all;
    std::int64_t t = static_cast<std::int64_t>(rng() % 1'000'000'000);
    std::uint64_t steal = rng() % 1000;
    for (int sample = 0; sample < 60; ++sample) {
      if (sample > 0) {
        switch (rng() % 8) {
          case 0:
            t += static_cast<std::int64_t>(rng() % 1'000'000);  // under 1 ms: skipped
            break;
          case 1:
            t += 1'000'000;  // exactly 1 ms
            break;
          default:
            t += 100'000'000 + static_cast<std::int64_t>(rng() % 2'000'000'000);
        }
        std::uint64_t span = online.count() * 200;  // up to 2 s of steal per CPU in ticks
        steal = rng() % 20 == 0 ? steal / 2 : steal + rng() % (span + 1);
        if (rng() % 5 == 0) {  // hotplug: toggle one CPU, never the last one
          unsigned cpu = static_cast<unsigned>(rng() % all.count());
          CpuSet next = online;
          if (next.test(cpu)) {
            next.reset(cpu);
          } else {
            next.set(cpu);
          }
          if (!next.empty()) online = next;
        }
      }
      Step real = monitor->observe({t, steal, online});
      reference::Outcome want = ref.observe(t, steal, to_ref(online));
      ASSERT_EQ(std::string(action_name(real.action)), want.action)
          << "trace " << trace << " sample " << sample;
      ASSERT_EQ(real.steal_bp, want.steal_bp) << "trace " << trace << " sample " << sample;
      ASSERT_EQ(format_cpulist(real.preferred), reference::format(want.preferred))
          << "trace " << trace << " sample " << sample;
      // The invariants, checked on every step.
      ASSERT_FALSE(real.preferred.empty());
      ASSERT_TRUE(real.preferred.is_subset_of(online));
      ++compared;
    }
  }
  EXPECT_EQ(compared, 400 * 60);
}

}  // namespace
}  // namespace prefcpu
