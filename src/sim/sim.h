// One overcommitted host running several guests. The host schedules vCPU threads; each guest
// schedules its tasks on its vCPUs and obeys its preferred mask, which a prefcpu::StealMonitor
// (the daemon's own policy code) computes from the guest's aggregate steal.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "sim/exec.h"
#include "sim/guest.h"
#include "sim/host.h"
#include "sim/state.h"

namespace prefcpu::sim {

struct VmConfig {
  VmSpec spec;
  std::string governor;
  Knobs knobs;
};

// Test builds check the model after every event; Release builds do not, for speed.
#ifdef NDEBUG
inline constexpr bool kCheckInvariantsByDefault = false;
#else
inline constexpr bool kCheckInvariantsByDefault = true;
#endif

struct RunConfig {
  HostParams host;
  std::vector<VmConfig> vms;
  std::uint64_t seed = 1;
  Ns duration_ns = 0;
  // Each VM's first governor sample at a random phase within its interval (drawn from the seed)
  // rather than every VM at t = 0.
  bool random_governor_phase = false;
  // Restart a finished finite workload until every finite one has finished once.
  bool keep_neighbours_busy = false;
  bool check_invariants = kCheckInvariantsByDefault;
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

  Ns now() const { return w_.now(); }
  Ns end_ns() const { return end_ns_; }
  std::uint64_t events() const { return events_; }
  std::uint64_t stale_events() const { return stale_; }
  // Why the run stopped early (a violated invariant, a stuck program); empty if it did not.
  const std::string& fault() const { return w_.fault; }

  // Steal of one vCPU up to now, exactly: closed waits plus the open one.
  Ns steal_ns(std::uint32_t vcpu) const { return host_.steal_ns(vcpu); }
  Ns vm_steal_ns(std::uint32_t vm) const;
  double mean_preferred(std::uint32_t vm) const;
  // Time the VM's vCPUs held a pCPU (running or polling), up to now.
  Ns vm_cpu_ns(std::uint32_t vm) const;
  // The guest's busy time in its /proc/stat: running only (a halted or polling vCPU is idle there).
  Ns vm_busy_ns(std::uint32_t vm) const;
  // The first violated invariant of the current state, or empty (invariants.cpp). Without
  // `with_tasks`, the O(tasks) check of every task's place is left out.
  std::string check_invariants(bool with_tasks = true) const;

  const std::vector<Vm>& vms() const { return w_.vms; }
  const std::vector<Vcpu>& vcpus() const { return w_.vcpus; }
  const std::vector<Pcpu>& pcpus() const { return w_.pcpus; }
  // Whole-core dispatch: per core, the first vCPU of the virtual processor holding it, or kNone.
  const std::vector<std::uint32_t>& core_vp() const { return w_.core_vp; }
  const std::vector<Task>& tasks() const { return w_.tasks; }
  const std::vector<Lock>& locks() const { return w_.locks; }
  const std::vector<Pipe>& pipes() const { return w_.pipes; }
  const std::vector<TimeseriesRow>& timeseries() const { return w_.timeseries; }

  // Builders used by workloads (and by tests to script tasks).
  std::uint32_t add_lock();
  // A kernel spinlock: its waiters never sleep; the slowpath follows the guest's SpinlockKind.
  std::uint32_t add_spinlock();
  // A pipe; `lock` is pipe->mutex, the wait locks the spinlocks of rd_wait / wr_wait (kNone:
  // wakeups happen at once, inside the pipe op).
  std::uint32_t add_pipe(std::uint32_t capacity, std::uint32_t lock,
                         std::uint32_t rd_wait_lock = kNone, std::uint32_t wr_wait_lock = kNone);
  std::uint32_t add_affinity(std::uint32_t vm, const VcpuMask& mask);
  // A runnable task queued on a VM-local vCPU at the current time.
  std::uint32_t add_task(std::uint32_t vm, std::uint32_t local, std::uint32_t on_vcpu,
                         std::uint32_t affinity = 0);
  // Replaces a VM's workload before its tasks are added; for tests that script tasks.
  void set_workload(std::uint32_t vm, std::unique_ptr<Workload> workload);
  // Replaces the VM's preferred mask now, as a StealMonitor step would; for tests.
  void set_preferred(std::uint32_t vm, const VcpuMask& preferred);

 private:
  explicit Simulation(const RunConfig& config);
  Status setup(const RunConfig& config);
  void dispatch_event(const Event& event);
  void on_progress(std::uint32_t v, std::uint32_t gen);
  void on_governor(std::uint32_t vm);
  void on_restart(std::uint32_t vm);
  void account_preferred(Vm& vm);
  std::string check_task_places(const std::vector<std::uint32_t>& as_current) const;
  std::string check_cache(std::uint32_t p) const;
  std::string check_whole_cores() const;
  std::string check_entitlements() const;
  void check_after_event(Ns before);

  World w_;
  TaskExecutor exec_;
  GuestScheduler guest_;
  HostScheduler host_;
  Ns duration_ns_ = 0;
  Ns end_ns_ = 0;
  std::uint64_t events_ = 0;
  std::uint64_t stale_ = 0;
  bool check_invariants_ = false;
};

}  // namespace prefcpu::sim
