#include "linux/cgroup/affinity_setter.h"

#include <sched.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace prefcpu {

Status SyscallAffinitySetter::set_affinity(pid_t tid, const CpuSet& cpus) {
  // cpu_set_t is an array of unsigned long: bit N is bit N % W of word N / W. The kernel takes
  // a shorter mask than its own as zero-extended, so the words up to the highest CPU suffice.
  constexpr unsigned kBits = 8 * sizeof(unsigned long);  // NOLINT(google-runtime-int)
  std::vector<unsigned long> words(cpus.last().value_or(0) / kBits + 1,
                                   0);  // NOLINT(google-runtime-int)
  for (unsigned cpu : cpus) words[cpu / kBits] |= 1UL << (cpu % kBits);
  auto* mask = reinterpret_cast<cpu_set_t*>(words.data());  // NOLINT: the libc API
  if (::sched_setaffinity(tid, words.size() * sizeof(words[0]), mask) != 0) {
    int err = errno;
    return make_errno_error(err, "sched_setaffinity({}, {}): {}", tid, format_cpulist(cpus),
                            std::strerror(err));
  }
  return {};
}

}  // namespace prefcpu
