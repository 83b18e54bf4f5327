// The lock-holder-preemption microbenchmark (issue 10, docs/simulator.md "Lock-holder preemption
// microbenchmark (literature)"): threads loop {spin_lock(L), hold, spin_unlock(L), outside} on
// one kernel spinlock of the VM, a fixed number of times. Under overcommit its time shows what
// the guest's spinlock slowpath (params.h SpinlockKind) does when a holder's or a queued
// waiter's vCPU loses its pCPU.
#include <algorithm>
#include <vector>

#include "sim/workload.h"

namespace prefcpu::sim {

namespace {

class Spinbench final : public Workload {
 public:
  explicit Spinbench(const WorkloadParams& params) : p_(params) {}

  void setup(Simulation& sim, std::uint32_t vm) override {
    std::uint32_t vcpus = sim.vms()[vm].vcpus;
    lock_ = sim.add_spinlock();
    std::uint32_t threads = p_.threads != 0 ? p_.threads : vcpus;
    threads_.resize(threads);
    for (std::uint32_t i = 0; i < threads; ++i) sim.add_task(vm, i, i % vcpus);
  }

  bool finite() const override { return true; }
  void restart() override { std::fill(threads_.begin(), threads_.end(), Thread{}); }

  Op next(Task& task, Vm& vm) override {
    Thread& me = threads_[task.local];
    switch (me.next) {
      case Step::kLock:
        if (me.done >= p_.iterations) return Op{OpKind::kExit, 0, 0};
        me.next = Step::kHold;
        return Op{OpKind::kLock, lock_, 0};
      case Step::kHold:
        me.next = Step::kUnlock;
        return Op{OpKind::kCompute, 0, p_.hold_ns};
      case Step::kUnlock:
        ++me.done;
        ++vm.stats.units;
        me.next = p_.outside_ns > 0 ? Step::kOutside : Step::kLock;
        return Op{OpKind::kUnlock, lock_, 0};
      case Step::kOutside:
        break;
    }
    me.next = Step::kLock;
    return Op{OpKind::kCompute, 0, p_.outside_ns};
  }

 private:
  enum class Step : std::uint8_t { kLock, kHold, kUnlock, kOutside };
  struct Thread {
    Step next = Step::kLock;
    std::uint32_t done = 0;  // iterations completed
  };

  WorkloadParams p_;
  std::uint32_t lock_ = 0;
  std::vector<Thread> threads_;  // by task.local
};

}  // namespace

std::unique_ptr<Workload> make_spinbench(const WorkloadParams& params) {
  return std::make_unique<Spinbench>(params);
}

}  // namespace prefcpu::sim
