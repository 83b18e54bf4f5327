// Both ends of the control protocol: what prefcpuctl encodes, prefcpud decodes to the same typed
// request; errors travel as kinds, not as message prefixes.
#include "protocol/protocol.h"

#include <gtest/gtest.h>

#include "protocol/json_text.h"

namespace prefcpu::protocol {
namespace {

// A copy: the outcome is often a temporary.
template <typename T>
T value_of(const Outcome<T>& outcome) {
  if (const auto* error = std::get_if<ProtocolError>(&outcome)) {
    ADD_FAILURE() << "unexpected error: " << error->message;
  }
  return std::get<T>(outcome);
}

ProtocolError error_of(const Outcome<Request>& outcome) {
  EXPECT_TRUE(std::holds_alternative<ProtocolError>(outcome));
  if (const auto* error = std::get_if<ProtocolError>(&outcome)) return *error;
  return {};
}

TEST(Protocol, EveryRequestRoundTrips) {
  for (const Request& request :
       {Request{StatusRequest{}}, Request{HistoryRequest{7}}, Request{SetPreferredRequest{"0-3"}},
        Request{SetPreferredRequest{}}, Request{SetKnobRequest{"interval_ms", "250"}}}) {
    const auto& line = value_of(encode_request(request));
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(value_of(decode_request_line(line.substr(0, line.size() - 1))), request) << line;
  }
}

TEST(Protocol, BadRequestsAreTypedErrors) {
  EXPECT_EQ(error_of(decode_request_line("hello")).kind, ErrorKind::kBadRequest);
  EXPECT_EQ(error_of(decode_request_line("[1]")).kind, ErrorKind::kBadRequest);
  EXPECT_EQ(error_of(decode_request_line(R"({"cmd": 5})")).kind, ErrorKind::kBadRequest);
  EXPECT_EQ(error_of(decode_request_line(R"({"cmd": "reboot"})")).kind, ErrorKind::kUnknownCommand);
  EXPECT_EQ(error_of(decode_request_line(R"({"cmd": "history", "count": -1})")).kind,
            ErrorKind::kBadRequest);
  EXPECT_EQ(error_of(decode_request_line(R"({"cmd": "history", "count": 1.5})")).kind,
            ErrorKind::kBadRequest);
  // A signed integer, as nlohmann builds from an int, counts too.
  EXPECT_EQ(value_of(decode_request({{"cmd", "history"}, {"count", 1}})),
            Request{HistoryRequest{1}});
  EXPECT_EQ(error_of(decode_request_line(R"({"cmd": "set", "knob": "interval_ms"})")).kind,
            ErrorKind::kBadRequest);
  EXPECT_EQ(error_of(decode_request_line(R"({"cmd": "set-preferred", "auto": false})")).kind,
            ErrorKind::kBadRequest);
  EXPECT_EQ(error_of(decode_request_line(std::string(kMaxRequestBytes + 1, ' '))).kind,
            ErrorKind::kTooLong);
  // A number where text is expected is taken as its decimal text, as before.
  Request expected = SetKnobRequest{"interval_ms", "300"};
  EXPECT_EQ(value_of(decode_request_line(R"({"cmd":"set","knob":"interval_ms","value":300})")),
            expected);
}

TEST(Protocol, ATooLongRequestIsRefusedBeforeItIsSent) {
  auto line = encode_request(SetPreferredRequest{std::string(100'000, '1')});
  ASSERT_TRUE(std::holds_alternative<ProtocolError>(line));
  const auto& error = std::get<ProtocolError>(line);
  EXPECT_EQ(error.kind, ErrorKind::kTooLong);
  EXPECT_TRUE(is_bad_input(error.kind));
  EXPECT_NE(error.message.find("at most 65536 bytes"), std::string::npos) << error.message;
}

TEST(Protocol, ErrorRepliesCarryKindAndClass) {
  auto reply = error_reply({ErrorKind::kUnknownKnob, "unknown knob \"x\""});
  EXPECT_EQ(reply[key::kCode], "invalid");
  EXPECT_EQ(reply[key::kKind], "unknown-knob");
  auto decoded = decode_reply(reply_line(reply));
  ASSERT_TRUE(std::holds_alternative<ProtocolError>(decoded));
  EXPECT_EQ(std::get<ProtocolError>(decoded),
            (ProtocolError{ErrorKind::kUnknownKnob, "unknown knob \"x\""}));
  // An older daemon sends only the class.
  auto old = decode_reply(R"({"ok":false,"code":"denied","error":"no"})");
  EXPECT_EQ(std::get<ProtocolError>(old).kind, ErrorKind::kDenied);
  auto old_invalid = decode_reply(R"({"ok":false,"code":"invalid","error":"no"})");
  EXPECT_TRUE(is_bad_input(std::get<ProtocolError>(old_invalid).kind));
  EXPECT_FALSE(is_bad_input(ErrorKind::kDenied));
  EXPECT_FALSE(is_bad_input(ErrorKind::kUnavailable));
  auto garbage = decode_reply("Connection reset");
  EXPECT_EQ(std::get<ProtocolError>(garbage).kind, ErrorKind::kBadRequest);
  for (auto kind : {ErrorKind::kBadRequest, ErrorKind::kTooLong, ErrorKind::kUnknownCommand,
                    ErrorKind::kUnknownKnob, ErrorKind::kInvalidValue, ErrorKind::kDenied,
                    ErrorKind::kUnavailable}) {
    EXPECT_EQ(parse_error_kind(error_kind_name(kind)), kind);
  }
}

TEST(Protocol, TypedRepliesRoundTrip) {
  auto preferred = decode_reply(reply_line(reply_json(SetPreferredReply{"0-1", false})));
  const auto& set = value_of(decode_set_preferred_reply(std::get<nlohmann::json>(preferred)));
  EXPECT_EQ(set.preferred, "0-1");
  EXPECT_FALSE(set.automatic);
  auto knobs = decode_reply(reply_line(reply_json(SetKnobReply{"ewma", Knobs{250, 800, 100}})));
  const auto& knob = value_of(decode_set_knob_reply(std::get<nlohmann::json>(knobs)));
  EXPECT_EQ(knob.governor, "ewma");
  EXPECT_EQ(knob.knobs, (Knobs{250, 800, 100}));
  EXPECT_TRUE(std::holds_alternative<ProtocolError>(decode_set_knob_reply({{"governor", "x"}})));
  Knobs packed;
  packed.numa = NumaMode::kPack;
  auto numa = decode_reply(reply_line(reply_json(SetKnobReply{"kernel", packed})));
  auto body = std::get<nlohmann::json>(numa);
  EXPECT_EQ(value_of(decode_set_knob_reply(body)).knobs, packed);
  body["knobs"]["numa"] = "sideways";
  EXPECT_TRUE(std::holds_alternative<ProtocolError>(decode_set_knob_reply(body)));
  body["knobs"].erase("numa");  // a prefcpud from before NUMA splicing ran the kernel's rule
  EXPECT_EQ(value_of(decode_set_knob_reply(body)).knobs, Knobs{});
}

TEST(JsonText, InvalidUtf8IsReplacedNotThrown) {
  nlohmann::json value = {{"cgroups", {{"a/\xff\xfe", "0-3"}}}, {"name", "b\xc3"}};
  std::string text;
  ASSERT_NO_THROW(text = json_text(value, 2));
  EXPECT_NE(text.find("a/\xef\xbf\xbd"), std::string::npos) << text;
  EXPECT_FALSE(nlohmann::json::parse(text, nullptr, false).is_discarded());
}

}  // namespace
}  // namespace prefcpu::protocol
