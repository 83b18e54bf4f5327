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
#include "linux/kernel_fs.h"

namespace prefcpu {

class Journal {
 public:
  static constexpr int kVersion = 1;

  Journal(KernelFs& fs, std::filesystem::path path) : fs_(fs), path_(std::move(path)) {}

  // Replaces one section and writes the whole journal through KernelFs::replace_file, durably,
  // before returning. Skips the write when the section is unchanged. A section with nothing to
  // restore (null or {}) is left out of the file: on disk, every section is an object of
  // originals, so an empty one can only be damage.
  Status record(std::string_view section, nlohmann::json value);
  // The section's content, or null if there is none.
  nlohmann::json section(std::string_view section) const;
  // Deletes the journal file after a clean restore; a missing file is not an error.
  Status remove();
  const std::filesystem::path& path() const { return path_; }

  // The journal left by a previous instance, if any. One that is not a JSON object of version
  // kVersion whose sections are non-empty objects is an error naming the file and the fault: the
  // caller refuses to start rather than take shrunk values for originals.
  static Result<std::optional<nlohmann::json>> load(const KernelFs& fs,
                                                    const std::filesystem::path& path);

 private:
  KernelFs& fs_;
  std::filesystem::path path_;
  nlohmann::json content_ = nlohmann::json::object();
};

}  // namespace prefcpu
