#include "protocol/protocol.h"

#include <array>
#include <utility>

#include "protocol/json_text.h"

namespace prefcpu::protocol {

namespace {

constexpr std::array<std::pair<ErrorKind, std::string_view>, 7> kKindNames = {{
    {ErrorKind::kBadRequest, "bad-request"},
    {ErrorKind::kTooLong, "too-long"},
    {ErrorKind::kUnknownCommand, "unknown-command"},
    {ErrorKind::kUnknownKnob, "unknown-knob"},
    {ErrorKind::kInvalidValue, "invalid-value"},
    {ErrorKind::kDenied, "denied"},
    {ErrorKind::kUnavailable, "unavailable"},
}};

constexpr std::string_view kStatusCmd = "status";
constexpr std::string_view kHistoryCmd = "history";
constexpr std::string_view kSetPreferredCmd = "set-preferred";
constexpr std::string_view kSetCmd = "set";

ProtocolError bad(std::string message) {
  return {ErrorKind::kBadRequest, std::move(message)};
}

// A text field; an integer is taken as its decimal text ({"value": 100}).
std::optional<std::string> text_field(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return json_text(*it);
  return std::nullopt;
}

}  // namespace

std::string_view error_kind_name(ErrorKind kind) {
  for (const auto& [value, name] : kKindNames) {
    if (value == kind) return name;
  }
  return "bad-request";
}

std::optional<ErrorKind> parse_error_kind(std::string_view name) {
  for (const auto& [value, text] : kKindNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

std::string_view error_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kDenied:
      return "denied";
    case ErrorKind::kUnavailable:
      return "unavailable";
    default:
      return "invalid";
  }
}

bool is_bad_input(ErrorKind kind) {
  return error_code(kind) == "invalid";
}

bool changes_state(const Request& request) {
  return std::holds_alternative<SetPreferredRequest>(request) ||
         std::holds_alternative<SetKnobRequest>(request);
}

nlohmann::json request_json(const Request& request) {
  nlohmann::json json = nlohmann::json::object();
  if (std::holds_alternative<StatusRequest>(request)) {
    json[key::kCmd] = kStatusCmd;
  } else if (const auto* history = std::get_if<HistoryRequest>(&request)) {
    json[key::kCmd] = kHistoryCmd;
    json[key::kCount] = history->count;
  } else if (const auto* preferred = std::get_if<SetPreferredRequest>(&request)) {
    json[key::kCmd] = kSetPreferredCmd;
    if (preferred->cpus) {
      json[key::kCpus] = *preferred->cpus;
    } else {
      json[key::kAuto] = true;
    }
  } else if (const auto* set = std::get_if<SetKnobRequest>(&request)) {
    json[key::kCmd] = kSetCmd;
    json[key::kKnob] = set->knob;
    json[key::kValue] = set->value;
  }
  return json;
}

Outcome<std::string> encode_request(const Request& request) {
  std::string line = json_text(request_json(request)) + "\n";
  if (line.size() > kMaxRequestBytes) {
    return ProtocolError{ErrorKind::kTooLong,
                         fmt::format("the request is {} bytes: prefcpud takes at most {} bytes "
                                     "(64 KiB) per request",
                                     line.size(), kMaxRequestBytes)};
  }
  return line;
}

Outcome<Request> decode_request(const nlohmann::json& request) {
  if (!request.is_object()) {
    return bad("request is not a JSON object: expected {\"cmd\": \"status\"} and a newline");
  }
  auto it = request.find(key::kCmd);
  if (it == request.end() || !it->is_string()) {
    return bad("request has no \"cmd\": expected status, history, set-preferred or set");
  }
  const auto& command = it->get_ref<const std::string&>();
  if (command == kStatusCmd) return StatusRequest{};
  if (command == kHistoryCmd) {
    HistoryRequest history;
    if (auto count = request.find(key::kCount); count != request.end()) {
      if (!count->is_number_integer() || count->get<std::int64_t>() < 0) {
        return bad("history \"count\" must be a non-negative integer");
      }
      history.count = count->get<std::size_t>();
    }
    return history;
  }
  if (command == kSetPreferredCmd) {
    auto automatic = request.find(key::kAuto);
    if (automatic != request.end() && automatic->is_boolean() && automatic->get<bool>()) {
      return SetPreferredRequest{};
    }
    auto cpus = text_field(request, key::kCpus);
    if (!cpus) {
      return bad("set-preferred needs \"cpus\": a cpulist such as \"0-3\", or \"auto\": true");
    }
    return SetPreferredRequest{std::move(cpus)};
  }
  if (command == kSetCmd) {
    auto knob = text_field(request, key::kKnob);
    auto value = text_field(request, key::kValue);
    if (!knob || !value) return bad("set needs \"knob\" and \"value\", both strings");
    return SetKnobRequest{std::move(*knob), std::move(*value)};
  }
  return ProtocolError{ErrorKind::kUnknownCommand,
                       fmt::format("unknown command \"{}\": expected status, history, "
                                   "set-preferred or set",
                                   command)};
}

Outcome<Request> decode_request_line(std::string_view line) {
  if (line.size() > kMaxRequestBytes) {
    return ProtocolError{ErrorKind::kTooLong,
                         fmt::format("request is longer than {} bytes (64 KiB)", kMaxRequestBytes)};
  }
  auto json = nlohmann::json::parse(line, nullptr, false);
  if (json.is_discarded()) {
    return bad("request is not a JSON object: expected {\"cmd\": \"status\"} and a newline");
  }
  return decode_request(json);
}

nlohmann::json knobs_json(const Knobs& knobs) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& knob : kKnobTable) json[std::string(knob.name)] = knobs.*(knob.field);
  json[std::string(kNumaKnob)] = numa_mode_name(knobs.numa);
  return json;
}

