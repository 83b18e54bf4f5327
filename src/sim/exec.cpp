// Executing guest tasks on vCPUs: work progresses only while the vCPU holds a pCPU (slower during
// cache refill); locks spin then block; pipes block writers when full and readers when empty.
#include <cassert>

#include "sim/sim.h"
#include "sim/workload.h"

namespace prefcpu::sim {

bool Simulation::executing(const Vcpu& v) const {
  return v.host == HostState::kRunning && now() >= v.exec_from;
}

// Guest work done on v in [from, to]: nothing before exec_from, refill_speed_pct until
// refill_until, full speed after.
Ns Simulation::work_between(const Vcpu& v, Ns from, Ns to) const {
  from = std::max(from, v.exec_from);
  if (to <= from) return 0;
  Ns slow = std::max<Ns>(0, std::min(to, v.refill_until) - from);
  return (to - from - slow) + slow * host_.refill_speed_pct / 100;
}

// The time at which `work` is done, starting at `from`.
Ns Simulation::time_to_do(const Vcpu& v, Ns from, Ns work) const {
  from = std::max(from, v.exec_from);
  if (from < v.refill_until && host_.refill_speed_pct < 100) {
    Ns slow_work = (v.refill_until - from) * host_.refill_speed_pct / 100;
    if (work <= slow_work) {
      Ns pct = std::max<Ns>(1, host_.refill_speed_pct);
      return from + (work * 100 + pct - 1) / pct;
    }
    return v.refill_until + (work - slow_work);
  }
  return from + work;
}

// Books the work done since the last call on v's current task.
void Simulation::advance(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  if (vc.host != HostState::kRunning) return;
  Ns done = 0;
  bool complete = now() >= vc.armed_end;
  if (!complete) done = work_between(vc, vc.accounted_to, now());
  vc.accounted_to = now();
  if (vc.current == kNone) return;
  Task& task = tasks_[vc.current];
  VmStats& stats = vms_[vc.vm].stats;
  Ns over = complete ? task.overhead : std::min(done, task.overhead);
  task.overhead -= over;
  stats.overhead_ns += over;
  done -= over;
  Ns used = over;
  if (task.spinning) {
    Ns spin = complete ? task.spin_left : std::min(done, task.spin_left);
    task.spin_left -= spin;
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

// Makes an executing vCPU re-evaluate its task now (lock handed over, holder preempted).
void Simulation::poke(std::uint32_t v) {
  Vcpu& vc = vcpus_[v];
  if (!executing(vc)) return;
  advance(v);
  ++vc.gen;
  vc.armed_end = kNever;
  schedule(now(), EventKind::kProgress, v, vc.gen);
}

void Simulation::link_tail(List& list, std::uint32_t t, Links Task::*links) {
  Links& link = tasks_[t].*links;
  link.prev = list.tail;
  link.next = kNone;
  if (list.tail != kNone) {
    (tasks_[list.tail].*links).next = t;
  } else {
    list.head = t;
  }
  list.tail = t;
  ++list.size;
}

void Simulation::unlink(List& list, std::uint32_t t, Links Task::*links) {
  Links& link = tasks_[t].*links;
  if (link.prev != kNone) {
    (tasks_[link.prev].*links).next = link.next;
  } else {
    list.head = link.next;
  }
  if (link.next != kNone) {
    (tasks_[link.next].*links).prev = link.prev;
  } else {
    list.tail = link.prev;
  }
  link = Links{};
  --list.size;
}

std::uint32_t Simulation::list_pop(List& list) {
  std::uint32_t t = list.head;
  if (t != kNone) list_remove(list, t);
  return t;
}

void Simulation::block_task(std::uint32_t t) {
  Task& task = tasks_[t];
  task.state = TaskState::kBlocked;
  task.prev_vcpu = task.vcpu;
  task.vcpu = kNone;
}

bool Simulation::try_lock(std::uint32_t t, std::uint32_t lock) {
  Lock& l = locks_[lock];
  if (l.owner != kNone) return false;
  l.owner = t;
  tasks_[t].held_lock = lock;
  return true;
}

void Simulation::start_spin(std::uint32_t t, std::uint32_t lock) {
  Task& task = tasks_[t];
  task.spinning = true;
  task.spin_left = vms_[task.vm].guest.spin_limit_ns;
  list_push(locks_[lock].spinners, t);
}

void Simulation::stop_spin(std::uint32_t t, std::uint32_t lock) {
  Task& task = tasks_[t];
  if (!task.spinning) return;
  task.spinning = false;
  task.spin_left = 0;
  list_remove(locks_[lock].spinners, t);
}

bool Simulation::holder_preempted(const Lock& lock) const {
  if (lock.owner == kNone) return false;
  std::uint32_t v = tasks_[lock.owner].vcpu;
  return v != kNone && vcpus_[v].host == HostState::kWaiting;
}

// vcpu_is_preempted(): spinners on a lock whose holder just lost its pCPU stop spinning.
void Simulation::on_holder_preempted(std::uint32_t t) {
  const Task& holder = tasks_[t];
  if (!vms_[holder.vm].guest.pv_preempted) return;
  for (std::uint32_t s = locks_[holder.held_lock].spinners.head; s != kNone;
       s = tasks_[s].wq_link.next) {
    poke(tasks_[s].vcpu);
  }
}

// Release: hand the lock to a spinner that is executing right now, else wake one sleeper.
void Simulation::unlock(std::uint32_t t, std::uint32_t lock) {
  Lock& l = locks_[lock];
  l.owner = kNone;
  tasks_[t].held_lock = kNone;
  for (std::uint32_t s = l.spinners.head; s != kNone; s = tasks_[s].wq_link.next) {
    std::uint32_t sv = tasks_[s].vcpu;
    if (sv != kNone && executing(vcpus_[sv]) && vcpus_[sv].current == s) {
      poke(sv);  // books the spin up to now before the handover
      stop_spin(s, lock);
      try_lock(s, lock);
      return;
    }
  }
  std::uint32_t sleeper = list_pop(l.blocked);
  if (sleeper != kNone) wake_task(sleeper, tasks_[t].vcpu);
}

bool Simulation::next_op(Task& task) {
  Vm& vm = vms_[task.vm];
  if (task.has_retry) {
    task.op = task.retry;
    task.has_retry = false;
  } else {
    task.op = vm.workload->next(task, vm);
  }
  task.has_op = true;
  task.remaining = task.op.kind == OpKind::kCompute ? task.op.ns : 0;
  return true;
}

Simulation::StepResult Simulation::task_step(std::uint32_t v, std::uint32_t t) {
  Vcpu& vc = vcpus_[v];
  Task& task = tasks_[t];
  auto arm = [&](Ns need) {
    vc.armed_end = time_to_do(vc, now(), need);
    ++vc.gen;
    schedule(vc.armed_end, EventKind::kProgress, v, vc.gen);
    return StepResult::kArmed;
  };
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
        Lock& lock = locks_[op.object];
        if (lock.owner == t || try_lock(t, op.object)) {
          stop_spin(t, op.object);
          task.has_op = false;
          break;
        }
        if (!task.spinning) start_spin(t, op.object);
        bool give_up =
            task.spin_left <= 0 || (vms_[task.vm].guest.pv_preempted && holder_preempted(lock));
        if (give_up) {
          stop_spin(t, op.object);
          list_push(lock.blocked, t);
          ++vms_[task.vm].stats.lock_blocks;
          block_task(t);
          return StepResult::kBlocked;
        }
        return arm(task.overhead + task.spin_left);
      }
      case OpKind::kUnlock:
        unlock(t, op.object);
        task.has_op = false;
        break;
      case OpKind::kPipeWrite:
      case OpKind::kPipeRead: {
        Pipe& pipe = pipes_[op.object];
        bool write = op.kind == OpKind::kPipeWrite;
        bool ready = write ? pipe.count < pipe.capacity : pipe.count > 0;
        if (!ready) {
          // pipe_write()/pipe_read(): drop pipe->mutex, sleep, retake it on wakeup.
          if (pipe.lock != kNone && task.held_lock == pipe.lock) {
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
          ++vms_[task.vm].stats.units;
        }
        // Exclusive waits: wake one on the other side, and chain to the next on this side.
        std::uint32_t other = list_pop(write ? pipe.readers : pipe.writers);
        if (other != kNone) wake_task(other, v);
        bool more = write ? pipe.count < pipe.capacity : pipe.count > 0;
        if (more) {
          std::uint32_t next = list_pop(write ? pipe.writers : pipe.readers);
          if (next != kNone) wake_task(next, v);
        }
        task.has_op = false;
        break;
      }
      case OpKind::kSleep:
        task.has_op = false;
        block_task(t);
        ++task.sleep_gen;
        schedule(now() + op.ns, EventKind::kTaskWake, t, task.sleep_gen);
        return StepResult::kBlocked;
      case OpKind::kExit:
        task.state = TaskState::kDone;
        task.prev_vcpu = v;
        task.vcpu = kNone;
        note_exit(task);
        return StepResult::kExited;
    }
  }
  // Unreachable: every workload program computes for at least 1 ns between instant ops.
  assert(false && "task program made no progress");
  return StepResult::kExited;
}

}  // namespace prefcpu::sim
