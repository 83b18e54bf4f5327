// Intrusive lists of tasks (run queues, lock and pipe wait queues): a List holds task indices and
// each Task carries its Links for each kind of list, so no list allocates.
#pragma once

#include <vector>

#include "sim/state.h"

namespace prefcpu::sim {

// `links` names the task's Links for this kind of list (Task::rq_link or Task::wq_link).
inline void link_tail(std::vector<Task>& tasks, List& list, std::uint32_t t, Links Task::*links) {
  Links& link = tasks[t].*links;
  link.prev = list.tail;
  link.next = kNone;
  if (list.tail != kNone) {
    (tasks[list.tail].*links).next = t;
  } else {
    list.head = t;
  }
  list.tail = t;
  ++list.size;
}

inline void unlink(std::vector<Task>& tasks, List& list, std::uint32_t t, Links Task::*links) {
  Links& link = tasks[t].*links;
  if (link.prev != kNone) {
    (tasks[link.prev].*links).next = link.next;
  } else {
    list.head = link.next;
  }
  if (link.next != kNone) {
    (tasks[link.next].*links).prev = link.prev;
  } else {
    list.tail = link.prev;
  }
  link = Links{};
  --list.size;
}

}  // namespace prefcpu::sim
