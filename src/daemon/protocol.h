// The control socket protocol shared by prefcpud and prefcpuctl (documented in docs/daemon.md):
// one JSON object per line each way; the daemon answers one request and closes.
#pragma once

#include <cstddef>
#include <string_view>

namespace prefcpu::protocol {

inline constexpr std::string_view kSocketName = "control.sock";
inline constexpr std::string_view kStatusName = "status.json";
inline constexpr std::string_view kPreferredName = "preferred";
inline constexpr std::string_view kJournalName = "journal.json";
inline constexpr std::string_view kLockName = "prefcpud.lock";

// Request: {"cmd": "status" | "history" | "set-preferred" | "set", ...}
//   history:        {"count": N}             (optional; 0 or absent: all kept)
//   set-preferred:  {"cpus": "0-3"} or {"auto": true}
//   set:            {"knob": "interval_ms" | "high_threshold" | "low_threshold" | "governor",
//                    "value": "..."}
// Reply: {"ok": true, ...} or {"ok": false, "code": kInvalid | kDenied | kUnavailable,
//                              "error": "..."}
inline constexpr std::string_view kInvalid = "invalid";          // the input was refused
inline constexpr std::string_view kDenied = "denied";            // not root
inline constexpr std::string_view kUnavailable = "unavailable";  // not in this mode

inline constexpr std::size_t kMaxRequestBytes = std::size_t{64} * 1024;

}  // namespace prefcpu::protocol
