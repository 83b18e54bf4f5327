// sd_notify(3) for Type=notify: READY, RELOADING, STOPPING, STATUS and the watchdog. Every call is
// a no-op when systemd did not start us (no NOTIFY_SOCKET).
#pragma once

#include <cstdint>
#include <string_view>

namespace prefcpu {

class Notifier {
 public:
  Notifier();

  bool under_systemd() const { return enabled_; }
  void ready(std::string_view status);
  void reloading();
  void stopping();
  void status(std::string_view status);
  // WATCHDOG=1 if WatchdogSec= is set and half of it has passed since the last ping.
  void watchdog(std::int64_t now_ns);
  // When the next ping is due, or INT64_MAX without a watchdog.
  std::int64_t next_watchdog_ns() const;

 private:
  bool enabled_ = false;
  std::int64_t watchdog_interval_ns_ = 0;  // half of WatchdogSec
  std::int64_t last_ping_ns_ = 0;
};

}  // namespace prefcpu
