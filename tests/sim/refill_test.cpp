// Cache refill by working set: footprints per pCPU, displaced in proportion by other vCPUs.
#include <gtest/gtest.h>

#include "sim/cache.h"
#include "sim/scenario.h"
#include "sim_test_support.h"

namespace prefcpu::sim::testing {
namespace {

constexpr std::uint64_t kKib = 1024;

// One pCPU with a 1 MiB cache refilled at 10 bytes/ns (10,000 MB/s), no switch cost.
HostParams cache_host() {
  HostParams host = bare_host(1);
  host.refill = RefillKind::kWorkingSet;
  host.cache_kib = 1024;
  host.refill_mb_s = 10'000;
  host.refill_speed_pct = 50;
  return host;
}

VmConfig vm_with_set(const std::string& name, std::uint32_t kib) {
  VmConfig vm = idle_vm(name, 1);
  vm.spec.workload.working_set_kib = kib;
  return vm;
}

// vm "a" (512 KiB) runs 100 us, sleeps 2 ms; meanwhile vm "b" (other_kib) runs 200 us on the
// same pCPU; then "a" runs again. Returns the work "a" lost to refill on its second dispatch.
Ns second_refill_of_a(std::uint32_t other_kib) {
  auto sim = make_sim(cache_host(), {vm_with_set("a", 512), vm_with_set("b", other_kib)});
  EXPECT_TRUE(sim);
  if (!sim) return -1;
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(100 * kUs), sleep_for(2 * kMs), compute(100 * kUs)}}));
  sim->set_workload(
      1, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(200 * kUs)}}));
  std::uint32_t a = sim->add_task(0, 0, 0);
  std::uint32_t b = sim->add_task(1, 0, 0);
  sim->run_until(10 * kMs);
  EXPECT_EQ(sim->tasks()[a].state, TaskState::kDone);
  EXPECT_EQ(sim->tasks()[b].state, TaskState::kDone);
  EXPECT_EQ(sim->vms()[0].stats.host_switches, 2U);  // a ran twice, b in between
  // b's first dispatch is cold: its whole set (up to the cache) is missing.
  EXPECT_EQ(sim->vms()[1].stats.refill_ns,
            static_cast<Ns>(std::min<std::uint64_t>(other_kib, 1024) * kKib / 10));
  // a's first dispatch is cold too: 512 KiB at 10 bytes/ns.
  return sim->vms()[0].stats.refill_ns - static_cast<Ns>(512 * kKib / 10);
}

// b's 256 KiB fit beside a's 512 KiB in the 1 MiB cache: a finds all of its set and pays nothing,
// although another vCPU ran on its pCPU (the flat model charged every such switch).
TEST(Refill, ASetThatStillFitsCostsNothing) {
  EXPECT_EQ(second_refill_of_a(256), 0);
}

// b's 1 MiB fills the cache: a's whole 512 KiB is gone and refilled, 52,428 ns of work.
TEST(Refill, AWorkingSetAsLargeAsTheCacheDisplacesEverything) {
  EXPECT_EQ(second_refill_of_a(1024), static_cast<Ns>(512 * kKib / 10));
}

// b's 768 KiB: 512 KiB go into free space, 256 KiB displace half of a's 512 KiB; a refills
// 256 KiB, 26,214 ns.
TEST(Refill, APartialDisplacementRefillsOnlyWhatWasLost) {
  EXPECT_EQ(second_refill_of_a(768), static_cast<Ns>(256 * kKib / 10));
}

// The refill slows the guest down: a's second 100 us start at 2,152,428 ns (100 us + its cold
// 52,428 ns at half speed, then 2 ms asleep), run at half speed for 52,428 ns and end 73,786 ns
// later.
TEST(Refill, TheMissingPartDelaysTheGuestsWork) {
  auto sim = make_sim(cache_host(), {vm_with_set("a", 512), vm_with_set("b", 768)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(100 * kUs), sleep_for(2 * kMs), compute(100 * kUs)}}));
  sim->set_workload(
      1, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(200 * kUs)}}));
  std::uint32_t a = sim->add_task(0, 0, 0);
  sim->add_task(1, 0, 0);
  sim->run_until(2'278'641);
  EXPECT_EQ(sim->tasks()[a].state, TaskState::kRunning);
  sim->run_until(2'278'642);
  EXPECT_EQ(sim->tasks()[a].state, TaskState::kDone);
}

