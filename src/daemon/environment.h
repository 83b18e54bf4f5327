// What kind of machine prefcpud runs on: a guest with steal to react to, bare metal or a Xen
// Dom0 (nothing to react to), and whether the kernel has its own preferred mask.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "linux/kernel_fs.h"

namespace prefcpu {

struct Virtualization {
  bool guest = true;
  std::string reason;
};

// Pure: from /proc/cpuinfo text, /proc/xen/capabilities text ("" if absent), and whether
// /sys/hypervisor/type exists.
Virtualization classify_virtualization(std::string_view cpuinfo, std::string_view xen_capabilities,
                                       bool sys_hypervisor);

Virtualization detect_virtualization(const KernelFs& fs, const std::filesystem::path& proc_root,
                                     const std::filesystem::path& sysfs_root);

// The steal source (--proc-stat) must be a readable /proc/stat: a daemon without steal would
// publish nothing sensible, so start refuses it.
Status check_proc_stat(KernelFs& fs, const std::filesystem::path& proc_stat);

// CONFIG_PREFERRED_CPU: the kernel publishes its own mask; prefcpud mirrors it.
std::filesystem::path kernel_preferred_path(const std::filesystem::path& sysfs_root);

}  // namespace prefcpu
