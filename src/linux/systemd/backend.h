// Which mechanism confines the workload: systemd's AllowedCPUs= on units (the systemd backend)
// or cpuset.cpus written directly (the cgroupfs backend), and how `auto` picks one.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.h"
#include "linux/cgroup/mountinfo.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

enum class Backend { kAuto, kSystemd, kCgroupfs };

Result<Backend> parse_backend(std::string_view text);
std::string_view backend_name(Backend backend);

struct BackendChoice {
  Backend backend = Backend::kCgroupfs;
  std::string reason;  // for the first log line: why this one
};

// `auto`: systemd when PID 1 is systemd (/proc/1/comm) and the cpuset controller is on the
// unified (v2) hierarchy, which systemd then enables for the units it confines; else cgroupfs.
// `systemd` asked for where it cannot work is an error saying why.
Result<BackendChoice> choose_backend(Backend wanted, const KernelFs& fs,
                                     const std::filesystem::path& proc_root,
                                     const Result<CpusetHierarchy>& hierarchy);

}  // namespace prefcpu
