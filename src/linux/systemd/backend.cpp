#include "linux/systemd/backend.h"

#include "core/text.h"

namespace prefcpu {

Result<Backend> parse_backend(std::string_view text) {
  if (text == "auto") return Backend::kAuto;
  if (text == "systemd") return Backend::kSystemd;
  if (text == "cgroupfs") return Backend::kCgroupfs;
  return make_error("backend \"{}\" is unknown: expected auto, systemd or cgroupfs", text);
}

std::string_view backend_name(Backend backend) {
  switch (backend) {
    case Backend::kAuto:
      return "auto";
    case Backend::kSystemd:
      return "systemd";
    case Backend::kCgroupfs:
      return "cgroupfs";
  }
  return "auto";
}

Result<BackendChoice> choose_backend(Backend wanted, const KernelFs& fs,
                                     const std::filesystem::path& proc_root,
                                     const Result<CpusetHierarchy>& hierarchy) {
  if (wanted == Backend::kCgroupfs) {
    return BackendChoice{Backend::kCgroupfs, "backend = cgroupfs: writing cpuset.cpus directly"};
  }
  auto comm = fs.read(proc_root / "1/comm");
  std::string pid1 = comm ? std::string(trim(*comm)) : std::string();
  std::string why_not;
  if (pid1 != "systemd") {
    why_not = comm ? fmt::format("PID 1 is {}, not systemd", pid1.empty() ? "unnamed" : pid1)
                   : fmt::format("cannot tell PID 1: {}", comm.error().message);
  } else if (!hierarchy) {
    why_not = "PID 1 is systemd but " + hierarchy.error().message;
  } else if (hierarchy->version != CgroupVersion::kV2) {
    why_not = fmt::format(
        "PID 1 is systemd but the cpuset controller is on a v1 hierarchy ({}); AllowedCPUs= "
        "needs the unified hierarchy",
        hierarchy->root.string());
  }
  if (why_not.empty()) {
    return BackendChoice{
        Backend::kSystemd,
        fmt::format("backend = {}: PID 1 is systemd and the cpuset controller is available on "
                    "cgroup v2 ({}): setting AllowedCPUs= through systemd",
                    backend_name(wanted), hierarchy->root.string())};
  }
  if (wanted == Backend::kSystemd) {
    return make_error("backend = systemd cannot work here: {}; use backend = cgroupfs", why_not);
  }
  return BackendChoice{Backend::kCgroupfs,
                       fmt::format("backend = auto: {}: writing cpuset.cpus directly", why_not)};
}

}  // namespace prefcpu
