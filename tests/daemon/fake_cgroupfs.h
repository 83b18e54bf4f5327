// A KernelFs over a fixture tree that behaves like cgroupfs and procfs for the cpuset actuator:
// v1 keeps children within parents (EINVAL/EBUSY), moving a TID into "tasks" moves the task,
// mkdir makes the control files, rmdir refuses a cgroup with tasks, and every task's
// /proc/TID/{stat,status} shows its allowed CPUs as the kernel computes them (user mask ∩
// cpuset, or the cpuset when that is empty). Every cgroupfs write is logged in order.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/cpu_set.h"
#include "linux/cgroup/mountinfo.h"
#include "linux/kernel_fs.h"
#include "support/fixture_tree.h"

namespace prefcpu::testing {

struct FakeTask {
  std::string cgroup;               // relative to the cgroup root
  std::optional<CpuSet> user_mask;  // sched_setaffinity's request (user_cpus_ptr)
  unsigned processor = 0;
  bool kernel_thread = false;
  bool refuses_move = false;  // per-CPU kthread: EINVAL
  pid_t tgid = 0;
  pid_t ppid = 1;
};

class FakeCgroupFs final : public KernelFs {
 public:
  FakeCgroupFs(const FixtureTree& tree, CgroupVersion version, const std::string& online = "0-3");

  std::filesystem::path cgroup_root() const { return cgroup_root_; }
  std::filesystem::path proc_root() const { return proc_root_; }
  CpusetHierarchy hierarchy() const { return {version_, cgroup_root_}; }

  // Test setup, with the kernel's rules.
  void make_cgroup(const std::string& relative, const std::string& cpus);
  void add_task(pid_t tid, FakeTask task);
  // Another writer (an administrator, systemd), bypassing the log.
  void foreign_write_cpus(const std::string& relative, const std::string& cpus);
  // v1 hotplug: the kernel drops the CPU from every cpuset.
  void offline_cpu_v1(unsigned cpu);
  // v1: a CPU that comes back is given to the root cpuset only.
  void online_cpu_v1(unsigned cpu);

  std::string cpus(const std::string& relative) const;
  std::string cgroup_of(pid_t tid) const { return tasks_.at(tid).cgroup; }
  CpuSet allowed(pid_t tid) const;
  bool cgroup_exists(const std::string& relative) const;

  struct Write {
    std::string path;  // relative to the cgroup root, e.g. "work/cpuset.cpus"
    std::string value;
  };
  const std::vector<Write>& writes() const { return writes_; }
  void clear_writes() { writes_.clear(); }
  // Called before every cgroupfs write is applied, e.g. to check the journal is on disk.
  std::function<void(const Write&)> before_write;

  Result<std::string> read(const std::filesystem::path& path) const override;
  Status write(const std::filesystem::path& path, std::string_view value) override;
  Result<std::vector<std::string>> list(const std::filesystem::path& dir) const override;
  bool exists(const std::filesystem::path& path) const override;
  bool is_directory(const std::filesystem::path& path) const override;
  Status make_directory(const std::filesystem::path& path) override;
  Status remove_directory(const std::filesystem::path& path) override;
  Status replace_file(const std::filesystem::path& path, std::string_view content,
                      bool durable) override {
    return real_.replace_file(path, content, durable);
  }
  Status remove_file(const std::filesystem::path& path) override { return real_.remove_file(path); }

 private:
  std::optional<std::string> relative_to_root(const std::filesystem::path& path) const;
  CpuSet cgroup_cpus(const std::string& relative) const;
  Status write_cpus(const std::string& relative, std::string_view value);
  Status move_task(const std::string& relative, std::string_view value);
  void sync_tasks_files();
  void sync_proc(pid_t tid);

  RealKernelFs real_;
  CgroupVersion version_;
  std::filesystem::path cgroup_root_;
  std::filesystem::path proc_root_;
  CpuSet online_;
  std::map<pid_t, FakeTask> tasks_;
  std::vector<Write> writes_;
};

}  // namespace prefcpu::testing
