#include "sim/workload.h"

#include <algorithm>

#include "sim/load_schedule.h"

namespace prefcpu::sim {

namespace {

// rt-tests hackbench in pipe mode (-p): G groups of `fds` receivers and `fds` senders; every
// sender writes `loops` messages to every receiver of its group, one pipe per receiver. The
// copy runs under pipe->mutex, as in fs/pipe.c; the wakeups follow it, each under its wait
// queue's spinlock (wakeup_lock).
class Hackbench final : public Workload {
 public:
  explicit Hackbench(const WorkloadParams& params) : p_(params) {}

  void setup(Simulation& sim, std::uint32_t vm) override {
    std::uint32_t vcpus = sim.vms()[vm].vcpus;
    std::uint32_t placed = 0;
    for (std::uint32_t g = 0; g < p_.groups; ++g) {
      for (std::uint32_t r = 0; r < p_.fds; ++r) {
        std::uint32_t lock = p_.pipe_lock ? sim.add_lock() : kNone;
        std::uint32_t rd_wait = p_.wakeup_lock ? sim.add_spinlock() : kNone;
        std::uint32_t wr_wait = p_.wakeup_lock ? sim.add_spinlock() : kNone;
        std::uint32_t pipe = sim.add_pipe(p_.pipe_capacity, lock, rd_wait, wr_wait);
        if (g == 0 && r == 0) first_pipe_ = pipe;
        locks_.push_back(lock);
      }
      // Receivers are forked first, then senders; fork balancing spreads them over vCPUs.
      for (std::uint32_t i = 0; i < 2 * p_.fds; ++i) {
        members_.emplace_back();
        sim.add_task(vm, g * 2 * p_.fds + i, placed++ % vcpus);
      }
    }
  }

  bool finite() const override { return true; }
  // Every message of a round was read: the pipes are empty and their locks free.
  void restart() override { std::fill(members_.begin(), members_.end(), Member{}); }
  // rt-tests hackbench forks a process per sender and receiver unless run with -T (threads).
  bool shares_mm() const override { return false; }

  Op next(Task& task, Vm& vm) override {
    Member& me = members_[task.local];
    std::uint32_t group = task.local / (2 * p_.fds);
    std::uint32_t role = task.local % (2 * p_.fds);
    bool receiver = role < p_.fds;
    if (me.next == Step::kWake) return wake_section(task, vm, me);
    if (me.messages >= p_.loops * p_.fds) return Op{OpKind::kExit, 0, 0};
    // rt-tests: for each loop, write once to every receiver of the group in turn.
    std::uint32_t index = group * p_.fds + (receiver ? role : me.messages % p_.fds);
    std::uint32_t pipe = first_pipe_ + index;
    Op transfer{receiver ? OpKind::kPipeRead : OpKind::kPipeWrite, pipe, 0};
    Op copy{OpKind::kCompute, 0, receiver ? p_.read_ns : p_.write_ns};
    switch (me.next) {
      case Step::kLock:
        me.next = Step::kTransfer;
        if (p_.pipe_lock) return Op{OpKind::kLock, locks_[index], 0};
        [[fallthrough]];
      case Step::kTransfer:
        me.next = Step::kCopy;
        return transfer;
      case Step::kCopy:
        me.next = Step::kUnlock;
        if (p_.pipe_lock) return copy;
        me.next = Step::kWake;
        ++me.messages;
        return copy;
      case Step::kUnlock:
        me.next = Step::kWake;
        ++me.messages;
        return Op{OpKind::kUnlock, locks_[index], 0};
      case Step::kWake:
        break;
    }
    return Op{OpKind::kExit, 0, 0};
  }

 private:
  // One message: take pipe->mutex, move it through the pipe, copy it, release the mutex, then
  // the wakeups the transfer left (Task::wake_lock), each as spin_lock, wake, spin_unlock.
  enum class Step : std::uint8_t { kLock, kTransfer, kCopy, kUnlock, kWake };
  struct Member {
    Step next = Step::kLock;
    std::uint32_t messages = 0;  // messages this sender wrote, or this receiver read
    std::uint8_t section = 0;    // which of Task::wake_lock
    std::uint8_t phase = 0;      // lock, select (and rq lock), wake_ns held, wake, unlock
  };

