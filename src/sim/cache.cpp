#include "sim/cache.h"

#include <algorithm>

namespace prefcpu::sim {

namespace {

// x86-64 THREAD_SIZE: PAGE_SIZE << THREAD_SIZE_ORDER (2) = 16 KiB kernel stack per task
// (arch/x86/include/asm/page_64_types.h).
constexpr std::uint64_t kTaskStack = 16ULL * 1024;
// One 4 KiB page per task: the pipe buffer page it copies into or out of (PIPE_DEF_BUFFERS pages,
// sim-parameters §7, S), its task_struct and user stack. Assumption: what else a task touches.
constexpr std::uint64_t kTaskPage = 4ULL * 1024;
// Assumption: OLTP (a JVM heap and a DB buffer pool) touches more than a core's cache; any value
// >= cache_kib refills the same.
constexpr std::uint64_t kLargeWorkingSet = 64ULL * 1024 * 1024;

}  // namespace

std::uint64_t cache_resident(const PcpuCache& cache, std::uint32_t v) {
  for (const Footprint& f : cache.held) {
    if (f.vcpu == v) return f.bytes;
  }
  return 0;
}

std::uint64_t cache_load(PcpuCache& cache, std::uint32_t v, std::uint64_t want,
                         std::uint64_t capacity) {
  want = std::min(want, capacity);
  std::uint64_t have = std::min(cache_resident(cache, v), want);
  std::uint64_t missing = want - have;
  std::uint64_t free = capacity - cache.used;
  std::uint64_t evict = missing > free ? missing - free : 0;
  std::uint64_t others = cache.used - cache_resident(cache, v);
  // Each incoming line evicts a line of the others at random, so each keeps (others - evict) /
  // others of its bytes: the same share for all, whatever the order the lines arrive in.
  std::uint64_t keep = others > evict ? others - evict : 0;
  cache.used = 0;
  std::erase_if(cache.held, [&](Footprint& f) {
    if (f.vcpu == v) return true;
    if (evict > 0) f.bytes = others == 0 ? 0 : f.bytes * keep / others;
    if (f.bytes < kCacheLine) return true;
    cache.used += f.bytes;
    return false;
  });
  if (want >= kCacheLine) {
    cache.held.push_back(Footprint{v, want});
    cache.used += want;
  }
  return missing;
}

std::uint64_t working_set_bytes(const WorkloadParams& workload, std::uint32_t vcpus) {
  if (workload.working_set_kib > 0) return std::uint64_t{workload.working_set_kib} * 1024;
  switch (workload.kind) {
    case WorkloadKind::kHackbench: {
      // The tasks a vCPU runs in one dispatch: its share of the groups' senders and receivers.
      std::uint64_t tasks = 2ULL * workload.fds * workload.groups;
      std::uint64_t per_vcpu = (tasks + vcpus - 1) / std::max<std::uint32_t>(vcpus, 1);
      return per_vcpu * (kTaskStack + kTaskPage);
    }
    case WorkloadKind::kCpuBound:
      // Assumption: spinners touch their own stack and a page, like a hackbench task.
      return std::uint64_t{workload.tasks_per_vcpu} * (kTaskStack + kTaskPage);
    case WorkloadKind::kSpinbench: {
      // Assumption, as for spinners: each thread's stack and a page, the lock's line among them.
      std::uint64_t threads = workload.threads != 0 ? workload.threads : vcpus;
      std::uint64_t per_vcpu = (threads + vcpus - 1) / std::max<std::uint32_t>(vcpus, 1);
      return per_vcpu * (kTaskStack + kTaskPage);
    }
    case WorkloadKind::kOltp:
      return kLargeWorkingSet;
    case WorkloadKind::kIdle:
      return 0;
  }
  return 0;
}

Ns refill_ns(const HostParams& host, std::uint64_t bytes) {
  if (host.refill_mb_s == 0) return 0;
  return static_cast<Ns>(bytes * 1000 / host.refill_mb_s);
}

}  // namespace prefcpu::sim
