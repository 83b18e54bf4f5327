#include "linux/cgroup/cgroup_name.h"

#include <cstdint>

namespace prefcpu {

bool is_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<std::uint8_t>(text[i]);
    std::size_t length = 0;
    std::uint32_t code = 0;
    std::uint32_t min = 0;
    if (byte < 0x80) {
      ++i;
      continue;
    }
    if ((byte & 0xE0U) == 0xC0U) {
      length = 2;
      code = byte & 0x1FU;
      min = 0x80;
    } else if ((byte & 0xF0U) == 0xE0U) {
      length = 3;
      code = byte & 0x0FU;
      min = 0x800;
    } else if ((byte & 0xF8U) == 0xF0U) {
      length = 4;
      code = byte & 0x07U;
      min = 0x10000;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      auto next = static_cast<std::uint8_t>(text[i + k]);
      if ((next & 0xC0U) != 0x80U) return false;
      code = (code << 6U) | (next & 0x3FU);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

std::string printable_name(std::string_view name) {
  std::string shown;
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F && c != '\\') {
      shown += c;
    } else {
      shown += fmt::format("\\x{:02x}", byte);
    }
  }
  return shown;
}

Status check_cgroup_name(std::string_view name) {
  auto refuse = [&](std::string_view why) -> Status {
    return make_error(
        "cgroup \"{}\" is invalid: {}: expected a path relative to the cpuset root that stays "
        "below it, such as \"system.slice\" or \"work/batch\"",
        printable_name(name), why);
  };
  if (name.empty()) return refuse("it is empty");
  if (name.find('\0') != std::string_view::npos) return refuse("it contains a NUL byte");
  if (!is_utf8(name)) return refuse("it is not valid UTF-8");
  if (name.front() == '/') return refuse("it is absolute");
  std::string_view rest = name;
  bool first = true;
  while (true) {
    std::size_t slash = rest.find('/');
    std::string_view component = rest.substr(0, slash);
    if (component.empty()) return refuse("it has an empty component (\"//\" or a trailing \"/\")");
    if (component == "." || component == "..") {
      return refuse("a \".\" or \"..\" component names the root or leaves it");
    }
    if (first && component == kPinnedCgroup) {
      return refuse("prefcpu-pinned is reserved for tasks pinned to non-preferred CPUs");
    }
    first = false;
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return {};
}

}  // namespace prefcpu
