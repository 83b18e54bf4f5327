// The host scheduler: vCPU threads on pCPUs. A fair scheduler (per-pCPU queues ordered by weighted
// vruntime with the host kernel's placement and load balancing, or one global queue), or a
// PowerVM-like dispatch window with entitlement per virtual processor, which with smt > 1
// dispatches whole virtual processors onto whole cores (host_smt.cpp). Steal is the time a vCPU
// spends runnable on a host queue.
#pragma once

#include "sim/state.h"

namespace prefcpu::sim {

class GuestScheduler;
class TaskExecutor;

// How many entitlement accounts a VM of `vcpus` vCPUs has, and which one vCPU v charges.
std::uint32_t entitlement_accounts(const HostParams& host, std::uint32_t vcpus);
std::uint32_t entitlement_of(const World& w, std::uint32_t v);

class HostScheduler {
 public:
  HostScheduler(World& world, GuestScheduler& guest, TaskExecutor& exec)
      : w_(world), guest_(guest), exec_(exec) {}

  // Arms the first dispatch window (dispatch-window host).
  void start();
  // A halted vCPU has something to do (a queued task, an IPI).
  void wake(std::uint32_t v);
  // The guest on v has nothing to run: poll for a while if nobody else wants the pCPU, else halt.
  void idle(std::uint32_t v);
  // A wakeup inside v's poll window: v resumes on its pCPU with no switch. False if not polling.
  bool resume_polling(std::uint32_t v);
  // Directed yield (kvm_vcpu_on_spin() -> yield_to(), H_CONFER): the running vCPU v gives its pCPU
  // to the waiting vCPU target and waits on the host itself.
  void yield_to(std::uint32_t v, std::uint32_t target);
  // Steal of one vCPU up to now, exactly: closed waits plus the open one.
  Ns steal_ns(std::uint32_t v) const;

  // Events.
  void on_slice(std::uint32_t p, std::uint32_t gen);
  void on_poll_end(std::uint32_t v, std::uint32_t gen);
  void on_resume(std::uint32_t v, std::uint32_t gen);
  void on_window();
  void on_budget(std::uint32_t account, std::uint32_t gen);
  void on_host_tick();

 private:
  std::uint64_t key_class(std::uint32_t v) const;
  std::uint64_t queue_key(std::uint32_t v) const;
  bool before(std::uint32_t a, std::uint32_t b) const;
  bool per_cpu() const;
  std::vector<std::uint32_t>& queue_of(std::uint32_t p);
  void queue_push(std::uint32_t p, std::uint32_t v);
  std::uint32_t queue_pop(std::uint32_t p);
  void queue_remove(std::uint32_t v);
  void queue_rebuild();
  // Per-pCPU queues (host_balance.cpp).
  std::uint32_t select_pcpu(std::uint32_t v) const;
  bool newidle_balance(std::uint32_t p);
  bool balance(std::uint32_t p, bool newidle);
  void periodic_balance(std::uint32_t p);
  Ns balance_interval(const Pcpu& pc, bool busy) const;
  std::uint64_t pcpu_load(std::uint32_t p) const;
  void enqueue(std::uint32_t v);
  void dispatch(std::uint32_t p, std::uint32_t v);
  Ns refill_lost(std::uint32_t p, std::uint32_t v);
  void stop_running(std::uint32_t v);
  void preempt(std::uint32_t v);
  void halt(std::uint32_t v);
  void pcpu_freed(std::uint32_t p);
  void displace(std::uint32_t v);
  std::uint32_t worst_running() const;
  void budget_update(Entitlement& e);
  void budget_arm(std::uint32_t account);
  void charge(std::uint32_t v, int cores);
  void preempt_for_entitled();
  void arm_slice(std::uint32_t p);
  // Whole-core dispatch (host_smt.cpp): a virtual processor, its first vCPU `first`, holds a
  // whole core; the host queue holds waiting virtual processors.
  bool gang() const { return w_.host.smt > 1; }
  std::uint32_t vp_first(std::uint32_t v) const;
  void vp_enqueue(std::uint32_t v);
  void vp_dispatch(std::uint32_t core, std::uint32_t first);
  void vp_preempt(std::uint32_t core);
  void vp_release(std::uint32_t core);
  void vp_thread_ceded(std::uint32_t v);
  void vp_confer(std::uint32_t v, std::uint32_t target);
  void smt_retune(std::uint32_t core);

  World& w_;
  GuestScheduler& guest_;
  TaskExecutor& exec_;
};

}  // namespace prefcpu::sim
