// Cache refill by working set (docs/simulator.md, "Cache refill"): each pCPU's private cache holds
// footprints, the bytes of each vCPU's working set still resident there. A dispatched vCPU loads
// what is missing of its working set, and the lines it brings in displace the other vCPUs'
// footprints in proportion to their size (a random-replacement cache: every victim line is as
// likely as any other; Thiebaut & Stone, "Footprints in the Cache", ACM TOCS 5(4), 1987).
#pragma once

#include <cstdint>
#include <vector>

#include "sim/params.h"

namespace prefcpu::sim {

// One vCPU's resident share of a pCPU's cache.
struct Footprint {
  std::uint32_t vcpu = 0;
  std::uint64_t bytes = 0;
};

struct PcpuCache {
  std::vector<Footprint> held;  // at most one entry per vCPU, none empty
  std::uint64_t used = 0;       // the sum of held[].bytes, <= the capacity
};

// A footprint smaller than one cache line is gone.
inline constexpr std::uint64_t kCacheLine = 64;

// Makes `want` bytes (at most `capacity`) of vCPU v's working set resident in `cache` and returns
// how many bytes were missing; the others lose what does not fit, each in proportion to its size.
std::uint64_t cache_load(PcpuCache& cache, std::uint32_t v, std::uint64_t want,
                         std::uint64_t capacity);

// Bytes of v's working set resident in `cache`.
std::uint64_t cache_resident(const PcpuCache& cache, std::uint32_t v);

// A VM's working set per vCPU in bytes: working_set_kib, or the workload kind's default.
std::uint64_t working_set_bytes(const WorkloadParams& workload, std::uint32_t vcpus);

// Guest work lost refilling `bytes` at refill_mb_s (1 MB/s = 1 byte/us).
Ns refill_ns(const HostParams& host, std::uint64_t bytes);

}  // namespace prefcpu::sim
