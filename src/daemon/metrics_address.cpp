#include "daemon/metrics_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace prefcpu {

namespace {

constexpr std::string_view kAccepted =
    "expected IPV4:PORT such as 127.0.0.1:9747 (an IPv4 address, not a host name; port "
    "0..65535)";

}  // namespace

Result<MetricsAddress> parse_metrics_address(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return make_error("invalid metrics address \"{}\": no port; {}", text, kAccepted);
  }
  MetricsAddress address;
  address.host = std::string(text.substr(0, colon));
  in_addr ignored{};
  if (::inet_pton(AF_INET, address.host.c_str(), &ignored) != 1) {
    return make_error("invalid metrics address \"{}\": \"{}\" is not an IPv4 address; {}", text,
                      address.host, kAccepted);
  }
  std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value > 65535 ||
      (port.size() > 1 && port.front() == '0')) {
    return make_error("invalid metrics address \"{}\": port \"{}\" is not a number in 0..65535; {}",
                      text, port, kAccepted);
  }
  address.port = static_cast<std::uint16_t>(value);
  return address;
}

}  // namespace prefcpu
