// A CpuSet from a cpulist the test itself wrote, and so knows to be valid.
#pragma once

#include <string_view>

#include "core/cpu_set.h"

namespace prefcpu::testing {

inline CpuSet cpus(std::string_view text) {
  return *parse_cpulist(text);
}

}  // namespace prefcpu::testing
