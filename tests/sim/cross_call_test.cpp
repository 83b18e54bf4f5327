// Synchronous cross-calls: the initiator spins until every target vCPU has run the handler, so a
// target preempted by the host delays it by that vCPU's host queue delay; KVM's PV TLB flush skips
// a preempted target; a shootdown skips idle vCPUs, smp_call_function() wakes them; at rate 0
// nothing changes.
#include <gtest/gtest.h>

#include "sim/report.h"
#include "sim/run.h"
#include "sim_test_support.h"

namespace prefcpu::sim::testing {
namespace {

Op cross_call(CrossCallKind kind) {
  return Op{OpKind::kCrossCall, static_cast<std::uint32_t>(kind), 0};
}

constexpr Ns kIpi = 1'200;
constexpr Ns kHandler = 1'000;

VmConfig call_vm(const std::string& name, std::uint32_t vcpus, TlbFlushKind flush) {
  VmConfig vm = idle_vm(name, vcpus);
  vm.spec.guest.tlb_flush = flush;
  vm.spec.guest.cross_call_ns = kHandler;
  return vm;
}

// Two pCPUs. vm1's vCPU 0 runs from 0, its vCPU 1 from 0.5 ms; vm2's vCPU is runnable from 1 ms
// and takes vCPU 0's pCPU when its slice ends at 3 ms. vCPU 1's task sends a shootdown at 3.2 ms,
// while vCPU 0 waits on the host with its task current.
struct Preempted {
  Ns sent_at = -1;
  Ns target_dispatched = -1;  // when vCPU 0 next held a pCPU
  Ns pending_until = -1;      // the last step at which the initiator still waited for vCPU 0
  bool target_waiting_at_send = false;
  VmStats stats;
};

Preempted shootdown_with_preempted_target(TlbFlushKind flush) {
  Preempted out;
  HostParams host = bare_host(2);
  host.ipi_ns = kIpi;
  auto sim = make_sim(host, {call_vm("vm1", 2, flush), idle_vm("vm2", 1)});
  if (!sim) return out;
  sim->set_workload(
      0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
             {compute(20 * kMs)},
             {compute(2700 * kUs), cross_call(CrossCallKind::kShootdown), compute(10 * kUs)}}));
  sim->set_workload(
      1, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{{compute(100 * kMs)}}));
  sim->add_task(0, 0, 0);
  sim->run_until(500 * kUs);
  std::uint32_t initiator = sim->add_task(0, 1, 1);
  sim->run_until(1 * kMs);
  sim->add_task(1, 0, 0);
  for (Ns t = 1 * kMs; t <= 30 * kMs; t += 1 * kUs) {
    sim->run_until(t);
    const CrossCallWait& cc = sim->tasks()[initiator].cross_call;
    if (out.sent_at < 0 && sim->vms()[0].stats.cross_calls[0] > 0) {
      out.sent_at = cc.sent ? cc.sent_at : t;  // a call with no target is done at once
      out.target_waiting_at_send = sim->vcpus()[0].host == HostState::kWaiting;
    }
    if (cc.pending > 0) out.pending_until = t;
    if (out.sent_at >= 0 && out.target_dispatched < 0 &&
        sim->vcpus()[0].host == HostState::kRunning) {
      out.target_dispatched = t;
    }
  }
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
  out.stats = sim->vms()[0].stats;
  return out;
}

TEST(CrossCall, InitiatorWaitsUntilThePreemptedTargetRunsAgain) {
  Preempted ipi = shootdown_with_preempted_target(TlbFlushKind::kIpi);
  ASSERT_EQ(ipi.sent_at, 3200 * kUs);
  EXPECT_TRUE(ipi.target_waiting_at_send);
  ASSERT_GT(ipi.target_dispatched, ipi.sent_at);
  // Waiting for exactly as long as vCPU 0 waited on the host: the host queue delay.
  EXPECT_EQ(ipi.pending_until + 1 * kUs, ipi.target_dispatched);
  EXPECT_GE(ipi.stats.cross_call_wait_ns, ipi.target_dispatched - 1 * kUs - ipi.sent_at + kHandler);
  EXPECT_GT(ipi.stats.cross_call_wait_ns, 100 * kUs);
  EXPECT_EQ(ipi.stats.cross_calls[0], 1U);
  EXPECT_EQ(ipi.stats.cross_call_ipis, 1U);
  EXPECT_EQ(ipi.stats.pv_tlb_flushes, 0U);
}

