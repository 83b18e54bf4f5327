// The one way prefcpu turns JSON into text. Names read from disk (cgroups) need not be UTF-8;
// nlohmann's default dump throws type_error 316 on them, so every dump replaces invalid bytes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace prefcpu {

// Json is nlohmann::json or nlohmann::ordered_json (kept in insertion order).
template <typename Json = nlohmann::json>
std::string json_text(const Json& value, int indent = -1) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace prefcpu
