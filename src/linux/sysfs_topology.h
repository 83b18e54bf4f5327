// Reads the CPU topology under a sysfs root (normally "/sys").
#pragma once

#include <filesystem>

#include "core/result.h"
#include "core/topology.h"
#include "linux/kernel_fs.h"

namespace prefcpu {

// Reads devices/system/cpu/{online,nohz_full,isolated}, cpuN/topology/thread_siblings_list for
// each online CPU, and devices/system/node/nodeN/cpulist. Missing nohz_full, isolated or node
// files mean "none" (kernels without those features); a missing or malformed online file, or a
// malformed list, is an error naming the file.
Result<Topology> read_sysfs_topology(const KernelFs& fs, const std::filesystem::path& sysfs_root);

}  // namespace prefcpu