  Op wake_section(Task& task, Vm& vm, Member& me) {
    while (me.section < task.wake_lock.size() && task.wake_lock[me.section] == kNone) {
      ++me.section;
    }
    if (me.section == task.wake_lock.size()) {
      me.section = 0;
      me.next = Step::kLock;
      return next(task, vm);
    }
    std::uint32_t i = me.section;
    switch (me.phase++) {
      case 0:
        return Op{OpKind::kLock, task.wake_lock[i], 0};
      case 1:
        return Op{OpKind::kWakeSelect, i, 0};  // takes the target's rq lock where ttwu does
      case 2:
        return Op{OpKind::kCompute, 0, task.wakee[i] != kNone ? p_.wake_ns : 0};
      case 3:
        return Op{OpKind::kWakeUp, i, 0};  // and drops that rq lock
      default:
        break;
    }
    me.phase = 0;
    ++me.section;
    std::uint32_t lock = task.wake_lock[i];
    task.wake_lock[i] = kNone;
    return Op{OpKind::kUnlock, lock, 0};
  }

  WorkloadParams p_;
  std::uint32_t first_pipe_ = 0;
  std::vector<std::uint32_t> locks_;
  std::vector<Member> members_;  // by task.local
};

// The DayTrader stand-in: workers run transactions of `statements` CPU bursts, each followed by
// a critical section on one of `locks` shared locks, then wait so that the offered CPU load is
// `load` x vCPUs when nothing contends. A load schedule scales the number of workers; a worker
// above the count parks between transactions (it holds no lock there).
class Oltp final : public Workload {
 public:
  Oltp(const WorkloadParams& params, std::vector<LoadPhase> load)
      : p_(params), load_(std::move(load)) {}

  void setup(Simulation& sim, std::uint32_t vm) override {
    std::uint32_t vcpus = sim.vms()[vm].vcpus;
    for (std::uint32_t i = 0; i < std::max(1U, p_.locks); ++i) locks_.push_back(sim.add_lock());
    std::uint32_t workers = std::max(1U, p_.workers_per_vcpu * vcpus);
    double txn_cpu =
        static_cast<double>(p_.statements) * static_cast<double>(p_.statement_ns + p_.hold_ns);
    double wait = txn_cpu * (static_cast<double>(workers) / (p_.load * vcpus) - 1.0);
    wait_ns_ = wait > 1.0 ? static_cast<Ns>(wait) : 0;
    // The wait stays that of `workers`: level x workers offers level x load.
    schedule_ = LoadSchedule(load_, workers);
    clock_ = &sim;
    workers_.resize(schedule_.max_tasks());
    for (std::uint32_t i = 0; i < schedule_.max_tasks(); ++i) sim.add_task(vm, i, i % vcpus);
  }

  Op next(Task& task, Vm& vm) override {
    Worker& me = workers_[task.local];
    switch (me.next) {
      case Step::kStatement:
        if (me.statements == 0) {
          if (auto parked = park(schedule_, task.local, clock_->now())) return *parked;
        }
        me.next = Step::kLock;
        return Op{OpKind::kCompute, 0, vm.rng.exponential(p_.statement_ns)};
      case Step::kLock:
        me.next = Step::kHold;
        me.lock = locks_[vm.rng.below(static_cast<std::uint32_t>(locks_.size()))];
        return Op{OpKind::kLock, me.lock, 0};
      case Step::kHold:
        me.next = Step::kUnlock;
        return Op{OpKind::kCompute, 0, vm.rng.exponential(p_.hold_ns)};
      case Step::kUnlock:
        ++me.statements;
        me.next = me.statements < p_.statements ? Step::kStatement : Step::kCommit;
        return Op{OpKind::kUnlock, me.lock, 0};
      case Step::kCommit:
        break;
    }
    ++vm.stats.units;
    me.statements = 0;
    me.next = Step::kStatement;
    if (wait_ns_ == 0) return next(task, vm);
    return Op{OpKind::kSleep, 0, vm.rng.exponential(wait_ns_)};
  }

 private:
  // A transaction: (statement, lock, critical section, unlock) x statements, then commit.
  enum class Step : std::uint8_t { kStatement, kLock, kHold, kUnlock, kCommit };
  struct Worker {
    Step next = Step::kStatement;
    std::uint32_t statements = 0;  // done in this transaction
    std::uint32_t lock = 0;        // the one this statement takes
  };

