// One overcommitted host running several guests. The host schedules vCPU threads; each guest
// schedules its tasks on its vCPUs and obeys its preferred mask, which a prefcpu::StealMonitor
// (the daemon's own policy code) computes from the guest's aggregate steal.
#pragma once

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/steal_monitor.h"
#include "sim/event_queue.h"
#include "sim/params.h"
#include "sim/rng.h"
#include "sim/vcpu_mask.h"

namespace prefcpu::sim {

inline constexpr std::uint32_t kNone = UINT32_MAX;
inline constexpr Ns kNever = std::numeric_limits<Ns>::max();

enum class HostState : std::uint8_t { kHalted, kWaiting, kRunning, kPolling };
enum class TaskState : std::uint8_t { kRunnable, kRunning, kBlocked, kDone };
enum class OpKind : std::uint8_t { kCompute, kLock, kUnlock, kPipeWrite, kPipeRead, kSleep, kExit };

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

struct Task {
  std::uint32_t vm = 0;
  std::uint32_t local = 0;  // index within its workload
  TaskState state = TaskState::kRunnable;
  std::uint32_t vcpu = kNone;  // global vCPU id where queued or running
  std::uint32_t prev_vcpu = kNone;
  Op op;
  bool has_op = false;
  Ns remaining = 0;  // compute left in op
  Ns overhead = 0;   // guest switch / IPI cost to execute before the op continues
  Ns spin_left = 0;
  bool spinning = false;
  Op retry;  // a pipe op to redo after re-taking the pipe lock
  bool has_retry = false;
  std::uint32_t held_lock = kNone;
  Ns slice_exec = 0;
  std::uint32_t affinity = 0;  // 0: every vCPU; else index into Vm::affinities
  Links rq_link;               // on its vCPU's run queue
  Links wq_link;  // on a wait queue: a lock's spinners or blocked, a pipe's readers or writers
  std::uint32_t sleep_gen = 0;
  std::uint32_t w0 = 0, w1 = 0, w2 = 0;  // workload program state
};

struct Vcpu {
  std::uint32_t vm = 0;
  std::uint32_t local = 0;
  HostState host = HostState::kHalted;
  std::uint32_t pcpu = kNone;
  std::uint32_t last_pcpu = kNone;
  Ns run_start = 0;
  std::uint64_t vruntime = 0;
  Ns wait_since = 0;
  Ns steal_ns = 0;  // closed waiting periods; see Simulation::steal_ns()
  Ns exec_from = 0;
  Ns refill_until = 0;
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
  List rq;
  Ns next_balance = 0;
};

struct Pcpu {
  std::uint32_t current = kNone;
  std::uint32_t last = kNone;
  std::uint32_t gen = 0;
};

struct Lock {
  std::uint32_t owner = kNone;
  List spinners;
  List blocked;
};

struct Pipe {
  std::uint32_t count = 0;
  std::uint32_t capacity = 1;
  std::uint32_t lock = kNone;
  List readers;
  List writers;
};

struct VmStats {
  std::uint64_t units = 0;  // messages read, transactions, chunks
  Ns work_ns = 0;           // useful task compute
  Ns spin_ns = 0;
  Ns overhead_ns = 0;
  Ns run_ns = 0;  // time on a pCPU, polling included
  std::uint64_t holder_preemptions = 0;
  std::uint64_t host_preemptions = 0;
  std::uint64_t host_switches = 0;
  std::uint64_t halts = 0;
  std::uint64_t pushes = 0;
  std::uint64_t pulls = 0;
  std::uint64_t shrinks = 0;
  std::uint64_t grows = 0;
  std::uint64_t lock_blocks = 0;
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
  std::unique_ptr<Workload> workload;
  std::unique_ptr<StealMonitor> monitor;
  CpuSet online;  // every vCPU: the Sample's online set
  Knobs knobs;
  std::string governor;
  Rng rng{0};
  std::uint32_t tasks_alive = 0;
  bool finite = false;
  Ns done_at = -1;
  bool kick_outstanding = false;
  // dispatch-window host
  Ns budget_ns = 0;
  Ns used_ns = 0;
  Ns used_updated = 0;
  std::uint32_t running = 0;
  bool entitled = true;
  std::uint32_t budget_gen = 0;
  // sampling
  Ns last_sample_ns = 0;
  std::uint64_t last_units = 0;
  Ns last_work_ns = 0;
  Ns pref_since = 0;
  std::uint32_t pref_count = 0;
  long double pref_area = 0;
  VmStats stats;
};

struct VmConfig {
  VmSpec spec;
  std::string governor;
  Knobs knobs;
};

struct RunConfig {
  HostParams host;
  std::vector<VmConfig> vms;
  std::uint64_t seed = 1;
  Ns duration_ns = 0;
};

class Simulation {
 public:
  static Result<std::unique_ptr<Simulation>> create(const RunConfig& config);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // Runs to the end (duration, or every finite workload done). Returns the end time.
  Ns run();
  // Processes events up to and including `until`; for tests.
  void run_until(Ns until);

