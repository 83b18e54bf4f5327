// The kthread actuator. The kernel's rules (kernel/sched/syscalls.c, kernel/kthread.c, 6.12):
// - sched_setaffinity(2) refuses PF_NO_SETAFFINITY tasks with EINVAL: per-CPU kthreads
//   (kthread_bind), every workqueue kworker, the idle injection and stopper threads.
// - Other kthreads may be moved by root (CAP_SYS_NICE); the new mask is ANDed with the task's
//   cpuset (the root one) and must keep an active CPU, else EINVAL.
// - sched_getaffinity(2) reports cpus_mask ∩ cpu_active_mask, so masks are compared ∩ online.
// - kthreadd's mask is where new kthreads start; it is never moved.
#include "linux/housekeeping/kthread_actuator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/text.h"
#include "linux/housekeeping/kthread_journal.h"
#include "linux/housekeeping/workqueue_actuator.h"

namespace prefcpu {

namespace {

bool gone_errno(int err) {
  return err == ENOENT || err == ESRCH;
}

// Not ours to change (no CAP_SYS_NICE, a container's /proc): stop for the run.
bool unavailable_errno(int err) {
  return err == EPERM || err == EACCES;
}

std::optional<pid_t> parse_pid(std::string_view name) {
  pid_t pid = 0;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
  if (ec != std::errc{} || ptr != name.data() + name.size() || pid <= 0) return std::nullopt;
  return pid;
}

nlohmann::json text_or_null(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

struct PlannedMove {
  pid_t pid = 0;
  CpuSet target;
};

std::string names_of(const MovedKthreads& moved, const std::vector<PlannedMove>& done) {
  constexpr std::size_t kShown = 8;
  std::string out;
  for (std::size_t i = 0; i < done.size() && i < kShown; ++i) {
    auto it = moved.find(done[i].pid);
    std::string comm = it != moved.end() ? it->second.comm : std::string("?");
    out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", comm, done[i].pid);
  }
  if (done.size() > kShown) out += fmt::format(" and {} more", done.size() - kShown);
  return out;
}

class KthreadActuator final : public Actuator {
 public:
  KthreadActuator(KernelFs& fs, Journal& journal, KthreadOptions options)
      : fs_(fs), journal_(journal), options_(std::move(options)) {
    probe_ = options_.probe ? options_.probe
                            : std::make_shared<ProcTaskProbe>(fs_, options_.proc_root, false);
  }

  std::string_view name() const override { return kKthreadSection; }

  Status apply(const CpuSet& preferred, const CpuSet& online) override {
    online_ = online;
    applied_ = true;
    Status result = follow(preferred, online);
    last_error_ = result ? std::string() : result.error().message;
    return result;
  }

  Status restore() override { return put_back_all(); }

  Status recover(const nlohmann::json& section) override {
    auto threads = parse_kthread_section(section);
    if (!threads) return threads.error();
    if (threads->empty()) return {};
    for (auto& [pid, thread] : *threads) moved_[pid] = std::move(thread);
    return put_back_all();
  }

  nlohmann::json status() const override {
    return {
        {"state", state()},
        {"confined", moved_.size()},
        {"scans", scans_},
        {"kthreads", scans_ > 0 ? nlohmann::json(kthreads_) : nlohmann::json(nullptr)},
        {"movable", scans_ > 0 ? nlohmann::json(movable_) : nlohmann::json(nullptr)},
        {"moves", moves_},
        {"restored", restored_},
        {"left_alone", left_alone_},
        {"refused", refused_count_},
        {"exited", exited_},
        {"unavailable", text_or_null(unavailable_)},
        {"last_event", text_or_null(last_event_)},
        {"last_error", text_or_null(last_error_)},
    };
  }

 private:
  std::string_view state() const {
    if (!unavailable_.empty()) return "unavailable";
    if (!moved_.empty()) return "following";
    return applied_ ? "original" : "unknown";
  }

  // Masks as sched_getaffinity(2) shows them: cpus_mask ∩ active.
  static bool holds(const CpuSet& current, const CpuSet& mask, const CpuSet& online) {
    return (current & online) == (mask & online);
  }

  Status follow(const CpuSet& preferred, const CpuSet& online) {
    if (!unavailable_.empty()) return {};
    // Nothing confined and every online CPU preferred: each thread's target is its own mask, so
    // a scan could move nothing (persist() only retries a journal write that failed).
    if (moved_.empty() && online.is_subset_of(preferred)) return persist();
    ++scans_;
    auto names = fs_.list(options_.proc_root);
    if (!names) {
      if (!unavailable_errno(names.error().errno_value) && !gone_errno(names.error().errno_value)) {
        return names.error();
      }
      disable(names.error().message);
      return {};
    }
    std::vector<pid_t> pids;
    for (const auto& name : *names) {
      if (auto pid = parse_pid(name)) pids.push_back(*pid);
    }
    std::sort(pids.begin(), pids.end());  // readdir order is arbitrary; logs and moves are not
    std::vector<PlannedMove> plan;
    std::set<pid_t> alive;
    kthreads_ = 0;
    movable_ = 0;
    for (pid_t pid : pids) {
      auto stat = probe_->stat(pid);
      if (!stat || !stat->kernel_thread()) continue;  // exited since the listing, or user space
      ++kthreads_;
      alive.insert(pid);
      auto known = moved_.find(pid);
      if (known != moved_.end() && known->second.start_time != stat->start_time) {
        ++exited_;  // the TID was reused: the thread we moved is gone
        moved_.erase(known);
        known = moved_.end();
      }
      if (auto refused = refused_.find(pid); known == moved_.end() && refused != refused_.end() &&
                                             refused->second == stat->start_time) {
        continue;
      }
      auto allowed = probe_->affinity(pid);
      if (!allowed) continue;
      if (known == moved_.end()) {
        if (classify_kthread(*stat, *allowed) != KthreadKind::kMovable) continue;
        ++movable_;
        CpuSet target = workqueue_target(*allowed, preferred, online);
        if (target == *allowed) continue;  // nothing to steer, or no preferred CPU in it
        moved_[pid] = MovedKthread{stat->start_time, stat->comm, *allowed, target, std::nullopt};
        plan.push_back({pid, target});
        continue;
      }
      ++movable_;
      MovedKthread& moved = known->second;
      if (!holds(*allowed, moved.set, online)) {
        // Someone (an administrator, the kernel's own kthread affinity) changed it: theirs now.
        ++left_alone_;
        event(fmt::format("{} ({}) was set to {} by someone else; left as it is", moved.comm, pid,
                          format_cpulist(*allowed)));
        moved_.erase(known);
        continue;
      }
      CpuSet target = workqueue_target(moved.original, preferred, online);
      if (target == moved.set) continue;
      moved.previous = moved.set;
      moved.set = target;
      plan.push_back({pid, target});
    }
    for (auto it = moved_.begin(); it != moved_.end();) {
      if (alive.contains(it->first)) {
        ++it;
      } else {
        ++exited_;  // exited: nothing to put back
        it = moved_.erase(it);
      }
    }
    std::erase_if(refused_, [&](const auto& entry) { return !alive.contains(entry.first); });
    if (plan.empty()) return persist();
    // The journal holds every original (and the mask in flight) before the first move.
    if (auto status = persist(); !status) {
      revert(plan, 0);
      return status;
    }
    return move(plan, preferred);
  }

  Status move(const std::vector<PlannedMove>& plan, const CpuSet& preferred) {
    Status result;
    std::vector<PlannedMove> narrowed;
    std::vector<PlannedMove> back;
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const auto& [pid, target] = plan[i];
      MovedKthread& moved = moved_.at(pid);
      auto status = options_.setter->set_affinity(pid, target);
      if (status) {
        ++moves_;
        moved.previous.reset();
        if (target == moved.original) {
          ++restored_;
          back.push_back(plan[i]);
          moved_.erase(pid);
        } else {
          narrowed.push_back(plan[i]);
        }
        continue;
      }
      int err = status.error().errno_value;
      if (gone_errno(err)) {
        ++exited_;
        moved_.erase(pid);
      } else if (err == EINVAL) {
        // PF_NO_SETAFFINITY since the scan, or no CPU of the mask allowed: not tried again.
        ++refused_count_;
        refused_[pid] = moved.start_time;
        event(fmt::format("the kernel refused {} for {} ({}): {}; left as it is",
                          format_cpulist(target), moved.comm, pid, status.error().message));
        moved_.erase(pid);
      } else if (unavailable_errno(err)) {
        disable(status.error().message);
        revert(plan, i);
        break;
      } else {
        if (result) result = status.error();  // ENOMEM, EBUSY: tried again next period
        revert(plan, i, i + 1);
      }
    }
    if (!narrowed.empty()) {
      event(fmt::format("{} unbound kernel threads confined to {}: {}", narrowed.size(),
                        format_cpulist(preferred), names_of(moved_, narrowed)));
    }
    if (!back.empty()) {
      event(fmt::format("{} unbound kernel threads back on their original CPUs", back.size()));
    }
    if (auto status = persist(); !status && result) result = status;
    return result;
  }

  // Planned moves [from, to) that were not made: a new entry is forgotten (the thread is at its
  // original), a known one keeps the mask it had.
  void revert(const std::vector<PlannedMove>& plan, std::size_t from,
              std::size_t to = static_cast<std::size_t>(-1)) {
    for (std::size_t i = from; i < plan.size() && i < to; ++i) {
      auto it = moved_.find(plan[i].pid);
      if (it == moved_.end()) continue;
      if (it->second.previous) {
        it->second.set = *it->second.previous;
        it->second.previous.reset();
      } else {
        moved_.erase(it);
      }
    }
  }

  // restore() and recover(): every thread still holding a mask prefcpu set gets its original.
  Status put_back_all() {
    CpuSet online = online_;
    if (auto text = fs_.read(options_.online); text) {
      if (auto parsed = parse_cpulist(trim(*text)); parsed) online = *parsed;
    }
    Status result;
    std::size_t restored = 0;
    for (auto it = moved_.begin(); it != moved_.end();) {
      auto status = put_back(it->first, it->second, online, restored);
      if (status) {
        it = moved_.erase(it);
      } else {
        if (result) result = status;
        ++it;
      }
    }
    if (restored > 0) {
      event(fmt::format("{} unbound kernel threads back on their original CPUs", restored));
    }
    if (auto status = persist(); !status && result) result = status;
    return result;
  }

  Status put_back(pid_t pid, const MovedKthread& moved, const CpuSet& online,
                  std::size_t& restored) {
    auto stat = probe_->stat(pid);
    if (!stat || stat->start_time != moved.start_time) {
      if (stat || gone_errno(stat.error().errno_value)) return {};  // exited: nothing to put back
      return stat.error();
    }
    auto current = probe_->affinity(pid);
    if (!current) return gone_errno(current.error().errno_value) ? Status() : current.error();
    if (holds(*current, moved.original, online)) return {};
    if (!holds(*current, moved.set, online) &&
        !(moved.previous && holds(*current, *moved.previous, online))) {
      ++left_alone_;
      event(fmt::format("{} ({}) was set to {} by someone else; left as it is", moved.comm, pid,
                        format_cpulist(*current)));
      return {};
    }
    auto status = options_.setter->set_affinity(pid, moved.original);
    if (!status) {
      int err = status.error().errno_value;
      if (gone_errno(err)) return {};
      return make_errno_error(err, "restoring {} ({}) to {}: {}", moved.comm, pid,
                              format_cpulist(moved.original), status.error().message);
    }
    ++restored_;
    ++restored;
    return {};
  }

  Status persist() {
    // Journal::record skips an unchanged section and writes no file for an empty one.
    return journal_.record(name(), kthread_section(moved_));
  }

  void disable(const std::string& why) {
    unavailable_ = why;
    event(fmt::format("unbound kernel threads not moved for this run: {}", why));
  }

  void event(const std::string& line) {
    last_event_ = line;
    if (options_.on_event) options_.on_event(line);
  }

  KernelFs& fs_;
  Journal& journal_;
  KthreadOptions options_;
  std::shared_ptr<const TaskProbe> probe_;
  MovedKthreads moved_;
  std::map<pid_t, std::uint64_t> refused_;  // TID -> start time: EINVAL once, not tried again
  CpuSet online_;
  bool applied_ = false;
  std::uint64_t scans_ = 0;     // of /proc: only while a thread is or may be confined
  std::uint64_t kthreads_ = 0;  // kernel threads seen by the last scan
  std::uint64_t movable_ = 0;   // of which prefcpu may move (moved or not)
  std::uint64_t moves_ = 0;
  std::uint64_t restored_ = 0;
  std::uint64_t left_alone_ = 0;
  std::uint64_t refused_count_ = 0;
  std::uint64_t exited_ = 0;
  std::string unavailable_;
  std::string last_event_;
  std::string last_error_;
};

}  // namespace

KthreadKind classify_kthread(const PidStat& stat, const CpuSet& allowed) {
  if (!stat.kernel_thread()) return KthreadKind::kNotKthread;
  if (stat.ppid == 0) return KthreadKind::kKthreadd;
  if (stat.no_setaffinity()) return KthreadKind::kNoSetaffinity;
  if (allowed.count() <= 1) return KthreadKind::kPerCpu;
  return KthreadKind::kMovable;
}

std::unique_ptr<Actuator> make_kthread_actuator(KernelFs& fs, Journal& journal,
                                                KthreadOptions options) {
  return std::make_unique<KthreadActuator>(fs, journal, std::move(options));
}

}  // namespace prefcpu
