// A control socket request line: decoded to a typed request or a typed error, never a crash; a
// request that decodes encodes to a line that decodes to the same request.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.h"
#include "protocol/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace protocol = prefcpu::protocol;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto decoded = protocol::decode_request_line(line);
  if (const auto* request = std::get_if<protocol::Request>(&decoded)) {
    auto encoded = protocol::encode_request(*request);
    if (const auto* text = std::get_if<std::string>(&encoded)) {
      auto again =
          protocol::decode_request_line(std::string_view(*text).substr(0, text->size() - 1));
      FUZZ_CHECK(std::holds_alternative<protocol::Request>(again) &&
                 std::get<protocol::Request>(again) == *request);
    }
  } else {
    FUZZ_CHECK(!std::get<protocol::ProtocolError>(decoded).message.empty());
  }
  // The client's side: any reply is a body or a typed error.
  auto reply = protocol::decode_reply(line);
  if (const auto* body = std::get_if<nlohmann::json>(&reply)) {
    (void)protocol::decode_set_preferred_reply(*body);
    (void)protocol::decode_set_knob_reply(*body);
  }
  return 0;
}
