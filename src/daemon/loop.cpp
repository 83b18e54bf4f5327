#include "daemon/loop.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <limits>
#include <vector>

namespace prefcpu {

EventLoop::~EventLoop() {
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

Status EventLoop::open_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    return make_errno_error(errno, "blocking signals: {}", std::strerror(errno));
  }
  signal_fd_ = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) return make_errno_error(errno, "signalfd: {}", std::strerror(errno));
  return {};
}

void EventLoop::handle_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    if (info.ssi_signo == SIGHUP) {
      notifier_.reloading();
      (void)daemon_.reload();  // logs its own verdict; a refused config changes nothing
      notifier_.ready(daemon_.summary());
    } else {
      stop_requested_ = true;
    }
  }
}

void EventLoop::step(std::int64_t max_wait_ns) {
  std::int64_t now = clock_.monotonic_ns();
  if (now >= daemon_.next_period_ns()) {
    daemon_.run_period();
    std::string summary = daemon_.summary();
    // STATUS= on change only: the status line carries steal_bp, which moves every period.
    std::string key = format_cpulist(daemon_.preferred());
    if (key != last_status_) {
      notifier_.status(summary);
      last_status_ = key;
    }
  }
  notifier_.watchdog(clock_.monotonic_ns());
  if (daemon_.fatal()) return;

  now = clock_.monotonic_ns();
  std::int64_t deadline = std::min(daemon_.next_period_ns(), notifier_.next_watchdog_ns());
  // An idle client is dropped on time even when nothing else happens.
  if (server_ != nullptr)
    deadline = std::min(deadline, server_->next_deadline_ns().value_or(deadline));
  std::int64_t wait_ns = std::clamp<std::int64_t>(deadline - now, 0, max_wait_ns);
  int timeout_ms = static_cast<int>(
      std::min<std::int64_t>((wait_ns + 999'999) / 1'000'000, std::numeric_limits<int>::max()));
  std::vector<pollfd> fds;
  if (signal_fd_ >= 0) fds.push_back({signal_fd_, POLLIN, 0});
  if (server_ != nullptr) server_->add_poll_fds(fds);
  int ready = ::poll(fds.data(), fds.size(), timeout_ms);
  if (ready < 0) return;  // EINTR: the next round re-checks
  if (signal_fd_ >= 0 && (fds[0].revents & POLLIN) != 0) handle_signals();
  if (server_ != nullptr) {
    server_->handle(fds, clock_.monotonic_ns(),
                    [this](const nlohmann::json& request, const Peer& peer) {
                      return daemon_.handle_request(request, peer);
                    });
  }
}

int EventLoop::run() {
  while (!stop_requested_ && !daemon_.fatal()) {
    step(std::numeric_limits<std::int64_t>::max());
  }
  notifier_.stopping();
  auto status = daemon_.stop();
  if (!status) return 1;
  return daemon_.fatal() ? 1 : 0;
}

}  // namespace prefcpu