TEST(CrossCall, PvTlbFlushDoesNotWaitForAPreemptedTarget) {
  Preempted pv = shootdown_with_preempted_target(TlbFlushKind::kParavirt);
  ASSERT_EQ(pv.sent_at, 3200 * kUs);
  EXPECT_TRUE(pv.target_waiting_at_send);
  EXPECT_EQ(pv.pending_until, -1);
  EXPECT_EQ(pv.stats.pv_tlb_flushes, 1U);
  EXPECT_EQ(pv.stats.cross_call_ipis, 0U);
  EXPECT_EQ(pv.stats.cross_call_wait_ns, 0);  // nobody to send to: not even the send's cost
  Preempted broadcast = shootdown_with_preempted_target(TlbFlushKind::kBroadcast);
  EXPECT_EQ(broadcast.pending_until, -1);
  EXPECT_EQ(broadcast.stats.cross_call_ipis, 0U);
}

// One pCPU per vCPU; vCPU 1 is idle (halted) when vCPU 0's task calls.
VmStats call_with_idle_target(CrossCallKind kind, HostState* idle_state) {
  auto sim = make_sim(bare_host(2) /* ipi 0 */, {call_vm("vm1", 2, TlbFlushKind::kIpi)});
  if (!sim) return {};
  sim->set_workload(0, std::make_unique<ScriptWorkload>(std::vector<std::vector<Op>>{
                           {compute(100 * kUs), cross_call(kind), compute(100 * kUs)}}));
  sim->add_task(0, 0, 0);
  sim->run_until(50 * kUs);
  *idle_state = sim->vcpus()[1].host;
  sim->run_until(1 * kMs);
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
  EXPECT_EQ(sim->vms()[0].tasks_alive, 0U);
  return sim->vms()[0].stats;
}

TEST(CrossCall, ShootdownSkipsIdleVcpusCallFunctionWakesThem) {
  HostState idle = HostState::kRunning;
  VmStats flush = call_with_idle_target(CrossCallKind::kShootdown, &idle);
  EXPECT_EQ(idle, HostState::kHalted);
  EXPECT_EQ(flush.cross_call_ipis, 0U);  // lazy TLB: not a target
  EXPECT_EQ(flush.cross_call_wait_ns, 0);
  VmStats call = call_with_idle_target(CrossCallKind::kCallFunction, &idle);
  EXPECT_EQ(call.cross_call_ipis, 1U);
  EXPECT_EQ(call.cross_call_wait_ns, kHandler);  // woken at once (ipi 0), then the handler
  EXPECT_GE(call.halts, 2U);                     // halted again after it
}

// An OLTP VM beside a CPU-bound one on a tcg-like host, with and without cross-calls.
VmStats oltp_run(double shootdowns, double calls, Ns handler, std::uint64_t* events) {
  HostParams host = bare_host(2);
  host.ipi_ns = kIpi;
  VmConfig oltp = call_vm("db", 4, TlbFlushKind::kIpi);
  oltp.spec.workload.kind = WorkloadKind::kOltp;
  oltp.spec.workload.shootdowns_per_s = shootdowns;
  oltp.spec.workload.cross_calls_per_s = calls;
  oltp.spec.guest.cross_call_ns = handler;
  VmConfig busy = idle_vm("busy", 2);
  busy.spec.workload.kind = WorkloadKind::kCpuBound;
  auto sim = make_sim(host, {oltp, busy}, 200 * kMs);
  if (!sim) return {};
  sim->run();
  EXPECT_TRUE(sim->fault().empty()) << sim->fault();
  *events = sim->events();
  return sim->vms()[0].stats;
}

TEST(CrossCall, RateZeroChangesNothing) {
  std::uint64_t base_events = 0;
  std::uint64_t zero_events = 0;
  VmStats base = oltp_run(0, 0, kHandler, &base_events);
  VmStats zero = oltp_run(0, 0, 50 * kUs, &zero_events);  // a handler cost nobody pays
  EXPECT_EQ(base_events, zero_events);
  EXPECT_EQ(base.units, zero.units);
  EXPECT_EQ(base.work_ns, zero.work_ns);
  EXPECT_EQ(base.spin_ns, zero.spin_ns);
  EXPECT_EQ(base.cross_calls[0] + base.cross_calls[1], 0U);
}

