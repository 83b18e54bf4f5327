// The thin real loop around Daemon: poll(2) on a signalfd and the control socket, with a timeout
// that ends at the next period (or watchdog ping) read from the injected Clock.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "daemon/control_server.h"
#include "daemon/daemon.h"
#include "daemon/notify.h"
#include "linux/clock.h"

namespace prefcpu {

class EventLoop {
 public:
  EventLoop(Daemon& daemon, Clock& clock, Notifier& notifier, ControlServer* server)
      : daemon_(daemon), clock_(clock), notifier_(notifier), server_(server) {}
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Blocks SIGTERM, SIGINT and SIGHUP for the process and reads them from a signalfd instead.
  Status open_signals();
  void set_server(ControlServer* server) { server_ = server; }
  // One round: run a period if one is due, then wait up to max_wait_ns for a signal or a client.
  void step(std::int64_t max_wait_ns);
  // Until SIGTERM, SIGINT or a fatal error; then restores everything. The exit status.
  int run();
  bool stop_requested() const { return stop_requested_; }
  void request_stop() { stop_requested_ = true; }

 private:
  void handle_signals();

  Daemon& daemon_;
  Clock& clock_;
  Notifier& notifier_;
  ControlServer* server_;
  int signal_fd_ = -1;
  bool stop_requested_ = false;
  std::string last_status_;
};

}  // namespace prefcpu
