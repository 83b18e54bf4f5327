// Scenario parameters. Every default cites its row in shared/docs/sim-parameters.md (section and
// mark), a kernel default, or a measurement made here (docs/benchmarks.md, "Simulator").
// "Assumption" marks a value with no source found; docs/simulator.md lists them and shows their
// effect.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/knobs.h"
#include "sim/event_queue.h"

namespace prefcpu::sim {

enum class HostKind : std::uint8_t { kFair, kDispatchWindow };
// The fair host's run queues: one global queue (perfectly work-conserving, the old model) or one
// per pCPU with the host kernel's wakeup placement and load balancing (kernel/sched/fair.c).
enum class HostQueues : std::uint8_t { kGlobal, kPerCpu };
// Who the host is, which decides the lock policies (docs/simulator.md, "Host profiles"): KVM
// (PV spinlocks, PLE, halt polling), QEMU TCG with no PV features (the overcommit rig's host), or
// PowerVM (dispatch windows, H_CONFER).
enum class HostProfile : std::uint8_t { kKvm, kTcg, kPowerVm };
// The guest's kernel spinlock slowpath:
// kQueued: native qspinlock, spin without limit, FIFO (MCS) handoff (kernel/locking/qspinlock.c);
// kTestAndSet: x86 virt_spin_lock(), the fallback when the hypervisor bit is set and there are no
//   PV spinlocks: unfair, whoever spins when the lock is free takes it
//   (arch/x86/include/asm/qspinlock.h, arch/x86/kernel/paravirt-spinlocks.c);
// kParavirt: pv qspinlock, spin SPIN_THRESHOLD, then pv_wait() halts the vCPU until the unlocker's
//   pv_kick() (kernel/locking/qspinlock_paravirt.h, arch/x86/kernel/kvm.c kvm_wait/kvm_kick_cpu).
enum class SpinlockKind : std::uint8_t { kQueued, kTestAndSet, kParavirt };
// How the cache refill after a vCPU switch is sized: kWorkingSet, the part of the vCPU's working
// set that other vCPUs displaced from the pCPU's cache (src/sim/cache.h); kFlat,
// refill_penalty_ns on every switch (the model before issue 10's working-set refill).
enum class RefillKind : std::uint8_t { kWorkingSet, kFlat };
// How the guest flushes other vCPUs' TLBs (docs/simulator.md, "Cross-calls"):
// kIpi: x86 native_flush_tlb_multi(), an IPI to every target, waited for (arch/x86/mm/tlb.c);
// kParavirt: KVM_FEATURE_PV_TLB_FLUSH, kvm_flush_tlb_multi() skips a preempted target and sets
//   KVM_VCPU_FLUSH_TLB, which the host acts on at its next entry (arch/x86/kernel/kvm.c,
//   record_steal_time() in arch/x86/kvm/x86.c);
// kBroadcast: powerpc book3s64, tlbie broadcast or a hypercall (radix_tlb.c, H_RPT_INVALIDATE;
//   hash: flush_hash_page()), no IPI to the targets.
enum class TlbFlushKind : std::uint8_t { kIpi, kParavirt, kBroadcast };
// Who holds a VM's entitled capacity on the dispatch-window host (docs/simulator.md,
// "Entitlement per virtual processor"): kVirtualProcessor, PowerVM's, each virtual processor an
// even share of it, at most one core; kPartition, the VM as a whole (the model before).
enum class EntitlementScope : std::uint8_t { kVirtualProcessor, kPartition };

// EEVDF's base slice on CPUS CPUs: sysctl_sched_base_slice 0.75 ms scaled by
// 1 + ilog2(min(CPUS, 8)) (SCHED_TUNABLESCALING_LOG, kernel/sched/fair.c
// get_update_sysctl_factor()): 0.75 ms on 1 CPU, 1.5 ms on 2, 2.25 ms on 4, 3 ms on 8 or more (§1,
// D).
constexpr Ns eevdf_base_slice(std::uint32_t cpus) {
  std::uint32_t n = cpus < 1 ? 1 : (cpus > 8 ? 8 : cpus);
  Ns factor = 1;
  while (n >= 2) {
    n /= 2;
    ++factor;
  }
  return 750'000 * factor;
}

struct HostParams {
  std::uint32_t pcpus = 0;
  HostKind scheduler = HostKind::kFair;
  HostProfile profile = HostProfile::kKvm;
  // EEVDF base slice 0.75 ms x (1 + ilog2(8)) = 3.0 ms on >= 8 CPUs, v6.6-v6.14 (§1, D); a scenario
  // without slice_us gets eevdf_base_slice(pcpus).
  Ns slice_ns = 3'000'000;
  // Per-pCPU run queues (fair host only): select_idle_sibling() placement, newidle pull, periodic
  // and nohz idle balance at the host tick (docs/simulator.md, "Host run queues").
  HostQueues queues = HostQueues::kPerCpu;
  // The host's CONFIG_HZ: 250, read from this machine's /proc/config.gz (the rig's host, kernel
  // 6.18, CONFIG_HZ_250=y, CONFIG_NO_HZ_IDLE=y); also the Kconfig default (§6, T/U).
  std::uint32_t host_hz = 250;
  // sysctl_sched_migration_cost 0.5 ms: a waiter that left a pCPU less than this ago is cache-hot
  // and not pulled until a periodic balance has failed cache_nice_tries (1) times (task_hot(),
  // can_migrate_task(), kernel/sched/fair.c; sd_init(), kernel/sched/topology.c).
  Ns migration_cost_ns = 500'000;
  // PowerVM hypervisor dispatch cycle (§1, T).
  Ns window_ns = 10'000'000;
  // A VM's entitlement is spread evenly over its virtual processors: "you cannot allocate less
  // than 0.10 PU per virtual processor ... 0.20 PU to run on 4 VCPU means 0.20 / 4 = 0.05 < 0.10"
  // (IBM i5/OS processor concepts slides, manualsdump.com/en/manuals/ibm-i5-os-i5/116984/15, T);
  // "A virtual processor can represent from 0.1 to 1 of a physical processor" (IBM Systems
  // Magazine, "Entitled Capacity and Virtual Processors", 2012, T); 1.5 PU is "for example
  // 7.5ms in 2 cores" (§1, T).
  EntitlementScope entitlement_by = EntitlementScope::kVirtualProcessor;
  // Dispatch-window host: hardware threads per core. Above 1, pcpus counts cores and every VM's
  // virtual processor (smt consecutive vCPUs) is dispatched and preempted as a whole onto a whole
  // core: "Preemption can only happen at core granularity" (§1, S: arch/powerpc/include/asm/
  // paravirt.h). Each VM's [guest] smt must equal it (docs/simulator.md, "Whole-core dispatch").
  std::uint32_t smt = 1;
  // A core's throughput with k busy threads, per mille of one thread alone (index k; each busy
  // thread runs at smt_core_pm[k] / k). k = 2: 1,600, "IBM claims no less than a 60 % performance
  // increase due to 2-way SMT" and one of two threads runs at "about 80 %" of its solo speed
  // (AnandTech, "Assessing IBM's POWER8, Part 1", page "Multi Threading Prowess", 2016, T).
  // k = 4: 2,000 and k = 8: 2,400 are an **assumption** (no published POWER9/POWER10 SMT4/SMT8
  // per-core scaling figure found; docs/simulator.md); 3, 5-7 interpolate linearly (D).
  std::array<std::uint32_t, 9> smt_core_pm{0,     1'000, 1'600, 1'800, 2'000,
                                           2'100, 2'200, 2'300, 2'400};
  // Host task switch ~1.1-2.4 us + one VM entry ~0.5 us: lower bound of a vCPU switch (§2, T/D).
  Ns context_switch_ns = 3'000;
  RefillKind refill = RefillKind::kWorkingSet;
  // kFlat only: indirect cost up to ~10x the 2,000-cycle world switch = 20,000 cycles at 3 GHz
  // (§2 SplitX, D).
  Ns refill_penalty_ns = 6'700;
  // Assumption (gap 4): speed while refilling; only the length of the slow phase depends on it,
  // the work lost is refill_penalty_ns (kFlat) or the missing working set / refill_mb_s.
  std::uint32_t refill_speed_pct = 50;
  // kWorkingSet: the per-pCPU cache that holds a vCPU's working set, the core's private L2.
  // Xeon Scalable: 1 MB mid-level cache per core (Intel support article 000027820, T; §2's
  // figures are from such a Skylake-SP); the rig's host, AMD EPYC: 1 MiB (`getconf
  // LEVEL2_CACHE_SIZE`, measured here). powervm: POWER10's 2 MB L2 per core (Hot Chips 32, T).
  std::uint32_t cache_kib = 1024;
  // kWorkingSet: how fast a missing working set comes back, MB/s (= bytes per us). Measured here:
  // one core of the rig's host reading a 4 MiB buffer (past its L2, in its L3), 60,234-60,559 MB
  // per CPU-second (docs/simulator.md, "Cache refill by working set"); assumed for kvm, powervm.
  std::uint32_t refill_mb_s = 60'000;
  // x86 KVM_HALT_POLL_NS_DEFAULT (§4, S). Polling stops when another vCPU is runnable (§4, S).
  Ns halt_poll_ns = 200'000;
  // Virtual IPI: 3,293-4,238 cycles = 1.1-1.4 us at 3 GHz (§5, D).
  Ns ipi_ns = 1'200;
  // KVM pause-loop exiting: a vCPU that spins for ple_window exits, and kvm_vcpu_on_spin()
  // directed-yields to a vCPU of the same VM preempted in kernel mode (virt/kvm/kvm_main.c).
  bool ple = true;
  // kvm_intel ple_window 4,096 cycles (KVM_VMX_DEFAULT_PLE_WINDOW) at 3 GHz (§3, S/D); it doubles
  // on every exit (ple_window_grow 2) and returns to the base when the vCPU is scheduled in
  // (ple_window_shrink 0) (§3, S).
  Ns ple_window_ns = 1'365;
  // A hypercall or PAUSE exit round trip: VMCALL 1,559 cycles at 3 GHz (§2, S/D). Charged per PLE
  // exit and per H_CONFER (whose cost is not published, gap 6: assumed the same).
  Ns exit_ns = 520;
};

struct GuestParams {
  // CONFIG_HZ 250: Kconfig default and Ubuntu generic before 24.04 (§6, T/U).
  std::uint32_t hz = 250;
  // The guest's own EEVDF base slice; 0: eevdf_base_slice() of the VM's vCPUs (§1/§6, D).
  Ns slice_ns = 0;
  // Same-vCPU guest context switch + wakeup, 328-345 ns (§5 OSv, T).
  Ns task_switch_ns = 330;
  // sd_init(): balance_interval = sd_weight ms; busy_factor 16; imbalance_pct 117 (§6, S).
  std::uint32_t busy_factor = 16;
  std::uint32_t imbalance_pct = 117;
  // sysctl_sched_migration_cost 500 us (kernel/sched/fair.c, §1 S): task_hot() calls a task that
  // ran this recently cache-hot; a run queue starts with avg_idle = 2 x this and
  // max_idle_balance_cost = this (kernel/sched/core.c sched_init()).
  Ns migration_cost_ns = 500'000;
  // sd->max_newidle_lb_cost: sched_balance_newidle() (v5.16+, so v6.12) skips the pull when
  // rq->avg_idle is below it. Assumption (not measured here; the guest's debugfs is not read): a
  // newidle balance over one domain of <= 16 run queues. 500000 gives the pre-v5.16 gate
  // (avg_idle < sysctl_sched_migration_cost).
  Ns newidle_lb_cost_ns = 5'000;
  // sd_init(): cache_nice_tries 1 on an LLC (SD_SHARE_LLC) domain (kernel/sched/topology.c, S);
  // can_migrate_task() moves a cache-hot task once nr_balance_failed exceeds it.
  std::uint32_t cache_nice_tries = 1;
  // pv qspinlock SPIN_THRESHOLD 32768 x PAUSE ~10 cycles at 3 GHz = 109 us (§3, D).
  Ns spin_limit_ns = 109'000;
  // Waiters stop spinning when the holder's vCPU is preempted (owner_on_cpu(), §3, S).
  bool pv_preempted = true;
  // The kernel spinlock slowpath; the host profile picks the default (kvm: pv, tcg: test-and-set,
  // powervm: queued).
  SpinlockKind spinlock = SpinlockKind::kParavirt;
  // powerpc qspinlock: a spinner whose lock owner's vCPU is preempted confers its cycles to it
  // with H_CONFER (yield_to_locked_owner(), arch/powerpc/lib/qspinlock.c). powervm profile only.
  bool confer = false;
  // Each vCPU's run-queue lock (rq->__lock, a raw spinlock with the spinlock slowpath above):
  // held by __schedule() across the guest task switch (task_switch_ns, from rq_lock() to
  // finish_lock_switch()), and by a waker activating a task on a busy or local vCPU
  // (ttwu_queue(), inside the pipe's wait-queue lock, for wake_ns) (kernel/sched/core.c).
  bool rq_lock = true;
  // v2-v5 made available_idle_cpu() false on non-preferred CPUs; v6+ dropped it (kernel-spec §3.2).
  bool wakeup_skips_non_preferred = false;
  // The remote TLB flush; the host profile picks the default (kvm: pv, tcg: ipi, powervm:
  // broadcast).
  TlbFlushKind tlb_flush = TlbFlushKind::kParavirt;
  // A target's cross-call handler: interrupt entry and exit plus flush_tlb_func() or the called
  // function. Assumption (not measured here): 1 us; a single-page INVLPG is "about 100 ns"
  // (arch/x86/mm/tlb.c, tlb_single_page_flush_ceiling), the interrupt round trip is not sourced.
  Ns cross_call_ns = 1'000;
  // Threads per core given to the governor's Topology; the governor sheds one core per step.
  std::uint32_t smt = 1;
  // /proc/stat unit (§6 USER_HZ, U).
  std::uint32_t user_hz = 100;
};

enum class WorkloadKind : std::uint8_t { kHackbench, kOltp, kCpuBound, kSpinbench, kIdle };

struct WorkloadParams {
  WorkloadKind kind = WorkloadKind::kIdle;
  // hackbench: rt-tests defaults groups 10, fds 20 (§7, S).
  std::uint32_t groups = 10;
  std::uint32_t fds = 20;
  std::uint32_t loops = 100;  // rt-tests default 100 (§7, S); scenarios scale it
  // CPU per 100-byte pipe write / read, measured here (docs/benchmarks.md, "Simulator"): bench_sim
  // BM_PipeWrite100 ns_per_write median 359, BM_PipeRead100 ns_per_read median 353.
  Ns write_ns = 359;
  Ns read_ns = 353;
  // 16 pipe buffers x 4 KiB, 40 merged 100-byte messages per page = 640 (§7 PIPE_DEF_BUFFERS, D).
  std::uint32_t pipe_capacity = 640;
  // fs/pipe.c: the copy runs under pipe->mutex.
  bool pipe_lock = true;
  // fs/pipe.c: after dropping pipe->mutex, a write to an empty pipe wakes rd_wait and a read from
  // a full one wakes wr_wait, each under its wait queue's spinlock (wq_head->lock, taken by
  // __wake_up_common_lock() whether or not anyone waits).
  bool wakeup_lock = true;
  // Hold time of that section: the wait-queue walk and try_to_wake_up(). Assumption (not measured
  // here): the same-vCPU wakeup and switch, 328-345 ns (§5 OSv, T), as an upper bound.
  Ns wake_ns = 330;
  // OLTP: ~42 SQL statements per DayTrader transaction at 48-58 us CPU each (§9, T/D).
  std::uint32_t statements = 42;
  Ns statement_ns = 53'000;
  // "most spinlocks are held for less than 2^12 cycles" = 1.4 us at 3 GHz (§3, S/D); oltp draws
  // it from an exponential, spinbench holds it exactly.
  Ns hold_ns = 1'400;
  std::uint32_t locks = 4;             // assumption (gap 11): shared hot locks per VM
  std::uint32_t workers_per_vcpu = 2;  // assumption (gap 11): worker threads per vCPU
  double load = 0.6;                   // v12 cover letter ran DayTrader at 30 % and 60 % load
  // CPU-bound: each task computes in chunks of this size; only the event count depends on it.
  Ns chunk_ns = 1'000'000;
  std::uint32_t tasks_per_vcpu = 1;
  // spinbench: threads loop {spin_lock, hold_ns, spin_unlock, outside_ns} on one spinlock.
  // Assumptions (sim-parameters.md §3 gives no setup for Ouyang & Lange's microbenchmarks):
  // 0 threads = one per vCPU; 10 us outside, so 1.4 of every 11.4 us is under the lock.
  std::uint32_t threads = 0;
  std::uint32_t iterations = 20'000;
  Ns outside_ns = 10'000;
  // Bytes a vCPU touches in one dispatch, per vCPU; 0: the kind's default (working_set_bytes(),
  // src/sim/cache.cpp): hackbench and CPU-bound their tasks' stacks and a page each, OLTP more
  // than the cache.
  std::uint32_t working_set_kib = 0;
  // Synchronous cross-calls per second per VM, issued by whichever task next asks for an op holding
  // no lock (cross_call.cpp): TLB shootdowns of the tasks' mm and smp_call_function()s. 0: none.
  // The rig counted 1-2 shootdowns and 179-268 CAL IPIs per guest per 3.4-7.1 s run
  // (docs/simulator.md, "The tcg profile, measured"), not a clean rate: the default stays 0.
  double shootdowns_per_s = 0;
  double cross_calls_per_s = 0;
};

// One phase of a VM's load schedule ([[vm.load]]): from at_ns the level (a multiple of the
// workload's task count) moves to `level`, at once or linearly over ramp_ns (docs/simulator.md,
// "Load schedules").
struct LoadPhase {
  Ns at_ns = 0;
  double level = 1.0;
  Ns ramp_ns = 0;
};

struct VmSpec {
  std::string name;
  std::uint32_t vcpus = 0;
  std::uint32_t weight = 1024;          // host default: every vCPU thread at nice 0
  std::optional<double> entitlement;    // dispatch-window: processing units; default: fair share
  std::optional<std::string> governor;  // pinned by the scenario; wins over --governor
  std::optional<std::uint32_t> interval_ms;
  std::optional<std::uint32_t> high_threshold;
  std::optional<std::uint32_t> low_threshold;
  GuestParams guest;
  WorkloadParams workload;
  std::vector<LoadPhase> load;  // empty: the workload at level 1 for the whole run
};

struct CaseSpec {
  std::string name;
  std::vector<VmSpec> vms;  // fully merged: scenario defaults, VM table, case overrides
};

struct Scenario {
  std::string name;
  std::string description;
  std::uint64_t seed = 1;
  Ns duration_ns = 10'000'000'000;  // cap; finite workloads may finish earlier
  HostParams host;
  Knobs knobs;  // the steal_governor defaults 1000 / 500 / 200 (kernel-spec §1.4)
  // Each VM's first governor sample at a random phase of its interval: real guests' daemons do
  // not sample in lockstep. false: every VM samples at t = 0, k x interval (the old behaviour).
  bool random_governor_phase = true;
  // A finite workload that ends while another VM's has not restarts (hackbench runs another
  // round), so every measured VM runs beside loaded neighbours; each VM's metric is still its
  // first round. false: a finished VM idles, as on the overcommit rig (docs/overcommit.md).
  bool keep_neighbours_busy = false;
  std::vector<CaseSpec> cases;
};

}  // namespace prefcpu::sim
