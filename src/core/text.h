// Text helpers shared by the readers of kernel files.
#pragma once

#include <string_view>

namespace prefcpu {

// A value without the blanks around it and the newline the kernel ends it with.
inline std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace prefcpu
