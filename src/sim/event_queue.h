// Events ordered by (integer ns, sequence number), as ns-3's EventKey: ties run in the order they
// were scheduled, so a run is a pure function of the scenario and the seed.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <vector>

namespace prefcpu::sim {

using Ns = std::int64_t;

enum class EventKind : std::uint8_t {
  kProgress,  // a vCPU's armed activity ends, or the vCPU re-evaluates its task
  kResume,    // a dispatched vCPU starts executing guest code after the switch cost
  kTick,      // guest scheduler tick on one vCPU
  kSlice,     // host slice of the vCPU on a pCPU ends
  kPollEnd,   // host halt-polling window of a vCPU ends
  kHostWake,  // a halted vCPU becomes runnable on the host (IPI delivered)
  kTaskWake,  // a sleeping task's timer fires
  kWindow,    // dispatch-window host: the next 10 ms window starts
  kBudget,    // dispatch-window host: an entitlement account's budget for this window runs out
  kGovernor,  // a VM's steal governor samples /proc/stat
  kHostTick,  // per-pCPU host queues: the host's jiffy, when periodic and nohz idle balance run
  kRestart,   // keep_neighbours_busy: a finished finite workload starts another round
};

struct Event {
  Ns time = 0;
  std::uint64_t seq = 0;
  std::uint32_t target = 0;  // vCPU, pCPU, task or VM index, by kind
  std::uint32_t gen = 0;     // the target's generation when scheduled; stale events are dropped
  EventKind kind = EventKind::kProgress;
};

class EventQueue {
 public:
  void reserve(std::size_t n) { heap_.reserve(n); }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  Ns now() const { return now_; }
  std::uint64_t scheduled() const { return next_seq_; }

  void schedule(Ns time, EventKind kind, std::uint32_t target, std::uint32_t gen) {
    assert(time >= now_);
    heap_.push_back(Event{time, next_seq_++, target, gen, kind});
    std::push_heap(heap_.begin(), heap_.end(), later);
  }

  // Removes and returns the earliest event; time never goes back.
  Event pop() {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    Event event = heap_.back();
    heap_.pop_back();
    assert(event.time >= now_);
    now_ = event.time;
    return event;
  }

  const Event& top() const { return heap_.front(); }

  // Moves the clock forward to `time` without an event (the end of a run).
  void advance_to(Ns time) {
    assert(time >= now_ && (heap_.empty() || heap_.front().time >= time));
    now_ = time;
  }

 private:
  static bool later(const Event& a, const Event& b) {
    return a.time != b.time ? a.time > b.time : a.seq > b.seq;
  }

  std::vector<Event> heap_;
  Ns now_ = 0;
  std::uint64_t next_seq_ = 0;
};

}  // namespace prefcpu::sim
