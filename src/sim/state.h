// The state of one simulated host and its guests, shared by the three parts that act on it: the
// host scheduler (host.h), the guest scheduler (guest.h) and the task executor (exec.h). World
// owns it; the parts own no state of their own but their rules.
#pragma once

#include <array>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/steal_monitor.h"
#include "sim/cache.h"
#include "sim/event_queue.h"
#include "sim/params.h"
#include "sim/rng.h"
#include "sim/vcpu_mask.h"

namespace prefcpu::sim {

inline constexpr std::uint32_t kNone = UINT32_MAX;
inline constexpr Ns kNever = std::numeric_limits<Ns>::max();

enum class HostState : std::uint8_t { kHalted, kWaiting, kRunning, kPolling };
inline constexpr std::size_t kHostStates = 4;
enum class TaskState : std::uint8_t { kRunnable, kRunning, kBlocked, kDone };
enum class OpKind : std::uint8_t {
  kCompute,
  kLock,
  kUnlock,
  kPipeWrite,
  kPipeRead,
  // try_to_wake_up() of pending wakee `object` (Task::wakee), in two ops around the activation:
  kWakeSelect,  // select_task_rq(), then rq_lock() of that vCPU where ttwu_queue() takes it
  kWakeUp,      // enqueue where kWakeSelect chose, then drop that rq lock
  kOverhead,    // kernel work of `ns` booked as overhead, not task work (the guest task switch)
  kCrossCall,   // a synchronous cross-call of CrossCallKind `object` (cross_call.cpp)
  kSleep,
  kExit
};

// A spinlock waiter that spins without limit (native and test-and-set spinlocks).
inline constexpr Ns kSpinForever = Ns{1} << 60;

// What a kCrossCall sends: a TLB shootdown (flush_tlb_mm_range(): the other vCPUs running the
// initiator's mm) or smp_call_function() (every other online vCPU of the VM, idle ones woken).
enum class CrossCallKind : std::uint8_t { kShootdown, kCallFunction };
inline constexpr std::size_t kCrossCallKinds = 2;

struct Op {
  OpKind kind = OpKind::kExit;
  std::uint32_t object = 0;  // lock or pipe id
  Ns ns = 0;                 // compute or sleep length
};

struct List {
  std::uint32_t head = kNone;
  std::uint32_t tail = kNone;
  std::uint32_t size = 0;
};

// A task's place on one List: the task indices of its neighbours there.
struct Links {
  std::uint32_t next = kNone;
  std::uint32_t prev = kNone;
};

// The locks a task holds, innermost last: a wait-queue lock with a run-queue lock inside it
// (try_to_wake_up() under __wake_up_common_lock()) is the deepest nesting the model has.
struct HeldLocks {
  std::array<std::uint32_t, 3> ids{kNone, kNone, kNone};
  std::uint8_t n = 0;

  bool empty() const { return n == 0; }
  bool holds(std::uint32_t lock) const {
    for (std::uint8_t i = 0; i < n; ++i) {
      if (ids[i] == lock) return true;
    }
    return false;
  }
  // Idempotent: a lock handed over while its waiter spun is taken again when the waiter runs.
  void add(std::uint32_t lock) {
    if (!holds(lock)) ids[n++] = lock;
  }
  void remove(std::uint32_t lock) {
    std::uint8_t i = 0;
    while (i < n && ids[i] != lock) ++i;
    if (i == n) return;
    for (; i + 1 < n; ++i) ids[i] = ids[i + 1];
    ids[--n] = kNone;
  }
};

// Kernel ops run on a task's behalf before its program goes on (the __schedule() that switched it
// in, under its vCPU's run-queue lock); the op they interrupted is kept and resumed after them.
struct KernelOps {
  std::array<Op, 3> ops{};
  std::uint8_t n = 0;
  std::uint8_t next = 0;
  Op saved;  // the interrupted op, with its compute left
  Ns saved_remaining = 0;
  bool has_saved = false;