  WorkloadParams p_;
  std::vector<LoadPhase> load_;
  LoadSchedule schedule_;
  const Simulation* clock_ = nullptr;
  std::vector<std::uint32_t> locks_;
  std::vector<Worker> workers_;  // by task.local
  Ns wait_ns_ = 0;
};

// Spinning tasks: pure CPU, never block. Work done is the metric. A load schedule scales the
// number of spinning tasks; a task above the count parks after its chunk.
class CpuBound final : public Workload {
 public:
  CpuBound(const WorkloadParams& params, std::vector<LoadPhase> load)
      : p_(params), load_(std::move(load)) {}

  void setup(Simulation& sim, std::uint32_t vm) override {
    std::uint32_t vcpus = sim.vms()[vm].vcpus;
    schedule_ = LoadSchedule(load_, std::max(1U, p_.tasks_per_vcpu * vcpus));
    clock_ = &sim;
    started_.assign(schedule_.max_tasks(), false);
    for (std::uint32_t i = 0; i < schedule_.max_tasks(); ++i) sim.add_task(vm, i, i % vcpus);
  }

  Op next(Task& task, Vm& vm) override {
    // A chunk is a unit once done, i.e. when the task asks for the next one.
    if (started_[task.local]) ++vm.stats.units;
    started_[task.local] = false;
    if (auto parked = park(schedule_, task.local, clock_->now())) return *parked;
    started_[task.local] = true;
    return Op{OpKind::kCompute, 0, p_.chunk_ns};
  }

 private:
  WorkloadParams p_;
  std::vector<LoadPhase> load_;
  LoadSchedule schedule_;
  const Simulation* clock_ = nullptr;
  std::vector<bool> started_;  // by task.local
};

class Idle final : public Workload {
 public:
  void setup(Simulation& /*sim*/, std::uint32_t /*vm*/) override {}
  Op next(Task& /*task*/, Vm& /*vm*/) override { return Op{OpKind::kExit, 0, 0}; }
};

}  // namespace

std::unique_ptr<Workload> make_workload(const WorkloadParams& params,
                                        const std::vector<LoadPhase>& load) {
  switch (params.kind) {
    case WorkloadKind::kHackbench:
      return std::make_unique<Hackbench>(params);
    case WorkloadKind::kOltp:
      return std::make_unique<Oltp>(params, load);
    case WorkloadKind::kCpuBound:
      return std::make_unique<CpuBound>(params, load);
    case WorkloadKind::kSpinbench:
      return make_spinbench(params);
    case WorkloadKind::kIdle:
      break;
  }
  return std::make_unique<Idle>();
}

std::string_view workload_kind_name(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kHackbench:
      return "hackbench";
    case WorkloadKind::kOltp:
      return "oltp";
    case WorkloadKind::kCpuBound:
      return "cpu-bound";
    case WorkloadKind::kSpinbench:
      return "spinbench";
    case WorkloadKind::kIdle:
      break;
  }
  return "idle";
}

std::string_view metric_name(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kHackbench:
    case WorkloadKind::kSpinbench:
      return "time_s";
    case WorkloadKind::kOltp:
      return "tps";
    case WorkloadKind::kCpuBound:
    case WorkloadKind::kIdle:
      break;
  }
  return "work";
}

double metric_value(WorkloadKind kind, const Vm& vm, Ns end_ns) {
  double seconds = static_cast<double>(end_ns) / 1e9;
  switch (kind) {
    case WorkloadKind::kHackbench:
    case WorkloadKind::kSpinbench:
      return static_cast<double>(vm.done_at >= 0 ? vm.done_at : end_ns) / 1e9;
    case WorkloadKind::kOltp:
      return seconds > 0 ? static_cast<double>(vm.stats.units) / seconds : 0.0;
    case WorkloadKind::kCpuBound:
    case WorkloadKind::kIdle:
      break;
  }
  return static_cast<double>(vm.stats.work_ns) / 1e9;
}

double throughput(WorkloadKind kind, std::uint64_t units, Ns work_ns, Ns interval_ns) {
  if (interval_ns <= 0) return 0.0;
  double seconds = static_cast<double>(interval_ns) / 1e9;
  if (kind == WorkloadKind::kCpuBound || kind == WorkloadKind::kIdle) {
    return static_cast<double>(work_ns) / 1e9 / seconds;
  }
  return static_cast<double>(units) / seconds;
}

}  // namespace prefcpu::sim