  Ns now() const { return queue_.now(); }
  Ns end_ns() const { return end_ns_; }
  std::uint64_t events() const { return events_; }
  std::uint64_t stale_events() const { return stale_; }

  // Steal of one vCPU up to now, exactly: closed waits plus the open one.
  Ns steal_ns(std::uint32_t vcpu) const;
  Ns vm_steal_ns(std::uint32_t vm) const;
  double mean_preferred(std::uint32_t vm) const;
  // Time the VM's vCPUs held a pCPU (running or polling), up to now.
  Ns vm_cpu_ns(std::uint32_t vm) const;

  const std::vector<Vm>& vms() const { return vms_; }
  const std::vector<Vcpu>& vcpus() const { return vcpus_; }
  const std::vector<Pcpu>& pcpus() const { return pcpus_; }
  const std::vector<Task>& tasks() const { return tasks_; }
  const std::vector<Lock>& locks() const { return locks_; }
  const std::vector<Pipe>& pipes() const { return pipes_; }
  const std::vector<TimeseriesRow>& timeseries() const { return timeseries_; }

  // Builders used by workloads (and by tests to script tasks).
  std::uint32_t add_lock();
  std::uint32_t add_pipe(std::uint32_t capacity, std::uint32_t lock);
  std::uint32_t add_affinity(std::uint32_t vm, const VcpuMask& mask);
  // A runnable task queued on a VM-local vCPU at the current time.
  std::uint32_t add_task(std::uint32_t vm, std::uint32_t local, std::uint32_t on_vcpu,
                         std::uint32_t affinity = 0);
  // Replaces a VM's workload before its tasks are added; for tests that script tasks.
  void set_workload(std::uint32_t vm, std::unique_ptr<Workload> workload);
  // Replaces the VM's preferred mask now, as a StealMonitor step would; for tests.
  void set_preferred(std::uint32_t vm, const VcpuMask& preferred);
  void note_exit(Task& task);

 private:
  explicit Simulation(const RunConfig& config);
  Status setup(const RunConfig& config);
  void dispatch_event(const Event& event);

  // host.cpp
  std::uint64_t host_key_class(const Vcpu& v) const;
  bool host_before(std::uint32_t a, std::uint32_t b) const;
  void queue_push(std::uint32_t v);
  std::uint32_t queue_pop();
  void queue_rebuild();
  void host_wake(std::uint32_t v);
  void host_enqueue(std::uint32_t v);
  void host_dispatch(std::uint32_t p, std::uint32_t v);
  void host_stop_running(std::uint32_t v);
  void host_preempt(std::uint32_t v);
  void host_idle(std::uint32_t v);
  void host_halt(std::uint32_t v);
  void host_pcpu_freed(std::uint32_t p);
  void host_displace(std::uint32_t v);
  std::uint32_t host_worst_running() const;
  void host_on_slice(std::uint32_t p, std::uint32_t gen);
  void host_on_poll_end(std::uint32_t v, std::uint32_t gen);
  void host_on_resume(std::uint32_t v, std::uint32_t gen);
  void host_on_window();
  void host_on_budget(std::uint32_t vm, std::uint32_t gen);
  void budget_update(Vm& vm);
  void budget_arm(std::uint32_t vm);
  void preempt_for_entitled();
  void arm_slice(std::uint32_t p);

