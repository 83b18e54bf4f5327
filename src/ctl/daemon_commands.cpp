// prefcpuctl status | set-preferred | set | history: talk to a running prefcpud.
// Placeholder until the daemon issue lands.
#include "ctl/commands.h"

namespace prefcpu {

void add_daemon_commands(CLI::App& /*app*/, int* /*exit_code*/) {}

}  // namespace prefcpu
