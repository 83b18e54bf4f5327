// Subcommands of prefcpuctl. Each adder registers its subcommands and their callbacks on app;
// a callback stores its exit status in *exit_code.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"
#include "protocol/protocol.h"

namespace prefcpu {

// Exit statuses: 0 success, 1 failure at run time, 2 bad input or usage (trace, list, knob).
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

void add_offline_commands(CLI::App& app, int* exit_code);  // replay, record, governors
// The commands that talk to prefcpud share main's *state_dir, so --state-dir may come before
// or after the subcommand.
void add_daemon_commands(CLI::App& app, std::string* state_dir,
                         int* exit_code);  // status, set-preferred, set, history
void add_top_command(CLI::App& app, std::string* state_dir, int* exit_code);  // top

// One request to prefcpud's control socket in state_dir: the reply's body, or why none came
// (the daemon's own error included).
Result<nlohmann::json> ask_daemon(const std::string& state_dir, const protocol::Request& request);

}  // namespace prefcpu
