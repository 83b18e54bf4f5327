// The reader of one TOML table of a scenario file: typed keys with their ranges, and an error
// that names the file, the table and what is accepted.
#pragma once

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"
#include "sim/event_queue.h"

namespace prefcpu::sim {

// Reads the keys of one TOML table into values, remembering which keys it knows, so that a typo
// is an error that lists what is accepted.
class Fields {
 public:
  Fields(const toml::table* table, std::string where) : table_(table), where_(std::move(where)) {}

  template <typename T>
  void integer(std::string_view key, T& out, std::int64_t min,
               std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    // is_integer first: toml++ converts a float to an integer unchecked (UB past the range).
    if (!node->is_integer()) return fail(key, "is not an integer", range(min, max));
    auto value = node->value<std::int64_t>();
    if (!value) return fail(key, "is not an integer", range(min, max));
    if (*value < min || *value > max) {
      return fail(key, fmt::format("is {}", *value), range(min, max));
    }
    out = static_cast<T>(*value);
  }

  template <typename T>
  void optional_integer(std::string_view key, std::optional<T>& out, std::int64_t min,
                        std::int64_t max) {
    if (find(key) == nullptr) return;
    T value{};
    integer(key, value, min, max);
    out = value;
  }

  // Microseconds in the file, ns in memory.
  void micros(std::string_view key, Ns& out, std::int64_t min, std::int64_t max) {
    if (find(key) == nullptr) return;
    std::int64_t us = 0;
    integer(key, us, min, max);
    out = us * 1000;
  }

  void number(std::string_view key, double& out, double min, double max) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    auto value = node->value<double>();
    if (!value || !(node->is_integer() || node->is_floating_point())) {
      return fail(key, "is not a number", fmt::format("a number in {}..{}", min, max));
    }
    if (*value < min || *value > max) {
      return fail(key, fmt::format("is {}", *value), fmt::format("a number in {}..{}", min, max));
    }
    out = *value;
  }

  void boolean(std::string_view key, bool& out) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    if (!node->is_boolean()) return fail(key, "is not a boolean", "true or false");
    out = *node->value<bool>();
  }

  void string(std::string_view key, std::string& out) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    if (!node->is_string()) return fail(key, "is not a string", "a quoted string");
    out = *node->value<std::string>();
  }

  template <typename E>
  void choice(std::string_view key, E& out,
              std::initializer_list<std::pair<std::string_view, E>> options) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    std::string names;
    for (const auto& [name, value] : options)
      names += (names.empty() ? "" : ", ") + std::string(name);
    auto text = node->value<std::string>();
    if (!node->is_string() || !text) return fail(key, "is not a string", "one of " + names);
    for (const auto& [name, value] : options) {
      if (*text == name) {
        out = value;
        return;
      }
    }
    fail(key, fmt::format("is \"{}\"", *text), "one of " + names);
  }

  void known(std::string_view key) { known_.insert(std::string(key)); }

  Status finish() {
    if (!error_.empty()) return make_error("{}", error_);
    if (table_ == nullptr) return {};
    for (auto&& [key, node] : *table_) {
      if (known_.count(std::string(key.str())) != 0) continue;
      std::string names;
      for (const auto& name : known_) names += (names.empty() ? "" : ", ") + name;
      return make_error("{}: unknown key \"{}\": expected one of {}", where_, key.str(), names);
    }
    return {};
  }

 private:
  const toml::node* find(std::string_view key) {
    known_.insert(std::string(key));
    if (table_ == nullptr || !error_.empty()) return nullptr;
    return table_->get(key);
  }
  static std::string range(std::int64_t min, std::int64_t max) {
    if (max == std::numeric_limits<std::int64_t>::max())
      return fmt::format("an integer >= {}", min);
    return fmt::format("an integer in {}..{}", min, max);
  }
  void fail(std::string_view key, const std::string& what, const std::string& expected) {
    if (error_.empty()) error_ = fmt::format("{}: {} {}: expected {}", where_, key, what, expected);
  }

  const toml::table* table_;
  std::string where_;
  std::set<std::string> known_;
  std::string error_;
};

}  // namespace prefcpu::sim
