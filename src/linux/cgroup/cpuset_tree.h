// The cpuset files of one hierarchy, v1 or v2, addressed by paths relative to its root ("" is
// the root itself). Thin: one call, one file; the actuator decides what to write and when.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/cpu_set.h"
#include "core/result.h"
#include "linux/cgroup/mountinfo.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

// A cpuset.cpus value. On v2 an empty file means "use the parent's CPUs", which is not the same
// as an empty set, so it is kept apart.
struct CpusValue {
  bool inherit = false;  // v2 only: the file was empty
  CpuSet cpus;

  // The CPUs this value allows on a machine with `online` CPUs.
  CpuSet effective(const CpuSet& online) const { return inherit ? online : cpus & online; }
  std::string text() const { return inherit ? std::string() : format_cpulist(cpus); }
  friend bool operator==(const CpusValue&, const CpusValue&) = default;
};

// "" is inherit on v2 and the empty set on v1.
Result<CpusValue> parse_cpus_value(std::string_view text, CgroupVersion version);

class CpusetTree {
 public:
  CpusetTree(KernelFs& fs, CpusetHierarchy hierarchy) : fs_(fs), hierarchy_(std::move(hierarchy)) {}

  CgroupVersion version() const { return hierarchy_.version; }
  const std::filesystem::path& root() const { return hierarchy_.root; }
  const CpusetHierarchy& hierarchy() const { return hierarchy_; }
  KernelFs& fs() const { return fs_; }
  std::filesystem::path path_of(std::string_view relative) const;

  bool exists(std::string_view relative) const;
  // Whether the cgroup has a cpuset.cpus file (on v2, cpuset is enabled for it).
  bool has_cpuset(std::string_view relative) const;

  Result<CpusValue> read_cpus(std::string_view relative) const;
  Status write_cpus(std::string_view relative, const CpusValue& value);

  // TIDs: v1 "tasks", v2 "cgroup.threads".
  Result<std::vector<pid_t>> tasks(std::string_view relative) const;
  // v1 only: moves one thread by writing its TID to the cgroup's tasks file.
  Status move_task(std::string_view relative, pid_t tid);

  // Relative paths of the child cgroups, sorted.
  Result<std::vector<std::string>> children(std::string_view relative) const;
  // Relative paths of every cgroup below `relative`, parents before children.
  Result<std::vector<std::string>> descendants(std::string_view relative) const;

  // v1: mkdir, then cpuset.cpus and a copy of the parent's cpuset.mems, without which no task
  // can be attached. v2: mkdir only.
  Status create(std::string_view relative, const CpuSet& cpus);
  Status remove(std::string_view relative);

 private:
  KernelFs& fs_;
  CpusetHierarchy hierarchy_;
};

// Depth of a relative cgroup path: "a" is 1, "a/b" is 2, "" (the root) is 0.
int cgroup_depth(std::string_view relative);
// "a/b" -> "a"; "a" -> "".
std::string cgroup_parent(std::string_view relative);

}  // namespace prefcpu
