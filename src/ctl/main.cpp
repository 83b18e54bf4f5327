#include <CLI/CLI.hpp>

#include "ctl/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"prefcpuctl: control prefcpud and replay steal traces offline"};
  app.require_subcommand(1);
  int exit_code = 0;
  std::string state_dir = "/run/prefcpu";
  app.add_option("--state-dir", state_dir,
                 "prefcpud's state directory, for the commands that "
                 "talk to it (also accepted after the subcommand)")
      ->capture_default_str();
  prefcpu::add_offline_commands(app, &exit_code);
  prefcpu::add_daemon_commands(app, &state_dir, &exit_code);
  prefcpu::add_top_command(app, &state_dir, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : prefcpu::kExitBadInput;
  }
  return exit_code;
}
