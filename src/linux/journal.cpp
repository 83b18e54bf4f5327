#include "linux/journal.h"

#include <cerrno>

#include "protocol/json_text.h"

namespace prefcpu {

namespace {

bool nothing_to_restore(const nlohmann::json& value) {
  return value.is_null() || (value.is_object() && value.empty());
}

}  // namespace

Status Journal::record(std::string_view section, nlohmann::json value) {
  std::string key(section);
  bool present = content_.contains(key);
  if (nothing_to_restore(value) ? !present : (present && content_[key] == value)) return {};
  nlohmann::json next = content_;
  if (nothing_to_restore(value)) {
    next.erase(key);
  } else {
    next[key] = std::move(value);
  }
  next["version"] = kVersion;
  if (auto status = fs_.replace_file(path_, json_text(next, 2) + "\n", /*durable=*/true); !status) {
    return status;
  }
  content_ = std::move(next);
  return {};
}

nlohmann::json Journal::section(std::string_view section) const {
  auto it = content_.find(std::string(section));
  return it == content_.end() ? nlohmann::json() : *it;
}

Status Journal::remove() {
  if (auto status = fs_.remove_file(path_); !status) {
    return make_errno_error(status.error().errno_value, "removing journal: {}",
                            status.error().message);
  }
  content_ = nlohmann::json::object();
  return {};
}

Result<std::optional<nlohmann::json>> Journal::load(const KernelFs& fs,
                                                    const std::filesystem::path& path) {
  auto text = fs.read(path);
  if (!text) {
    if (text.error().errno_value == ENOENT) return std::optional<nlohmann::json>{};
    return make_errno_error(text.error().errno_value, "opening journal: {}", text.error().message);
  }
  auto refuse = [&](const std::string& fault) -> Error {
    return make_error("journal {} {}; restore by hand what it lists, then delete it", path.string(),
                      fault);
  };
  auto parsed = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return refuse(text->empty() ? "is empty (truncated?)"
                                : "is not a JSON object (truncated or corrupt?)");
  }
  auto version = parsed.find("version");
  if (version == parsed.end() || !version->is_number_integer() ||
      version->get<std::int64_t>() != kVersion) {
    return refuse(fmt::format("has version {}, expected {}",
                              version == parsed.end() ? std::string("(none)") : json_text(*version),
                              kVersion));
  }
  for (const auto& [name, section] : parsed.items()) {
    if (name == "version") continue;
    if (!section.is_object() || section.empty()) {
      return refuse(fmt::format("has section \"{}\" = {}, expected an object of originals", name,
                                json_text(section)));
    }
  }
  return std::optional<nlohmann::json>(std::move(parsed));
}

}  // namespace prefcpu
