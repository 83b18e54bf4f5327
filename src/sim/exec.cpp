#include "sim/exec.h"

#include <algorithm>

#include "sim/guest.h"
#include "sim/task_list.h"
#include "sim/workload.h"

namespace prefcpu::sim {

// Guest work done on v in [from, to]: nothing before exec_from, then speed_pm per mille of a
// thread alone (1000 unless busy siblings share its core), refill_speed_pct of that until
// refill_until.
Ns TaskExecutor::work_between(const Vcpu& v, Ns from, Ns to) const {
  from = std::max(from, v.exec_from);
  if (to <= from) return 0;
  Ns slow = std::max<Ns>(0, std::min(to, v.refill_until) - from);
  Ns pm = v.speed_pm;
  return ((to - from - slow) * pm + slow * pm * w_.host.refill_speed_pct / 100) / 1000;
}

// The time at which `work` is done, starting at `from`: work_between()'s inverse, rounded up to
// whole ns.
Ns TaskExecutor::time_to_do(const Vcpu& v, Ns from, Ns work) const {
  from = std::max(from, v.exec_from);
  Ns pm = std::max<Ns>(1, v.speed_pm);
  if (work > kNever / 1'001) return kNever;  // no overflow: such a step never completes
  if (from < v.refill_until && w_.host.refill_speed_pct < 100) {
    Ns slow_pm = std::max<Ns>(1, pm * w_.host.refill_speed_pct / 100);
    Ns slow_work = (v.refill_until - from) * slow_pm / 1000;
    if (work <= slow_work) return from + (work * 1000 + slow_pm - 1) / slow_pm;
    return v.refill_until + ((work - slow_work) * 1000 + pm - 1) / pm;
  }
  return from + (work * 1000 + pm - 1) / pm;
}

void TaskExecutor::advance(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.host != HostState::kRunning) return;
  Ns done = 0;
  bool complete = w_.now() >= vc.armed_end;
  const Ns from = vc.accounted_to;
  if (!complete) done = work_between(vc, from, w_.now());
  vc.accounted_to = w_.now();
  if (vc.current == kNone) return;
  Task& task = w_.tasks[vc.current];
  VmStats& stats = w_.vms[vc.vm].stats;
  Ns over = complete ? task.overhead : std::min(done, task.overhead);
  task.overhead -= over;
  stats.overhead_ns += over;
  done -= over;
  Ns used = over;
  if (task.spinning) {
    Ns spin = complete ? task.spin_armed : std::min(done, task.spin_armed);
    task.spin_armed -= spin;
    if (task.spin_left < kSpinForever) task.spin_left -= spin;
    task.ple_spun += spin;
    stats.spin_ns += spin;
    used += spin;
  } else if (task.cross_call.sent) {
    // csd_lock_wait(): spun until the targets are done.
    Ns spin = std::max<Ns>(0, work_between(vc, from, w_.now()) - over);
    stats.spin_ns += spin;
    used += spin;
  } else if (task.has_op && task.op.kind == OpKind::kCompute) {
    Ns work = complete ? task.remaining : std::min(done, task.remaining);
    task.remaining -= work;
    stats.work_ns += work;
    used += work;
  }
  task.slice_exec += used;
  if (complete) vc.armed_end = kNever;
}

// The work so far at the old speed, then an armed step re-armed at the new one.
void TaskExecutor::set_speed(std::uint32_t v, std::uint32_t speed_pm) {
  Vcpu& vc = w_.vcpus[v];
  if (vc.speed_pm == speed_pm) return;
  if (executing(vc)) advance(v);
  vc.speed_pm = speed_pm;
  if (vc.armed_end != kNever) poke(v);
}

// Makes an executing vCPU re-evaluate its task now (lock handed over, holder preempted).
void TaskExecutor::poke(std::uint32_t v) {
  Vcpu& vc = w_.vcpus[v];
  if (!executing(vc)) return;
  advance(v);
  ++vc.gen;
  vc.armed_end = kNever;
  w_.schedule(w_.now(), EventKind::kProgress, v, vc.gen);
}

void TaskExecutor::list_push(List& list, std::uint32_t t) {
  link_tail(w_.tasks, list, t, &Task::wq_link);
}

void TaskExecutor::list_remove(List& list, std::uint32_t t) {
  unlink(w_.tasks, list, t, &Task::wq_link);
}

std::uint32_t TaskExecutor::list_pop(List& list) {
  std::uint32_t t = list.head;
  if (t != kNone) list_remove(list, t);
  return t;
}

void TaskExecutor::block_task(std::uint32_t t) {
  Task& task = w_.tasks[t];
  task.state = TaskState::kBlocked;
  task.prev_vcpu = task.vcpu;
  task.vcpu = kNone;
  // An owner that sleeps holding a mutex is off its CPU: its spinners stop (mutex_spin_on_owner()).
  for (std::uint8_t i = 0; i < task.held.n; ++i) {
    if (!w_.locks[task.held.ids[i]].spin) poke_spinners(task.held.ids[i]);
  }
}

void TaskExecutor::poke_spinners(std::uint32_t lock) {
  for (std::uint32_t s = w_.locks[lock].spinners.head; s != kNone; s = w_.tasks[s].wq_link.next) {
    if (w_.tasks[s].spinning) poke(w_.tasks[s].vcpu);
  }
}

bool TaskExecutor::try_lock(std::uint32_t t, std::uint32_t lock) {
  Lock& l = w_.locks[lock];
  if (l.owner != kNone) return false;
  l.owner = t;
  w_.tasks[t].held.add(lock);
  return true;
}

// mutex_spin_on_owner() has no time limit: it spins while the owner is on a CPU (owner_on_cpu(),
// which vcpu_is_preempted() qualifies) and until need_resched(), which the guest tick sets
// (kernel/locking/mutex.c).
void TaskExecutor::start_spin(std::uint32_t t, std::uint32_t lock) {
  Task& task = w_.tasks[t];
  task.spinning = true;
  task.spin_left = kSpinForever;
  list_push(w_.locks[lock].spinners, t);
}

void TaskExecutor::stop_spin(std::uint32_t t, std::uint32_t lock) {
  Task& task = w_.tasks[t];
  if (!task.spinning && !task.pv_halted) return;
  task.spinning = false;
  task.pv_halted = false;
  task.spin_left = 0;
  task.spin_armed = 0;
  list_remove(w_.locks[lock].spinners, t);
}

// owner_on_cpu(): the owner is not asleep (a holder is never preempted in the guest here), and,
// where the guest can tell (vcpu_is_preempted(), pv_preempted), its vCPU holds a pCPU.
bool TaskExecutor::owner_on_cpu(const Lock& lock) const {
  if (lock.owner == kNone) return true;  // released meanwhile: the next step takes it
  if (w_.tasks[lock.owner].vcpu == kNone) return false;
  return !(w_.vms[w_.tasks[lock.owner].vm].guest.pv_preempted && holder_preempted(lock));
}

bool TaskExecutor::holder_preempted(const Lock& lock) const {
  if (lock.owner == kNone) return false;
  std::uint32_t v = w_.tasks[lock.owner].vcpu;
  return v != kNone && w_.vcpus[v].host == HostState::kWaiting;
}

// vcpu_is_preempted(): spinners on a mutex whose holder just lost its pCPU stop spinning; on a
// spinlock with H_CONFER, they confer to it.
void TaskExecutor::on_holder_preempted(std::uint32_t t) {
  const Task& holder = w_.tasks[t];
  const GuestParams& guest = w_.vms[holder.vm].guest;
  for (std::uint8_t i = 0; i < holder.held.n; ++i) {
    std::uint32_t id = holder.held.ids[i];
    if (w_.locks[id].spin ? guest.confer : guest.pv_preempted) poke_spinners(id);
  }
}

bool TaskExecutor::in_spinlock(const Task& task) const {
  if (task.cross_call.sent) return true;
  return task.has_op && task.op.kind == OpKind::kLock && w_.locks[task.op.object].spin &&
         task.state == TaskState::kRunning;
}

// Release: hand the lock to a spinner that is executing right now, else wake one sleeper.
void TaskExecutor::unlock(std::uint32_t t, std::uint32_t lock) {
  if (w_.locks[lock].spin) return spin_unlock(t, lock);
  Lock& l = w_.locks[lock];
  l.owner = kNone;
  w_.tasks[t].held.remove(lock);
  for (std::uint32_t s = l.spinners.head; s != kNone; s = w_.tasks[s].wq_link.next) {
    std::uint32_t sv = w_.tasks[s].vcpu;
    if (sv != kNone && executing(w_.vcpus[sv]) && w_.vcpus[sv].current == s) {
      poke(sv);  // books the spin up to now before the handover
      stop_spin(s, lock);
      try_lock(s, lock);
      return;
    }
  }
  std::uint32_t sleeper = list_pop(l.blocked);
  if (sleeper != kNone) guest_.wake_task(sleeper, w_.tasks[t].vcpu);
}

void TaskExecutor::note_exit(Task& task) {
  Vm& vm = w_.vms[task.vm];
  if (--vm.tasks_alive != 0 || !vm.finite) return;
  ++vm.rounds;
  if (vm.done_at < 0) {
    vm.done_at = w_.now();
    if (--w_.finite_left == 0) w_.stop = true;
  }
  // Another round while a neighbour still measures, as a benchmark run in a loop starts again.
  if (w_.keep_neighbours_busy && !w_.stop) w_.schedule(w_.now(), EventKind::kRestart, task.vm, 0);
}

void TaskExecutor::switch_in(std::uint32_t v, std::uint32_t t) {
  Task& task = w_.tasks[t];
  Ns cost = w_.vms[task.vm].guest.task_switch_ns;
  std::uint32_t rq_lock = w_.vcpus[v].rq_lock;
  if (rq_lock == kNone) {
    task.overhead += cost;
    return;
  }
  KernelOps& k = task.kernel;
  // A switch whose ops never ran (the task moved on before it executed) is replaced, not stacked.
  if (!k.pending()) {
    k.has_saved = task.has_op;
    k.saved = task.op;
    k.saved_remaining = task.remaining;
  }
  k.ops = {Op{OpKind::kLock, rq_lock, 0}, Op{OpKind::kOverhead, 0, cost},
           Op{OpKind::kUnlock, rq_lock, 0}};
  k.n = 3;
  k.next = 0;
  task.has_op = false;
}

void TaskExecutor::next_op(Task& task) {
  Vm& vm = w_.vms[task.vm];
  KernelOps& k = task.kernel;
  if (k.pending()) {
    task.op = k.ops[k.next++];
    task.has_op = true;
    task.remaining = 0;
    return;
  }
  if (k.n > 0) {
    k.n = 0;
    k.next = 0;
    if (k.has_saved) {
      k.has_saved = false;
      task.op = k.saved;
      task.remaining = k.saved_remaining;
      task.has_op = true;
      return;
    }
  }
  if (task.has_retry) {
    task.op = task.retry;
    task.has_retry = false;
  } else if (auto call = due_cross_call(task)) {
    task.op = *call;
  } else {
    task.op = vm.workload->next(task, vm);
  }
  task.has_op = true;
  task.remaining = task.op.kind == OpKind::kCompute ? task.op.ns : 0;
}

TaskExecutor::StepResult TaskExecutor::step(std::uint32_t v, std::uint32_t t) {
  Vcpu& vc = w_.vcpus[v];
  Task& task = w_.tasks[t];
  auto arm = [&](Ns need) {
    vc.armed_end = time_to_do(vc, w_.now(), need);
    ++vc.gen;
    w_.schedule(vc.armed_end, EventKind::kProgress, v, vc.gen);
    return StepResult::kArmed;
  };
  // Every built-in program computes for at least 1 ns between a bounded number of instant ops;
  // a program that does not (a bad scripted workload) stops the run with a fault, not a hang.
  for (int guard = 0; guard < 1'000'000; ++guard) {
    if (!task.has_op) next_op(task);
    Op op = task.op;
    if (task.overhead > 0 && op.kind != OpKind::kCompute && !task.spinning) {
      return arm(task.overhead);  // pay the switch or IPI before acting
    }
    switch (op.kind) {
      case OpKind::kCompute:
        if (task.remaining > 0 || task.overhead > 0) return arm(task.overhead + task.remaining);
        task.has_op = false;
        break;
      case OpKind::kLock: {
        Lock& lock = w_.locks[op.object];
        if (lock.spin) {
          StepResult r = spin_lock_step(v, t, op.object);
          if (r != StepResult::kContinue) return r;
          task.has_op = false;  // acquired
          break;
        }
        if (lock.owner == t || try_lock(t, op.object)) {
          stop_spin(t, op.object);
          task.has_op = false;
          break;
        }
        if (!task.spinning) start_spin(t, op.object);
        if (!owner_on_cpu(lock)) {
          stop_spin(t, op.object);
          list_push(lock.blocked, t);
          ++w_.vms[task.vm].stats.lock_blocks;
          block_task(t);
          return StepResult::kBlocked;
        }
        return arm_spin(v, task, task.spin_left);
      }
      case OpKind::kUnlock:
        unlock(t, op.object);
        task.has_op = false;
        break;
      case OpKind::kPipeWrite:
      case OpKind::kPipeRead: {
        Pipe& pipe = w_.pipes[op.object];
        bool write = op.kind == OpKind::kPipeWrite;
        bool ready = write ? pipe.count < pipe.capacity : pipe.count > 0;
        if (!ready) {
          // pipe_write()/pipe_read(): drop pipe->mutex, sleep, retake it on wakeup.
          if (pipe.lock != kNone && task.held.holds(pipe.lock)) {
            unlock(t, pipe.lock);
            task.retry = op;
            task.has_retry = true;
            task.op = Op{OpKind::kLock, pipe.lock, 0};
          }
          list_push(write ? pipe.writers : pipe.readers, t);
          block_task(t);
          return StepResult::kBlocked;
        }
        if (write) {
          ++pipe.count;
        } else {
          --pipe.count;
          ++w_.vms[task.vm].stats.units;
        }
        // Exclusive waits: wake one on the other side, and chain to the next on this side.
        std::uint32_t other = list_pop(write ? pipe.readers : pipe.writers);
        bool more = write ? pipe.count < pipe.capacity : pipe.count > 0;
        std::uint32_t next = more ? list_pop(write ? pipe.writers : pipe.readers) : kNone;
        std::uint32_t other_wq = write ? pipe.rd_wait_lock : pipe.wr_wait_lock;
        std::uint32_t own_wq = write ? pipe.wr_wait_lock : pipe.rd_wait_lock;
        bool was_edge = write ? pipe.count == 1 : pipe.count + 1 == pipe.capacity;
        if (other_wq == kNone) {
          // fs/pipe.c wakes with wake_up_interruptible_sync_poll(): WF_SYNC.
          if (other != kNone) guest_.wake_task(other, v, true);
          if (next != kNone) guest_.wake_task(next, v, true);
        } else {
          // The program wakes them after dropping pipe->mutex, each under its wait-queue lock:
          // the other side's on the empty/full edge, this side's chained exclusive waiter.
          if (was_edge || other != kNone) {
            task.wake_lock[0] = other_wq;
            task.wakee[0] = other;
          }
          if (next != kNone) {
            task.wake_lock[1] = own_wq;
            task.wakee[1] = next;
          }
        }
        task.has_op = false;
        break;
      }
      case OpKind::kWakeSelect: {
        std::uint32_t i = op.object;
        std::uint32_t wakee = task.wakee[i];
        task.wake_vcpu[i] = kNone;
        task.wake_rq_lock[i] = kNone;
        if (w_.vcpus[v].rq_lock != kNone && wakee != kNone &&
            w_.tasks[wakee].state == TaskState::kBlocked) {
          task.wake_vcpu[i] = guest_.ttwu_select(wakee, v, true);  // a pipe's WF_SYNC wakeup
          task.wake_rq_lock[i] = guest_.ttwu_rq_lock(task.wake_vcpu[i], v);
        }
        if (task.wake_rq_lock[i] != kNone) {
          task.op = Op{OpKind::kLock, task.wake_rq_lock[i], 0};  // rq_lock() in ttwu_queue()
          break;
        }
        task.has_op = false;
        break;
      }
      case OpKind::kWakeUp: {
        std::uint32_t i = op.object;
        std::uint32_t& wakee = task.wakee[i];
        if (wakee != kNone && task.wake_vcpu[i] != kNone) {
          // Activated where kWakeSelect chose, under that vCPU's rq lock if it needed it.
          if (w_.tasks[wakee].state == TaskState::kBlocked) {
            guest_.ttwu_activate(task.wake_vcpu[i], wakee, v);
          }
        } else if (wakee != kNone) {
          guest_.wake_task(wakee, v, true);  // a pipe's WF_SYNC wakeup
        }
        wakee = kNone;
        task.wake_vcpu[i] = kNone;
        if (task.wake_rq_lock[i] != kNone) {
          task.op = Op{OpKind::kUnlock, task.wake_rq_lock[i], 0};
          task.wake_rq_lock[i] = kNone;
          break;
        }
        task.has_op = false;
        break;
      }
      case OpKind::kCrossCall: {
        StepResult r = cross_call_step(v, t);
        if (r != StepResult::kContinue) return r;
        break;  // sent (its cost is paid at the top) or done
      }
      case OpKind::kOverhead:
        task.overhead += op.ns;
        task.has_op = false;
        break;
      case OpKind::kSleep:
        task.has_op = false;
        block_task(t);
        ++task.sleep_gen;
        w_.schedule(w_.now() + op.ns, EventKind::kTaskWake, t, task.sleep_gen);
        return StepResult::kBlocked;
      case OpKind::kExit:
        task.state = TaskState::kDone;
        task.prev_vcpu = v;
        task.vcpu = kNone;
        note_exit(task);
        return StepResult::kExited;
    }
  }
  w_.fault = "task program made no progress in 1,000,000 instant operations";
  w_.stop = true;
  return StepResult::kArmed;
}

}  // namespace prefcpu::sim
