// The cpuset backend of prefcpud: confines the managed cgroups to original ∩ preferred, keeps the
// kernel's rule for tasks pinned only to CPUs that leave preferred, and puts everything back.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "linux/actuator.h"
#include "linux/cgroup/cgroup_name.h"
#include "linux/cgroup/cpus_watch.h"
#include "linux/cgroup/cpuset_plan.h"
#include "linux/cgroup/cpuset_tree.h"
#include "linux/cgroup/task_probe.h"
#include "linux/journal.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

enum class NoticeLevel { kInfo, kWarning };
// Library code does not log; it reports what an operator should know through this sink.
using NoticeSink = std::function<void(NoticeLevel, const std::string&)>;

struct CpusetOptions {
  CpusetHierarchy hierarchy;
  std::vector<std::string> cgroups;  // relative to the root; empty: every top-level cpuset
  bool shield = false;               // v1: move the root's tasks into prefcpu-workload
  std::filesystem::path proc_root = "/proc";
  NoticeSink notice;
  // CLOCK_MONOTONIC in ns (the daemon passes its Clock). The cgroup tree is re-listed when
  // preferred or online changes and otherwise at most once a second: listing is most of a steady
  // period's cost. Unset: every apply.
  std::function<std::int64_t()> now_ns;
};

class CpusetActuator final : public Actuator {
 public:
  static constexpr std::string_view kName = "cpusets";
  static constexpr std::string_view kPinned = kPinnedCgroup;
  static constexpr std::string_view kWorkload = "prefcpu-workload";

  // Checks the options against the tree: named cgroups must exist and have cpuset files, and
  // --shield needs v1. Changes nothing.
  static Result<std::unique_ptr<CpusetActuator>> create(KernelFs& fs, Journal& journal,
                                                        CpusetOptions options);
  // An actuator that only knows how to undo a journal section (recover), whatever the current
  // configuration is.
  static std::unique_ptr<CpusetActuator> for_recovery(KernelFs& fs, Journal& journal,
                                                      std::filesystem::path proc_root,
                                                      NoticeSink notice);

  std::string_view name() const override { return kName; }
  Status apply(const CpuSet& preferred, const CpuSet& online) override;
  Status restore() override;
  Status recover(const nlohmann::json& section) override;
  nlohmann::json status() const override;

  // For tests and the soak test: the journal section this actuator would write now.
  nlohmann::json journal_section() const;

 private:
  struct Managed {
    CpusValue original;
    std::optional<CpusValue> known;  // what the file held after our last read or write
    bool empty_noted = false;        // "original ∩ preferred is empty" said once
  };
  struct PinnedTask {
    std::uint64_t start_time = 0;  // tells a reused TID apart
    std::string origin;            // the cgroup to move it back to
  };
  struct Counters {
    std::uint64_t writes = 0;
    std::uint64_t unchanged = 0;
    std::uint64_t refused = 0;
    std::uint64_t adopted = 0;
    std::uint64_t migrations = 0;
    std::uint64_t last_migrations = 0;
    std::uint64_t pinned_moved = 0;
    std::uint64_t pinned_returned = 0;
    std::uint64_t pinned_left = 0;  // v2: tasks the kernel falls back for
    std::uint64_t shield_moved = 0;
    std::int64_t last_apply_us = 0;
    std::int64_t last_write_latency_us = -1;
  };

  CpusetActuator(KernelFs& fs, Journal& journal, CpusetOptions options);

  void notify(NoticeLevel level, const std::string& message) const;
  Status save_journal();
  bool ours(std::string_view relative) const;

  // cpuset_actuator.cpp
  Status discover(std::vector<std::string>& errors);
  std::vector<std::string> wanted_cgroups(std::vector<std::string>& errors);
  void check_foreign(const std::string& relative, Managed& managed, const CpusValue& current,
                     const CpuSet& online);
  // Reads the managed cgroups that need it, adopts foreign writes, and pairs each cgroup's
  // current value with original ∩ preferred.
  Result<std::vector<CgroupPlan>> plan_writes(const CpuSet& preferred, const CpuSet& online,
                                              bool read_all, const std::set<std::string>& written,
                                              std::vector<std::string>& errors);

  // cpuset_tasks.cpp
  Status setup_shield(const CpuSet& online);
  unsigned sweep_root(int passes, std::vector<std::string>& errors);
  Status ensure_pinned_cgroup(const CpuSet& online);
  // Before a shrink: tasks of `relative` allowed only outside `next`. v1 moves them to
  // prefcpu-pinned; v2 counts them. False if one could not be moved (skip the shrink).
  bool protect_pinned(const std::string& relative, const CpuSet& next, const CpuSet& online,
                      std::vector<std::string>& errors);
  void return_pinned(std::vector<std::string>& errors);
  std::string origin_of(pid_t tid) const;
  std::uint64_t count_migrations(const std::string& relative, const CpuSet& removed);

  // cpuset_restore.cpp
  Status restore_everything();
  Status load_section(const nlohmann::json& section);

  KernelFs& fs_;
  Journal& journal_;
  CpusetOptions options_;
  std::optional<CpusetTree> tree_;
  std::unique_ptr<ProcTaskProbe> probe_;
  std::map<std::string, Managed> managed_;
  std::map<pid_t, PinnedTask> pinned_;
  std::vector<std::string> created_;
  bool shield_active_ = false;
  std::set<pid_t> unmovable_;  // root tasks that are kernel threads or refused to move
  std::set<std::string> missing_noted_;
  CpuSet last_online_;
  CpuSet last_preferred_;
  std::optional<std::int64_t> discovered_ns_;
  CpusWatch watch_;  // managed cpuset.cpus files written since the last period
  std::unique_ptr<HeldLock> hierarchy_lock_;  // no other prefcpud on this hierarchy
  Counters counters_;
};

}  // namespace prefcpu
