// irqbalance's control-socket protocol (irqbalance.c sock_handle, 1.9.x), as pure functions.
// One command per connection, sent with SCM_CREDENTIALS (root only):
//   "setup"                -> "SLEEP <s> [IRQ <n> LOAD <l> DIFF <d> CLASS <c> ]... BANNED
//   <hexmask>" "settings cpus <list>" -> no reply; replaces the banned CPUs at irqbalance's next
//   scan. "settings cpus NULL"   -> no reply; drops that ban, back to irqbalance's own (env,
//   isolcpus).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/cpu_set.h"
#include "core/result.h"

namespace prefcpu {

struct IrqbalanceSetup {
  unsigned sleep_s = 0;
  std::vector<unsigned> banned_irqs;
  CpuSet banned;  // the banned CPUs in force since irqbalance's last scan
};

// Parses the reply to "setup". An empty reply is what a non-root client gets.
Result<IrqbalanceSetup> parse_irqbalance_setup(std::string_view reply);

// The command that makes `banned` irqbalance's banned CPUs. The empty set is "NULL": an empty
// list would make irqbalance 1.9 dereference a null token.
std::string irqbalance_cpus_command(const CpuSet& banned);

// What prefcpu asks irqbalance to ban: the user's own banned CPUs plus the non-preferred ones.
// If that would ban every online CPU the user's set is kept as it is: irqbalance needs a CPU,
// and the user's ban is the user's choice.
CpuSet irqbalance_banned_for(const CpuSet& user_banned, const CpuSet& preferred,
                             const CpuSet& online);

}  // namespace prefcpu
