// The task side of the cpuset actuator: the shield's move out of the root cpuset, the v1
// prefcpu-pinned cpuset for tasks pinned only to leaving CPUs, and the migration count.
#include <cerrno>

#include "linux/cgroup/cpuset_actuator.h"

namespace prefcpu {

namespace {

std::string tid_list(const std::vector<pid_t>& tids) {
  std::string text;
  std::size_t shown = 0;
  for (pid_t tid : tids) {
    if (shown == 8) {
      text += " ...";
      break;
    }
    if (!text.empty()) text += ' ';
    text += std::to_string(tid);
    ++shown;
  }
  return text;
}

}  // namespace

Status CpusetActuator::setup_shield(const CpuSet& online) {
  bool exists = tree_->exists(kWorkload);
  if (!ours(kWorkload)) {
    created_.emplace_back(kWorkload);
    // Journal before mkdir: a crash right after it still removes the cpuset at the next start.
    if (auto status = save_journal(); !status) {
      created_.pop_back();
      return status;
    }
  }
  if (exists) {
    notify(NoticeLevel::kWarning,
           "cpuset prefcpu-workload already exists (left by an earlier "
           "run?); using it and removing it at exit");
  } else {
    auto root_cpus = tree_->read_cpus("");
    CpuSet cpus = root_cpus ? root_cpus->effective(online) : online;
    if (auto status = tree_->create(kWorkload, cpus); !status) return status;
  }
  shield_active_ = true;
  std::vector<std::string> errors;
  unsigned moved = sweep_root(8, errors);
  notify(NoticeLevel::kInfo,
         "shield: moved " + std::to_string(moved) +
             " tasks from the root cpuset into prefcpu-workload; kernel threads stay in the root");
  for (const auto& error : errors) notify(NoticeLevel::kWarning, "shield: " + error);
  return {};
}

unsigned CpusetActuator::sweep_root(int passes, std::vector<std::string>& errors) {
  unsigned total = 0;
  for (int pass = 0; pass < passes; ++pass) {
    auto tids = tree_->tasks("");
    if (!tids) {
      errors.push_back(tids.error().message);
      break;
    }
    if (pass == 0) {
      // Forget TIDs that left the root: their numbers may come back as other tasks.
      std::set<pid_t> present(tids->begin(), tids->end());
      std::erase_if(unmovable_, [&](pid_t tid) { return present.count(tid) == 0; });
    }
    unsigned moved = 0;
    for (pid_t tid : *tids) {
      if (unmovable_.count(tid) != 0) continue;
      auto stat = probe_->stat(tid);
      if (!stat) continue;  // exited
      // Kernel threads stay: moving kthreadd would put new per-CPU kthreads, which can never
      // leave again, into our cpuset.
      if (stat->kernel_thread()) {
        unmovable_.insert(tid);
        continue;
      }
      auto status = tree_->move_task(kWorkload, tid);
      if (status) {
        ++moved;
        continue;
      }
      int err = status.error().errno_value;
      if (err == ESRCH) continue;
      unmovable_.insert(tid);
      // EINVAL is a task that may not change CPUs (PF_NO_SETAFFINITY): skipped quietly.
      if (err != EINVAL) errors.push_back(status.error().message);
    }
    total += moved;
    if (moved == 0) break;
  }
  counters_.shield_moved += total;
  return total;
}

Status CpusetActuator::ensure_pinned_cgroup(const CpuSet& online) {
  if (ours(kPinned) && tree_->exists(kPinned)) {
    auto current = tree_->read_cpus(kPinned);
    if (current && current->cpus != online) return tree_->write_cpus(kPinned, {false, online});
    return {};
  }
  bool exists = tree_->exists(kPinned);
  if (!ours(kPinned)) {
    created_.emplace_back(kPinned);
    if (auto status = save_journal(); !status) {
      created_.pop_back();
      return status;
    }
  }
  if (exists) {
    notify(NoticeLevel::kWarning,
           "cpuset prefcpu-pinned already exists (left by an earlier "
           "run?); using it and removing it at exit");
    return tree_->write_cpus(kPinned, {false, online});
  }
  return tree_->create(kPinned, online);
}

bool CpusetActuator::protect_pinned(const std::string& relative, const CpuSet& next,
                                    const CpuSet& online, std::vector<std::string>& errors) {
  auto tids = tree_->tasks(relative);
  if (!tids) {
    errors.push_back(tids.error().message);
    return false;
  }
  std::vector<pid_t> stranded;
  for (pid_t tid : *tids) {
    auto allowed = probe_->affinity(tid);
    if (!allowed) continue;  // exited
    if (!allowed->intersects(next)) stranded.push_back(tid);
  }
  if (stranded.empty()) return true;
  if (tree_->version() == CgroupVersion::kV2) {
    // Moving a process on v2 moves it in every controller, so leave it: the kernel runs it on
    // the cgroup's CPUs meanwhile and keeps its request for when they come back.
    counters_.pinned_left += stranded.size();
    notify(NoticeLevel::kInfo, "cgroup " + relative + ": " + std::to_string(stranded.size()) +
                                   " tasks are allowed only on CPUs leaving preferred (TIDs " +
                                   tid_list(stranded) + "); on cgroup v2 they stay, on \"" +
                                   format_cpulist(next) + "\" until those CPUs come back");
    return true;
  }
  if (auto status = ensure_pinned_cgroup(online); !status) {
    errors.push_back(status.error().message);
    return false;
  }
  std::vector<pid_t> recorded;
  for (pid_t tid : stranded) {
    auto stat = probe_->stat(tid);
    if (!stat) continue;
    pinned_[tid] = PinnedTask{stat->start_time, relative};
    recorded.push_back(tid);
  }
  if (auto status = save_journal(); !status) {
    for (pid_t tid : recorded) pinned_.erase(tid);
    errors.push_back(status.error().message);
    return false;
  }
  bool all_moved = true;
  std::vector<pid_t> moved;
  for (pid_t tid : recorded) {
    auto status = tree_->move_task(kPinned, tid);
    if (status) {
      moved.push_back(tid);
      continue;
    }
    pinned_.erase(tid);
    if (status.error().errno_value == ESRCH) continue;
    errors.push_back("moving task " + std::to_string(tid) +
                     " into prefcpu-pinned: " + status.error().message);
    all_moved = false;
  }
  counters_.pinned_moved += moved.size();
  if (!moved.empty()) {
    notify(NoticeLevel::kInfo, "cgroup " + relative + ": moved " + std::to_string(moved.size()) +
                                   " tasks allowed only on CPUs leaving preferred into "
                                   "prefcpu-pinned (TIDs " +
                                   tid_list(moved) + "); they keep running there");
  }
  if (moved.size() != recorded.size()) {
    if (auto status = save_journal(); !status) errors.push_back(status.error().message);
  }
  return all_moved;
}

std::string CpusetActuator::origin_of(pid_t tid) const {
  if (auto it = pinned_.find(tid); it != pinned_.end()) return it->second.origin;
  // A thread or child born in prefcpu-pinned belongs where its process or parent came from.
  if (auto tgid = probe_->tgid(tid); tgid) {
    if (auto it = pinned_.find(*tgid); it != pinned_.end()) return it->second.origin;
  }
  if (auto stat = probe_->stat(tid); stat) {
    if (auto it = pinned_.find(stat->ppid); it != pinned_.end()) return it->second.origin;
  }
  return "";
}

void CpusetActuator::return_pinned(std::vector<std::string>& errors) {
  if (!ours(kPinned) || !tree_->exists(kPinned)) return;
  auto tids = tree_->tasks(kPinned);
  if (!tids) {
    errors.push_back(tids.error().message);
    return;
  }
  bool changed = false;
  std::set<pid_t> present(tids->begin(), tids->end());
  for (auto it = pinned_.begin(); it != pinned_.end();) {
    if (present.count(it->first) == 0) {
      it = pinned_.erase(it);  // exited, or moved away by someone else
      changed = true;
    } else {
      ++it;
    }
  }
  std::vector<pid_t> returned;
  for (pid_t tid : *tids) {
    std::string origin = origin_of(tid);
    if (pinned_.count(tid) == 0) {
      auto stat = probe_->stat(tid);
      if (!stat) continue;
      pinned_[tid] = PinnedTask{stat->start_time, origin};
      changed = true;
    }
    if (!origin.empty() && !tree_->exists(origin)) origin.clear();
    auto allowed = probe_->affinity(tid);
    if (!allowed) continue;
    CpuSet origin_cpus;
    if (auto it = managed_.find(origin); it != managed_.end() && it->second.known) {
      origin_cpus = it->second.known->effective(last_online_);
    } else if (auto cpus = tree_->read_cpus(origin); cpus) {
      origin_cpus = cpus->effective(last_online_);
    }
    if (!allowed->intersects(origin_cpus)) continue;  // still only on non-preferred CPUs
    auto status = tree_->move_task(origin, tid);
    if (!status && status.error().errno_value != ESRCH) {
      errors.push_back("moving task " + std::to_string(tid) + " back to " +
                       (origin.empty() ? std::string("the root cpuset") : origin) + ": " +
                       status.error().message);
      continue;
    }
    if (status) returned.push_back(tid);
    pinned_.erase(tid);
    changed = true;
  }
  counters_.pinned_returned += returned.size();
  if (!returned.empty()) {
    notify(NoticeLevel::kInfo, "moved " + std::to_string(returned.size()) +
                                   " pinned tasks back from prefcpu-pinned (TIDs " +
                                   tid_list(returned) + "): their CPUs are preferred again");
  }
  if (changed) {
    if (auto status = save_journal(); !status) errors.push_back(status.error().message);
  }
}

std::uint64_t CpusetActuator::count_migrations(const std::string& relative, const CpuSet& removed) {
  auto tids = tree_->tasks(relative);
  if (!tids) return 0;
  std::uint64_t count = 0;
  for (pid_t tid : *tids) {
    auto stat = probe_->stat(tid);
    if (stat && removed.test(stat->processor)) ++count;
  }
  return count;
}

}  // namespace prefcpu
