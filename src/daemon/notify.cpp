#include "daemon/notify.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <limits>
#include <string>

namespace prefcpu {

Notifier::Notifier() {
  enabled_ = std::getenv("NOTIFY_SOCKET") != nullptr;
  std::uint64_t usec = 0;
  if (enabled_ && ::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_interval_ns_ = static_cast<std::int64_t>(usec) * 1000 / 2;
  }
}

void Notifier::ready(std::string_view status) {
  if (!enabled_) return;
  std::string message = "READY=1\nSTATUS=" + std::string(status);
  ::sd_notify(0, message.c_str());
}

void Notifier::reloading() {
  if (enabled_) ::sd_notify(0, "RELOADING=1");
}

void Notifier::stopping() {
  if (enabled_) ::sd_notify(0, "STOPPING=1");
}

void Notifier::status(std::string_view status) {
  if (!enabled_) return;
  std::string message = "STATUS=" + std::string(status);
  ::sd_notify(0, message.c_str());
}

void Notifier::watchdog(std::int64_t now_ns) {
  if (!enabled_ || watchdog_interval_ns_ == 0) return;
  if (now_ns - last_ping_ns_ < watchdog_interval_ns_) return;
  ::sd_notify(0, "WATCHDOG=1");
  last_ping_ns_ = now_ns;
}

std::int64_t Notifier::next_watchdog_ns() const {
  if (!enabled_ || watchdog_interval_ns_ == 0) return std::numeric_limits<std::int64_t>::max();
  return last_ping_ns_ + watchdog_interval_ns_;
}

}  // namespace prefcpu
