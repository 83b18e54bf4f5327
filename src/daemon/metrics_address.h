// The address of prefcpud's metrics listener (docs/metrics.md), checked by the config schema.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace prefcpu {

struct MetricsAddress {
  std::string host;        // an IPv4 literal: civetweb as built by Debian binds no IPv6
  std::uint16_t port = 0;  // 0: a free port the kernel picks (tests)
  std::string text() const { return host + ":" + std::to_string(port); }
};

// "127.0.0.1:9747". Anything else is an error naming the text and what is accepted.
Result<MetricsAddress> parse_metrics_address(std::string_view text);

}  // namespace prefcpu
