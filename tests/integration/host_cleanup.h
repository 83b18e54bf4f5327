// The async-signal-safe half of the host guards: a fixed registry of what a test created on the
// host, and a cleanup that runs from a signal handler (raw syscalls, no allocation).
#pragma once

#include <sys/types.h>

namespace prefcpu::it {

enum class PidKind { kChild, kDaemon };

void register_pid(PidKind kind, pid_t pid);
void unregister_pid(PidKind kind, pid_t pid);
void register_scratch(const char* dir);
void unregister_scratch(const char* dir);
// The hierarchy root's tasks file, where evacuated tasks go.
void set_root_tasks(const char* path);
// Evacuates dir and its subcgroups into the root cpuset and removes them, children first.
void clean_tree(const char* dir, int depth = 0);
// SIGINT, SIGTERM, SIGHUP and SIGQUIT: SIGTERM to prefcpud (it restores itself), SIGKILL to the
// children, scratch cpusets cleaned, then the signal's default action.
void install_handlers();

}  // namespace prefcpu::it
