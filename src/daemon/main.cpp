// prefcpud: steal-driven vCPU backoff for a Linux guest (docs/daemon.md).
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <string>

#include "daemon/daemon.h"
#include "daemon/loop.h"
#include "daemon/notify.h"
#include "daemon/options.h"
#include "daemon/protocol.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Without --foreground and outside systemd: fork, and let the parent exit once the child is
// ready (0) or has failed (1, with the child's error on the terminal).
int daemonize(int& ready_fd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid > 0) {
    ::close(fds[1]);
    char verdict = 0;
    ssize_t n = 0;
    do {
      n = ::read(fds[0], &verdict, 1);
    } while (n < 0 && errno == EINTR);
    ::_exit(n == 1 && verdict == 'R' ? 0 : kExitFailure);
  }
  ::close(fds[0]);
  ::setsid();
  ready_fd = fds[1];
  return 0;
}

void report_ready(int& ready_fd, prefcpu::Logger& log) {
  if (ready_fd < 0) return;
  // A failed write reads as "not ready" in the parent, which then exits 1: nothing more to do.
  [[maybe_unused]] ssize_t written = ::write(ready_fd, "R", 1);
  ::close(ready_fd);
  ready_fd = -1;
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    ::close(null);
  }
  log.set_sink(prefcpu::LogSink::kSyslog);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace prefcpu;
  auto parsed = parse_cli(argc, argv);
  if (!parsed.options) return parsed.exit_code;
  const CliOptions cli = *parsed.options;
  Logger log(Logger::detect_sink());
  log.set_verbose(cli.verbose);
  auto config = load_effective_config(cli);
  if (!config) {
    log.error("{}", config.error().message);
    return kExitUsage;
  }
  (void)std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill us
  Notifier notifier;
  int ready_fd = -1;
  bool background =
      !cli.foreground && !notifier.under_systemd() && std::getenv("INVOCATION_ID") == nullptr;
  if (background && daemonize(ready_fd) != 0) {
    log.error("cannot go to the background: {}; try --foreground", std::strerror(errno));
    return kExitFailure;
  }

  RealKernelFs fs;
  MonotonicClock clock;
  DaemonPaths paths{cli.state_dir, cli.proc_stat, cli.sysfs_root, cli.proc_root};
  DaemonDeps deps{fs, clock, log, [cli] { return load_effective_config(cli); }};
  Daemon daemon(std::move(deps), paths, *config);
  EventLoop loop(daemon, clock, notifier, nullptr);
  // Signals first, so a SIGTERM during start-up is not lost but handled once we can restore.
  if (auto status = loop.open_signals(); !status) {
    log.error("{}", status.error().message);
    return kExitFailure;
  }
  try {
    if (auto status = daemon.start(); !status) {
      log.error("{}", status.error().message);
      (void)daemon.stop();
      return kExitFailure;
    }
    auto server = ControlServer::listen(paths.state_dir / protocol::kSocketName);
    if (!server) {
      log.error("{}", server.error().message);
      (void)daemon.stop();
      return kExitFailure;
    }
    loop.set_server(server->get());
    notifier.ready(daemon.summary());
    report_ready(ready_fd, log);
    return loop.run();
  } catch (const std::exception& error) {
    // Nothing should throw; if something does, still put the machine back.
    log.error("fatal: {}; restoring everything", error.what());
    (void)daemon.stop();
    return kExitFailure;
  }
}