nlohmann::json ok_reply(nlohmann::json body) {
  body[key::kOk] = true;
  return body;
}

nlohmann::json error_reply(const ProtocolError& error) {
  return {{key::kOk, false},
          {key::kCode, error_code(error.kind)},
          {key::kKind, error_kind_name(error.kind)},
          {key::kError, error.message}};
}

nlohmann::json reply_json(const SetPreferredReply& reply) {
  return ok_reply({{key::kPreferred, reply.preferred}, {key::kAutomatic, reply.automatic}});
}

nlohmann::json reply_json(const SetKnobReply& reply) {
  return ok_reply({{key::kGovernor, reply.governor}, {key::kKnobs, knobs_json(reply.knobs)}});
}

std::string reply_line(const nlohmann::json& reply) {
  return json_text(reply) + "\n";
}

Outcome<nlohmann::json> decode_reply(std::string_view text) {
  auto reply = nlohmann::json::parse(text, nullptr, false);
  if (reply.is_discarded() || !reply.is_object()) {
    std::string shown(text.substr(0, 200));
    return bad(fmt::format("prefcpud sent a reply that is not JSON: \"{}\"", shown));
  }
  auto ok = reply.find(key::kOk);
  if (ok != reply.end() && ok->is_boolean() && ok->get<bool>()) return reply;
  ProtocolError error{ErrorKind::kBadRequest, "request failed"};
  if (auto message = reply.find(key::kError); message != reply.end() && message->is_string()) {
    error.message = message->get<std::string>();
  }
  auto kind = reply.find(key::kKind);
  auto code = reply.find(key::kCode);
  if (kind != reply.end() && kind->is_string()) {
    error.kind = parse_error_kind(kind->get<std::string>()).value_or(ErrorKind::kBadRequest);
  } else if (code != reply.end() && code->is_string()) {
    // An older prefcpud sends only the class.
    error.kind = parse_error_kind(code->get<std::string>()).value_or(ErrorKind::kInvalidValue);
  }
  return error;
}

Outcome<SetPreferredReply> decode_set_preferred_reply(const nlohmann::json& body) {
  auto preferred = body.find(key::kPreferred);
  auto automatic = body.find(key::kAutomatic);
  if (preferred == body.end() || !preferred->is_string() || automatic == body.end() ||
      !automatic->is_boolean()) {
    return bad("prefcpud's set-preferred reply lacks \"preferred\" or \"automatic\"");
  }
  return SetPreferredReply{preferred->get<std::string>(), automatic->get<bool>()};
}

Outcome<SetKnobReply> decode_set_knob_reply(const nlohmann::json& body) {
  auto governor = body.find(key::kGovernor);
  auto knobs = body.find(key::kKnobs);
  if (governor == body.end() || !governor->is_string() || knobs == body.end() ||
      !knobs->is_object()) {
    return bad("prefcpud's set reply lacks \"governor\" or \"knobs\"");
  }
  SetKnobReply reply{governor->get<std::string>(), Knobs{}};
  for (const auto& knob : kKnobTable) {
    auto it = knobs->find(std::string(knob.name));
    if (it == knobs->end() || !it->is_number_unsigned() || *it > UINT32_MAX) {
      return bad(fmt::format("prefcpud's set reply lacks knob \"{}\"", knob.name));
    }
    reply.knobs.*(knob.field) = it->get<std::uint32_t>();
  }
  // A prefcpud from before NUMA splicing sends no numa: it ran the kernel's rule.
  if (auto it = knobs->find(std::string(kNumaKnob)); it != knobs->end()) {
    auto mode = it->is_string() ? parse_numa_mode(it->get<std::string>())
                                : Result<NumaMode>(make_error("numa is not a string"));
    if (!mode) return bad(fmt::format("prefcpud's set reply: {}", mode.error().message));
    reply.knobs.numa = *mode;
  }
  return reply;
}

}  // namespace prefcpu::protocol