// The displacement rule itself: incoming lines take from every other footprint in proportion.
TEST(Refill, OthersLoseInProportionToTheirSize) {
  PcpuCache cache;
  const std::uint64_t capacity = 1024 * kKib;
  EXPECT_EQ(cache_load(cache, 0, 600 * kKib, capacity), 600 * kKib);  // cold
  EXPECT_EQ(cache_load(cache, 1, 200 * kKib, capacity), 200 * kKib);  // fits
  EXPECT_EQ(cache_load(cache, 0, 600 * kKib, capacity), 0U);          // still resident
  // 400 KiB more than the 224 KiB free: 176 KiB displaced from 800 KiB, 22 % of each.
  EXPECT_EQ(cache_load(cache, 2, 400 * kKib, capacity), 400 * kKib);
  EXPECT_EQ(cache_resident(cache, 0), 600 * kKib * 624 / 800);
  EXPECT_EQ(cache_resident(cache, 1), 200 * kKib * 624 / 800);
  EXPECT_EQ(cache.used, capacity);
  // A set larger than the cache loads only the cache's worth and leaves nothing of the others.
  EXPECT_EQ(cache_load(cache, 3, 4096 * kKib, capacity), capacity);
  EXPECT_EQ(cache.held.size(), 1U);
  EXPECT_EQ(cache_resident(cache, 0), 0U);
}

// refill = "flat" keeps the old fixed penalty on every switch, whatever the working sets.
TEST(Refill, FlatKeyKeepsTheFixedPenalty) {
  HostParams host = cache_host();
  host.refill = RefillKind::kFlat;
  host.refill_penalty_ns = 6'700;
  auto sim = make_sim(host, {vm_with_set("a", 512), vm_with_set("b", 256)});
  ASSERT_TRUE(sim);
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(100 * kUs), sleep_for(2 * kMs), compute(100 * kUs)}}));
  sim->set_workload(
      1, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(200 * kUs)}}));
  sim->add_task(0, 0, 0);
  sim->add_task(1, 0, 0);
  sim->run_until(10 * kMs);
  EXPECT_EQ(sim->vms()[0].stats.refill_ns, 2 * 6'700);
  EXPECT_EQ(sim->vms()[1].stats.refill_ns, 6'700);
}

// hackbench's default set is its tasks per vCPU x (16 KiB stack + 4 KiB page); OLTP's exceeds
// any cache; an explicit working_set_kib wins.
TEST(Refill, WorkingSetDefaultsFollowTheWorkload) {
  WorkloadParams hackbench;
  hackbench.kind = WorkloadKind::kHackbench;
  hackbench.groups = 4;
  hackbench.fds = 20;
  EXPECT_EQ(working_set_bytes(hackbench, 8), 20 * 20 * kKib);  // 160 tasks on 8 vCPUs
  WorkloadParams oltp;
  oltp.kind = WorkloadKind::kOltp;
  EXPECT_GE(working_set_bytes(oltp, 8), 1024 * 1024 * kKib / 16);
  oltp.working_set_kib = 300;
  EXPECT_EQ(working_set_bytes(oltp, 8), 300 * kKib);
}

TEST(Refill, ScenarioKeysAndProfileDefaults) {
  auto parse = [](std::string_view host, std::string_view workload = "") {
    return parse_scenario(fmt::format("name = \"t\"\n[host]\npcpus = 2\n{}\n[workload]\n{}\n"
                                      "[[vm]]\nvcpus = 2\n",
                                      host, workload),
                          "test.toml");
  };
  auto kvm = parse("profile = \"kvm\"");
  ASSERT_TRUE(kvm.ok()) << kvm.error().message;
  EXPECT_EQ(kvm->host.refill, RefillKind::kWorkingSet);
  EXPECT_EQ(kvm->host.cache_kib, 1024U);
  auto powervm = parse("profile = \"powervm\"");
  ASSERT_TRUE(powervm.ok());
  EXPECT_EQ(powervm->host.cache_kib, 2048U);
  auto given = parse("profile = \"tcg\"\nrefill = \"flat\"\ncache_kib = 512\nrefill_mb_s = 5000",
                     "working_set_kib = 64");
  ASSERT_TRUE(given.ok()) << given.error().message;
  EXPECT_EQ(given->host.refill, RefillKind::kFlat);
  EXPECT_EQ(given->host.cache_kib, 512U);
  EXPECT_EQ(given->host.refill_mb_s, 5000U);
  EXPECT_EQ(given->cases[0].vms[0].workload.working_set_kib, 64U);
  auto bad = parse("refill = \"lru\"");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("refill is \"lru\": expected one of working-set, flat"),
            std::string::npos)
      << bad.error().message;
  auto huge = parse("cache_kib = 0");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message.find("cache_kib is 0: expected an integer in 1..1048576"),
            std::string::npos)
      << huge.error().message;
}

}  // namespace
}  // namespace prefcpu::sim::testing
