// The one check of a cgroup name a user gives (--cgroup, cgroups = [...]), shared by the config
// and the cpuset actuator, and the checks of names prefcpud finds on disk.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace prefcpu {

// The top-level cpuset prefcpud creates for tasks pinned to CPUs that leave preferred.
inline constexpr std::string_view kPinnedCgroup = "prefcpu-pinned";

// A path relative to the cpuset root that stays strictly below it: not empty, not absolute, no
// empty, "." or ".." component, no trailing '/', no NUL, valid UTF-8 (the journal is JSON), and
// not under the reserved prefcpu-pinned.
Status check_cgroup_name(std::string_view name);

// Whether text is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_utf8(std::string_view text);

// The name for a message: bytes that are not printable ASCII as \xNN.
std::string printable_name(std::string_view name);

}  // namespace prefcpu
