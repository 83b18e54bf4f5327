#include "linux/journal.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "linux/kernel_fs.h"
#include "protocol/json_text.h"

namespace prefcpu {

Status Journal::record(std::string_view section, nlohmann::json value) {
  std::string key(section);
  if (content_.contains(key) && content_[key] == value) return {};
  nlohmann::json next = content_;
  next[key] = std::move(value);
  next["version"] = 1;
  if (auto status = write_file_atomically(path_, json_text(next, 2) + "\n"); !status) return status;
  content_ = std::move(next);
  return {};
}

nlohmann::json Journal::section(std::string_view section) const {
  auto it = content_.find(std::string(section));
  return it == content_.end() ? nlohmann::json() : *it;
}

Status Journal::remove() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  if (ec)
    return make_errno_error(ec.value(), "removing journal {}: {}", path_.string(), ec.message());
  content_ = nlohmann::json::object();
  return {};
}

Result<std::optional<nlohmann::json>> Journal::load(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<nlohmann::json>{};
    return make_errno_error(errno, "opening journal {}: {}", path.string(), std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto parsed = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return make_error("journal {} is not a JSON object; restore by hand, then delete it",
                      path.string());
  }
  return std::optional<nlohmann::json>(std::move(parsed));
}

}  // namespace prefcpu