  // guest.cpp
  bool vcpu_idle(const Vcpu& v) const;
  const VcpuMask& allowed(const Task& t) const;
  std::uint32_t select_vcpu(const Task& t);
  std::uint32_t fallback_vcpu(const Task& t) const;
  void rq_push_tail(std::uint32_t v, std::uint32_t t);
  void rq_remove(std::uint32_t v, std::uint32_t t);
  std::uint32_t rq_pop_head(std::uint32_t v);
  void update_masks(std::uint32_t v);
  void enqueue_task(std::uint32_t v, std::uint32_t t, std::uint32_t waker);
  void wake_task(std::uint32_t t, std::uint32_t waker);
  void guest_run(std::uint32_t v);
  void guest_tick(std::uint32_t v);
  void arm_tick(std::uint32_t v);
  void on_tick(std::uint32_t v, std::uint32_t gen);
  bool pull_tasks(std::uint32_t v, std::uint32_t want);
  void nohz_kick(std::uint32_t v);
  void drop_current(std::uint32_t v);

  // exec.cpp
  bool executing(const Vcpu& v) const;
  Ns work_between(const Vcpu& v, Ns from, Ns to) const;
  Ns time_to_do(const Vcpu& v, Ns from, Ns work) const;
  void advance(std::uint32_t v);
  void poke(std::uint32_t v);
  enum class StepResult : std::uint8_t { kArmed, kBlocked, kExited, kMoved };
  StepResult task_step(std::uint32_t v, std::uint32_t t);
  bool next_op(Task& task);
  void block_task(std::uint32_t t);
  // One intrusive list code for both kinds of List: `links` names the task's Links for it.
  void link_tail(List& list, std::uint32_t t, Links Task::*links);
  void unlink(List& list, std::uint32_t t, Links Task::*links);
  void list_push(List& list, std::uint32_t t) { link_tail(list, t, &Task::wq_link); }
  void list_remove(List& list, std::uint32_t t) { unlink(list, t, &Task::wq_link); }
  std::uint32_t list_pop(List& list);
  bool try_lock(std::uint32_t t, std::uint32_t lock);
  void start_spin(std::uint32_t t, std::uint32_t lock);
  void stop_spin(std::uint32_t t, std::uint32_t lock);
  void unlock(std::uint32_t t, std::uint32_t lock);
  bool holder_preempted(const Lock& lock) const;
  void on_holder_preempted(std::uint32_t t);

  // simulation.cpp
  void on_governor(std::uint32_t vm);
  void on_task_wake(std::uint32_t t, std::uint32_t gen);
  void schedule(Ns time, EventKind kind, std::uint32_t target, std::uint32_t gen) {
    queue_.schedule(time, kind, target, gen);
  }
  void account_preferred(Vm& vm);

  HostParams host_;
  EventQueue queue_;
  std::vector<Vm> vms_;
  std::vector<Vcpu> vcpus_;
  std::vector<Pcpu> pcpus_;
  std::vector<Task> tasks_;
  std::vector<Lock> locks_;
  std::vector<Pipe> pipes_;
  std::vector<std::uint32_t> host_queue_;  // heap of waiting vCPUs
  VcpuMask idle_pcpus_;                    // pCPUs with nothing on them
  std::vector<TimeseriesRow> timeseries_;
  std::uint64_t min_vruntime_ = 0;
  std::uint32_t polling_ = 0;
  std::uint32_t finite_left_ = 0;
  Ns duration_ns_ = 0;
  Ns end_ns_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t stale_ = 0;
  bool stop_ = false;
};

}  // namespace prefcpu::sim