TEST(CrossCall, RatesIssueCallsThatWaitUnderOvercommit) {
  std::uint64_t events = 0;
  VmStats with = oltp_run(100, 100, kHandler, &events);
  // 100/s each over 0.2 s: about 20 of each (a Poisson count).
  EXPECT_NEAR(static_cast<double>(with.cross_calls[0]), 20.0, 10.0);
  EXPECT_NEAR(static_cast<double>(with.cross_calls[1]), 20.0, 10.0);
  EXPECT_GT(with.cross_call_ipis, with.cross_calls[1]);
  // 6 vCPUs on 2 pCPUs: some target is usually preempted, so the mean wait is far above the
  // IPI and handler of a running one.
  auto calls = static_cast<Ns>(with.cross_calls[0] + with.cross_calls[1]);
  EXPECT_GT(with.cross_call_wait_ns / calls, 10 * (kIpi + kHandler));
}

TEST(CrossCall, ScenarioKeysAndProfileDefaults) {
  const char* base = "name = \"t\"\n[host]\npcpus = 2\nprofile = \"tcg\"\n[[vm]]\nvcpus = 2\n";
  auto tcg = parse_scenario(std::string(base) +
                                "[vm.workload]\nkind = \"oltp\"\nshootdowns_per_s = 2.5\n"
                                "cross_calls_per_s = 40\n[vm.guest]\ncross_call_ns = 700\n",
                            "test.toml");
  ASSERT_TRUE(tcg.ok()) << tcg.error().message;
  const VmSpec& vm = tcg->cases.at(0).vms.at(0);
  EXPECT_EQ(vm.guest.tlb_flush, TlbFlushKind::kIpi);
  EXPECT_EQ(vm.guest.cross_call_ns, 700);
  EXPECT_EQ(vm.workload.shootdowns_per_s, 2.5);
  EXPECT_EQ(vm.workload.cross_calls_per_s, 40.0);
  auto kvm = parse_scenario("name = \"t\"\n[host]\npcpus = 2\n[[vm]]\nvcpus = 2\n", "k.toml");
  ASSERT_TRUE(kvm.ok());
  EXPECT_EQ(kvm->cases.at(0).vms.at(0).guest.tlb_flush, TlbFlushKind::kParavirt);
  std::string flush = scenario_error(std::string(base) + "[guest]\ntlb_flush = \"ipis\"\n");
  EXPECT_NE(flush.find("tlb_flush is \"ipis\": expected one of ipi, pv, broadcast"),
            std::string::npos)
      << flush;
  std::string rate = scenario_error(std::string(base) + "[workload]\ncross_calls_per_s = -1\n");
  EXPECT_NE(rate.find("cross_calls_per_s is -1: expected a number in 0..1000000"),
            std::string::npos)
      << rate;
}

// The JSON names the cross-call counts only where a scenario asked for cross-calls, so that
// default outputs keep their keys; every VM reports its workload rounds.
TEST(CrossCall, JsonHasTheCountsOnlyWhereAScenarioAsksForCalls) {
  auto json_of = [](const std::string& rates) {
    auto scenario = parse_scenario(
        "name = \"t\"\nduration_s = 0.2\n[host]\npcpus = 2\nprofile = \"tcg\"\n[[vm]]\n"
        "vcpus = 4\n[vm.workload]\nkind = \"oltp\"\n" +
            rates,
        "test.toml");
    EXPECT_TRUE(scenario.ok()) << (scenario.ok() ? "" : scenario.error().message);
    if (!scenario.ok()) return std::string();
    auto report = run_scenario(*scenario, RunOptions{});
    EXPECT_TRUE(report.ok()) << (report.ok() ? "" : report.error().message);
    return report.ok() ? format_json(*report) : std::string();
  };
  std::string with = json_of("shootdowns_per_s = 200\ncross_calls_per_s = 200\n");
  for (const char* key : {"\"shootdowns\":", "\"cross_calls\":", "\"cross_call_ipis\":",
                          "\"pv_tlb_flushes\":", "\"cross_call_wait_ms\":", "\"rounds\":"}) {
    EXPECT_NE(with.find(key), std::string::npos) << key << " in " << with;
  }
  std::string without = json_of("");
  EXPECT_EQ(without.find("\"shootdowns\":"), std::string::npos) << without;
  EXPECT_EQ(without.find("\"cross_call_wait_ms\":"), std::string::npos) << without;
  EXPECT_NE(without.find("\"rounds\":"), std::string::npos) << without;
}

}  // namespace
}  // namespace prefcpu::sim::testing
