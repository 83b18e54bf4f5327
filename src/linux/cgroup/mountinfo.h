// Where the cpuset controller lives: a v1 "cpuset" hierarchy or the v2 unified hierarchy, found
// from /proc/self/mountinfo (proc(5)), with the root overridable for tests and containers.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

struct MountEntry {
  std::string root;                   // the mount's root inside its filesystem
  std::filesystem::path mount_point;  // octal escapes (\040 ...) decoded
  std::string fstype;
  std::string source;
  std::string super_options;  // e.g. "rw,cpuset" for a v1 cpuset hierarchy
};

// Parses every line of /proc/PID/mountinfo. A malformed line is an error naming its number.
Result<std::vector<MountEntry>> parse_mountinfo(std::string_view text);

// True if the comma-separated option list holds exactly `name`.
bool has_mount_option(std::string_view options, std::string_view name);

enum class CgroupVersion { kV1 = 1, kV2 = 2 };

struct CpusetHierarchy {
  CgroupVersion version = CgroupVersion::kV1;
  std::filesystem::path root;
};

// A v1 mount with the cpuset option wins (then the controller is not on v2); otherwise a cgroup2
// mount whose cgroup.controllers lists cpuset. None is an error saying what was looked for.
Result<CpusetHierarchy> find_cpuset_hierarchy(const KernelFs& fs,
                                              const std::vector<MountEntry>& mounts);

// An explicit root (--cgroup-root): the version of the cgroup mount that holds it; a root on no
// cgroup mount (a fixture tree) is v2 if it has cgroup.controllers, v1 if it has tasks.
Result<CpusetHierarchy> resolve_cpuset_root(const KernelFs& fs,
                                            const std::vector<MountEntry>& mounts,
                                            const std::filesystem::path& root);

}  // namespace prefcpu
