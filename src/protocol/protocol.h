// The control socket protocol of prefcpud and prefcpuctl (docs/daemon.md, "Control socket"): one
// JSON object per line each way; the daemon answers one request and closes. Both sides use these
// types, so a key or an error kind is spelled once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/knobs.h"

namespace prefcpu::protocol {

// The files of the state directory.
inline constexpr std::string_view kSocketName = "control.sock";
inline constexpr std::string_view kStatusName = "status.json";
inline constexpr std::string_view kPreferredName = "preferred";
inline constexpr std::string_view kJournalName = "journal.json";
inline constexpr std::string_view kLockName = "prefcpud.lock";

inline constexpr std::size_t kMaxRequestBytes = std::size_t{64} * 1024;

// JSON keys of requests and replies.
namespace key {
inline constexpr const char* kCmd = "cmd";
inline constexpr const char* kCount = "count";
inline constexpr const char* kCpus = "cpus";
inline constexpr const char* kAuto = "auto";
inline constexpr const char* kKnob = "knob";
inline constexpr const char* kValue = "value";
inline constexpr const char* kOk = "ok";
inline constexpr const char* kCode = "code";
inline constexpr const char* kKind = "kind";
inline constexpr const char* kError = "error";
inline constexpr const char* kStatus = "status";
inline constexpr const char* kHistory = "history";
inline constexpr const char* kMonotonicNs = "monotonic_ns";
inline constexpr const char* kCapacity = "capacity";
inline constexpr const char* kPreferred = "preferred";
inline constexpr const char* kAutomatic = "automatic";
inline constexpr const char* kGovernor = "governor";
inline constexpr const char* kKnobs = "knobs";
}  // namespace key

// The knob `set` takes besides those of Knobs.
inline constexpr std::string_view kGovernorKnob = "governor";

enum class ErrorKind {
  kBadRequest,      // not a JSON object, or a field missing or of the wrong type
  kTooLong,         // longer than kMaxRequestBytes
  kUnknownCommand,  // "cmd" names no command
  kUnknownKnob,     // `set` names no knob
  kInvalidValue,    // a cpulist, number or governor name was refused
  kDenied,          // a change from someone other than root
  kUnavailable,     // not in this mode
};

// The "kind" on the wire: "bad-request", "too-long", ...
std::string_view error_kind_name(ErrorKind kind);
std::optional<ErrorKind> parse_error_kind(std::string_view name);
// The "code" on the wire, one of three classes: "invalid" (the input; prefcpuctl exits 2),
// "denied" or "unavailable".
std::string_view error_code(ErrorKind kind);
bool is_bad_input(ErrorKind kind);

struct ProtocolError {
  ErrorKind kind = ErrorKind::kBadRequest;
  std::string message;
  friend bool operator==(const ProtocolError&, const ProtocolError&) = default;
};

// A value or the reason there is none.
template <typename T>
using Outcome = std::variant<T, ProtocolError>;

struct StatusRequest {
  friend bool operator==(const StatusRequest&, const StatusRequest&) = default;
};
struct HistoryRequest {
  std::size_t count = 0;  // 0: every kept entry
  friend bool operator==(const HistoryRequest&, const HistoryRequest&) = default;
};
struct SetPreferredRequest {
  std::optional<std::string> cpus;  // empty: back to the automatic monitor
  friend bool operator==(const SetPreferredRequest&, const SetPreferredRequest&) = default;
};
struct SetKnobRequest {
  std::string knob;  // a Knobs name or "governor"
  std::string value;
  friend bool operator==(const SetKnobRequest&, const SetKnobRequest&) = default;
};
using Request = std::variant<StatusRequest, HistoryRequest, SetPreferredRequest, SetKnobRequest>;

// Only set-preferred and set change anything, and only root may send them.
bool changes_state(const Request& request);

nlohmann::json request_json(const Request& request);
// The request as the client sends it: one line, or kTooLong.
Outcome<std::string> encode_request(const Request& request);
Outcome<Request> decode_request(const nlohmann::json& request);
// One line as received (without its newline), size limit included.
Outcome<Request> decode_request_line(std::string_view line);

struct SetPreferredReply {
  std::string preferred;
  bool automatic = true;
};
struct SetKnobReply {
  std::string governor;
  Knobs knobs;
};

nlohmann::json knobs_json(const Knobs& knobs);
nlohmann::json ok_reply(nlohmann::json body = nlohmann::json::object());
nlohmann::json error_reply(const ProtocolError& error);
nlohmann::json reply_json(const SetPreferredReply& reply);
nlohmann::json reply_json(const SetKnobReply& reply);
// A reply as sent: one line.
std::string reply_line(const nlohmann::json& reply);

// The client's side: the reply's body when "ok" is true, else the daemon's error.
Outcome<nlohmann::json> decode_reply(std::string_view text);
Outcome<SetPreferredReply> decode_set_preferred_reply(const nlohmann::json& body);
Outcome<SetKnobReply> decode_set_knob_reply(const nlohmann::json& body);

}  // namespace prefcpu::protocol