  bool pending() const { return next < n; }
};

// A task's synchronous cross-call in flight: sent, and spinning in csd_lock_wait() until every
// target has run the handler (kernel/smp.c smp_call_function_many_cond()).
struct CrossCallWait {
  bool sent = false;
  std::uint32_t pending = 0;  // targets that have not run the handler: on their Vcpu::csd_queue
  Ns done_at = 0;             // when the last target known so far finishes the handler
  Ns sent_at = 0;
};

struct Task {
  std::uint32_t vm = 0;
  std::uint32_t local = 0;  // index within its workload, which keeps the task's program state
  TaskState state = TaskState::kRunnable;
  std::uint32_t vcpu = kNone;  // global vCPU id where queued or running
  std::uint32_t prev_vcpu = kNone;
  Op op;
  bool has_op = false;
  Ns remaining = 0;  // compute left in op
  Ns overhead = 0;   // guest switch / IPI cost to execute before the op continues
  Ns spin_left = 0;
  bool spinning = false;
  bool pv_halted = false;  // pv qspinlock: pv_wait() halted the vCPU; still queued on the lock
  Ns ple_spun = 0;         // spun since the last pause-loop exit
  Ns spin_armed = 0;       // spin the armed progress event covers (<= spin_left)
  // fs/pipe.c wakes after dropping pipe->mutex: the wait-queue spinlock to take and the task to
  // wake under it (kNone: nobody waits, the lock is still taken), set by a pipe op.
  std::array<std::uint32_t, 2> wake_lock{kNone, kNone};
  std::array<std::uint32_t, 2> wakee{kNone, kNone};
  // What kWakeSelect chose for each wakee: its vCPU, and that vCPU's rq lock when try_to_wake_up()
  // takes it (ttwu_queue(): a busy or local target; kNone: an idle remote one gets an IPI).
  std::array<std::uint32_t, 2> wake_vcpu{kNone, kNone};
  std::array<std::uint32_t, 2> wake_rq_lock{kNone, kNone};
  KernelOps kernel;
  Op retry;  // a pipe op to redo after re-taking the pipe lock
  bool has_retry = false;
  HeldLocks held;
  CrossCallWait cross_call;
  Ns slice_exec = 0;
  std::uint32_t affinity = 0;  // 0: every vCPU; else index into Vm::affinities
  Links rq_link;               // on its vCPU's run queue
  Links wq_link;  // on a wait queue: a lock's spinners or blocked, a pipe's readers or writers
  std::uint32_t sleep_gen = 0;
  // se.exec_start as task_hot() reads it: when the task last left its vCPU; -1 after a migration
  // (migrate_task_rq_fair() zeroes it) or before it first ran.
  Ns last_ran = -1;
  std::uint32_t recent_used_vcpu = kNone;  // p->recent_used_cpu (global id)
  // record_wakee() / wake_wide(): the last task this one woke and how often that changed.
  std::uint32_t last_wakee = kNone;
  std::uint32_t wakee_flips = 0;
  Ns wakee_flip_decay = 0;
};

struct Vcpu {
  std::uint32_t vm = 0;
  std::uint32_t local = 0;
  HostState host = HostState::kHalted;  // changed only by set_host_state()
  Ns state_since = 0;
  std::array<Ns, kHostStates> state_ns{};  // closed time in each HostState
  std::uint32_t pcpu = kNone;
  std::uint32_t last_pcpu = kNone;
  std::uint32_t queued_on = kNone;  // per-pCPU host queues: the pCPU whose queue it waits on
  Ns left_pcpu_at = 0;              // when it last stopped running (task_hot()'s exec_start)
  Ns run_start = 0;                 // dispatch time: the open run's vruntime is charged from here
  std::uint64_t vruntime = 0;
  Ns exec_from = 0;
  Ns refill_until = 0;
  // Whole-core dispatch (HostParams::smt > 1): this thread's speed, per mille, from how many
  // threads of its core are busy (HostParams::smt_core_pm); 1000 otherwise.
  std::uint32_t speed_pm = 1000;
  std::uint32_t vp_core = kNone;  // whole-core dispatch: the core its virtual processor holds
  // Whole-core dispatch, kept on a virtual processor's first vCPU: its weighted core time (the
  // host queue's order after entitlement) and when it last took a core.
  std::uint64_t vp_vruntime = 0;
  Ns vp_since = 0;
  Ns accounted_to = 0;
  Ns armed_end = kNever;
  std::uint32_t gen = 0;
  std::uint32_t tick_gen = 0;
  bool tick_armed = false;
  bool tick_pending = false;
  bool wake_pending = false;
  bool idle_balance = false;  // kicked for a nohz idle balance
  std::uint32_t current = kNone;
  std::uint32_t last_task = kNone;
  Ns ple_window_ns = 0;  // KVM's per-vCPU PLE window: base at dispatch, doubled per exit
  // Initiators (task ids) whose cross-call IPI this vCPU has pending and runs on its next dispatch.
  std::vector<std::uint32_t> csd_queue;
  List rq;
  std::uint32_t rq_lock = kNone;  // rq->__lock, a kernel spinlock; kNone: not modelled
  Ns next_balance = 0;
  // rq->avg_idle: update_avg() of the idle periods that ended in a wakeup onto this vCPU, capped
  // at 2 x max_idle_balance_cost; idle_stamp: when its newidle balance found nothing (-1: none).
  Ns avg_idle = 0;
  Ns idle_stamp = -1;
  std::uint32_t nr_balance_failed = 0;  // sd->nr_balance_failed of this vCPU's domain
  // PELT-like utilisation, 0..1024: time with a current task, half-life 32 ms (util_avg).
  std::uint32_t util = 0;
  Ns util_since = 0;
};

// Time v has spent in `state` up to now, the open period included.
inline Ns time_in(const Vcpu& v, HostState state, Ns now) {
  Ns closed = v.state_ns[static_cast<std::size_t>(state)];
  return v.host == state ? closed + (now - v.state_since) : closed;
}

// Every host state change goes through here, so the time in each state adds up to the clock.
inline void set_host_state(Vcpu& v, HostState state, Ns now) {
  v.state_ns[static_cast<std::size_t>(v.host)] += now - v.state_since;
  v.state_since = now;
  v.host = state;
}

struct Pcpu {
  std::uint32_t current = kNone;
  std::uint32_t last = kNone;
  std::uint32_t gen = 0;
  // Per-pCPU host queues: waiting vCPUs (a heap), and this CPU's sched domain balance state
  // (one LLC domain over all pCPUs, single-CPU groups).
  std::vector<std::uint32_t> queue;
  Ns next_balance = 0;
  Ns last_balance = 0;
  std::uint32_t balance_interval_ms = 0;  // sd->balance_interval: min_interval..max_interval
  std::uint32_t nr_balance_failed = 0;
  PcpuCache cache;  // whose working sets this pCPU's cache holds (RefillKind::kWorkingSet)
};

struct Lock {
  std::uint32_t owner = kNone;
  bool spin = false;  // a kernel spinlock (never sleeps); else a spin-then-block mutex
  List spinners;      // a spinlock's queue in arrival order (spinning or pv-halted), else spinners
  List blocked;
};

struct Pipe {
  std::uint32_t count = 0;
  std::uint32_t capacity = 1;
  std::uint32_t lock = kNone;
  std::uint32_t rd_wait_lock = kNone;  // spinlocks of the two wait queues; kNone: wake at once
  std::uint32_t wr_wait_lock = kNone;
  List readers;
  List writers;
};

struct VmStats {
  std::uint64_t units = 0;  // messages read, transactions, chunks
  Ns work_ns = 0;           // useful task compute
  Ns spin_ns = 0;
  Ns overhead_ns = 0;
  std::uint64_t holder_preemptions = 0;
  std::uint64_t host_preemptions = 0;
  std::uint64_t host_switches = 0;
  Ns refill_ns = 0;  // guest work lost to cache refill after host switches
  std::uint64_t halts = 0;
  std::uint64_t pushes = 0;
  std::uint64_t pulls = 0;
  std::uint64_t shrinks = 0;
  std::uint64_t grows = 0;
  std::uint64_t lock_blocks = 0;
  std::uint64_t pv_waits = 0;         // pv_wait(): a spinlock waiter halted its vCPU
  std::uint64_t pv_kicks = 0;         // pv_kick() of a halted waiter by the unlocker
  std::uint64_t ple_exits = 0;        // pause-loop exits
  std::uint64_t yields = 0;           // directed yields (PLE) and H_CONFERs that gave the pCPU away
  std::uint64_t host_migrations = 0;  // per-pCPU host queues: waiting vCPUs pulled by a balance
  std::array<std::uint64_t, kCrossCallKinds> cross_calls{};  // issued, by CrossCallKind
  std::uint64_t cross_call_ipis = 0;                         // targets sent an IPI
  std::uint64_t pv_tlb_flushes = 0;  // preempted targets flagged KVM_VCPU_FLUSH_TLB instead
  Ns cross_call_wait_ns = 0;         // initiators' time from send to the last handler done
};

struct TimeseriesRow {
  std::uint32_t vm = 0;
  Ns t_ns = 0;
  double steal_pct = 0;
  std::uint32_t preferred = 0;
  double throughput = 0;  // metric units per second over the interval
};

class Workload;

struct Vm {
  std::string name;
  std::uint32_t vcpus = 0;
  std::uint32_t first_vcpu = 0;
  std::uint32_t weight = 1024;
  GuestParams guest;
  Ns tick_ns = 4'000'000;
  VcpuMask preferred;
  VcpuMask idle;    // guest-idle: no current task, empty run queue
  VcpuMask queued;  // run queue not empty
  VcpuMask all;
  std::vector<VcpuMask> affinities{VcpuMask()};
  WorkloadKind kind = WorkloadKind::kIdle;
  std::uint64_t working_set = 0;  // bytes per vCPU (working_set_bytes())
  std::unique_ptr<Workload> workload;
  std::unique_ptr<StealMonitor> monitor;
  CpuSet online;  // every vCPU: the Sample's online set
  Knobs knobs;
  std::string governor;
  Rng rng{0};
  std::uint32_t tasks_alive = 0;
  bool finite = false;
  Ns done_at = -1;               // the first round's end: the metric
  std::uint32_t rounds = 0;      // finite workload rounds completed (keep_neighbours_busy restarts)
  std::uint32_t first_task = 0;  // the workload's tasks are [first_task, first_task + nr_tasks)
  std::uint32_t nr_tasks = 0;
  bool kick_outstanding = false;
  std::uint32_t nr_idle_scan = 0;  // sd->shared->nr_idle_scan (SIS_UTIL), set at periodic balance
  std::uint32_t last_boosted = 0;  // kvm_vcpu_on_spin(): the round-robin start
  // Cross-call rates (WorkloadParams): the mean gap between calls of each CrossCallKind (0: none)
  // and when the next one is due; drawn from their own stream so the workload's draws stay put.
  std::array<Ns, kCrossCallKinds> cross_call_gap_ns{};
  std::array<Ns, kCrossCallKinds> cross_call_due{};
  Rng cross_call_rng{0};
  std::uint32_t first_entitlement = 0;  // its accounts in World::entitlements
  // sampling
  Ns governor_phase_ns = 0;  // first sample; later ones every interval_ms
  Ns last_sample_ns = 0;
  std::uint64_t last_units = 0;
  Ns last_work_ns = 0;
  Ns pref_since = 0;
  std::uint32_t pref_count = 0;
  Ns pref_area = 0;  // preferred vCPUs x ns, integer so the mean does not depend on long double
  VmStats stats;
};

// Dispatch-window host: one account of entitled capacity, a virtual processor's share of its VM's
// entitlement (PowerVM) or the VM's whole ([host] entitlement_by = "partition").
struct Entitlement {
  Ns budget_ns = 0;  // per window
  Ns used_ns = 0;
  Ns used_updated = 0;
  std::uint32_t running = 0;  // pCPUs (cores, under whole-core dispatch) its vCPUs hold
  bool entitled = true;       // budget left in this window
  std::uint32_t gen = 0;
};

// Everything a run changes. One instance per Simulation.
struct World {
  HostParams host;
  EventQueue queue;
  std::vector<Vm> vms;
  std::vector<Vcpu> vcpus;
  std::vector<Pcpu> pcpus;
  std::vector<Task> tasks;
  std::vector<Lock> locks;
  std::vector<Pipe> pipes;
  std::vector<Entitlement> entitlements;
  std::vector<std::uint32_t> host_queue;  // heap of waiting vCPUs (global host queue)
  // Whole-core dispatch: per core, the first vCPU of the virtual processor that holds it (kNone:
  // free). pcpus then holds cores x smt thread slots, core c's thread i at c x smt + i, and the
  // host queue holds a waiting virtual processor's first vCPU.
  std::vector<std::uint32_t> core_vp;
  std::uint64_t vp_min_vruntime = 0;  // zero-lag placement of a virtual processor that was idle
  VcpuMask idle_pcpus;                // pCPUs with nothing on them
  std::vector<TimeseriesRow> timeseries;
  std::uint64_t min_vruntime = 0;
  std::uint32_t polling = 0;      // vCPUs in HostState::kPolling
  std::uint32_t finite_left = 0;  // finite workloads not yet done
  bool keep_neighbours_busy = false;
  bool stop = false;
  std::string fault;  // why the run stopped early on a broken model or program; empty if not

  Ns now() const { return queue.now(); }
  void schedule(Ns time, EventKind kind, std::uint32_t target, std::uint32_t gen) {
    queue.schedule(time, kind, target, gen);
  }
};

}  // namespace prefcpu::sim
