// The journal of originals: what prefcpud found before it changed anything. Each actuator owns
// one section. A section is flushed to disk before the change it protects, so a crash (SIGKILL,
// power loss) can be undone by the next start.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace prefcpu {

class Journal {
 public:
  explicit Journal(std::filesystem::path path) : path_(std::move(path)) {}

  // Replaces one section and writes the whole journal atomically, fsync'd, before returning.
  // Skips the write when the section is unchanged.
  Status record(std::string_view section, nlohmann::json value);
  // The section's content, or null if there is none.
  nlohmann::json section(std::string_view section) const;
  // Deletes the journal file after a clean restore; a missing file is not an error.
  Status remove();
  const std::filesystem::path& path() const { return path_; }

  // The journal left by a previous instance, if any. A journal that is not valid JSON is an
  // error naming the file, so the caller refuses to start rather than guess.
  static Result<std::optional<nlohmann::json>> load(const std::filesystem::path& path);

 private:
  std::filesystem::path path_;
  nlohmann::json content_ = nlohmann::json::object();
};

}  // namespace prefcpu
