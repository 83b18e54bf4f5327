#include "linux/cgroup/mountinfo.h"

#include <optional>

namespace prefcpu {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n';
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && is_space(line[pos])) ++pos;
    if (pos >= line.size()) break;
    std::size_t end = line.find_first_of(" \t\n", pos);
    if (end == std::string_view::npos) end = line.size();
    fields.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  return fields;
}

// The kernel escapes space, tab, newline and backslash as \ooo (seq_path / show_mountinfo).
std::string unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && is_octal(text[i + 1]) && is_octal(text[i + 2]) &&
        is_octal(text[i + 3])) {
      int value = (text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0');
      out.push_back(static_cast<char>(value));
      i += 3;
      continue;
    }
    out.push_back(text[i]);
  }
  return out;
}

bool lists_cpuset(const KernelFs& fs, const std::filesystem::path& root) {
  auto controllers = fs.read(root / "cgroup.controllers");
  if (!controllers) return false;
  // "cpuset cpu io memory pids\n": space-separated, one line.
  for (auto field : split_fields(*controllers)) {
    if (field == "cpuset") return true;
  }
  return false;
}

}  // namespace

Result<std::vector<MountEntry>> parse_mountinfo(std::string_view text) {
  std::vector<MountEntry> mounts;
  unsigned line_number = 0;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (line.empty()) continue;
    auto fields = split_fields(line);
    // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
    std::optional<std::size_t> separator;
    for (std::size_t i = 6; i < fields.size(); ++i) {
      if (fields[i] == "-") {
        separator = i;
        break;
      }
    }
    if (!separator || *separator + 2 >= fields.size()) {
      return make_error(
          "mountinfo line {} \"{}\" is malformed: expected \"ID PARENT MAJ:MIN ROOT "
          "MOUNT_POINT OPTIONS ... - FSTYPE SOURCE SUPER_OPTIONS\"",
          line_number, line);
    }
    MountEntry entry;
    entry.root = unescape(fields[3]);
    entry.mount_point = unescape(fields[4]);
    entry.fstype = std::string(fields[*separator + 1]);
    entry.source = unescape(fields[*separator + 2]);
    if (*separator + 3 < fields.size()) entry.super_options = std::string(fields[*separator + 3]);
    mounts.push_back(std::move(entry));
  }
  return mounts;
}

bool has_mount_option(std::string_view options, std::string_view name) {
  while (!options.empty()) {
    std::size_t end = options.find_first_of(",\n ");
    std::string_view option = options.substr(0, end);
    if (option == name) return true;
    if (end == std::string_view::npos) break;
    options.remove_prefix(end + 1);
  }
  return false;
}

Result<CpusetHierarchy> find_cpuset_hierarchy(const KernelFs& fs,
                                              const std::vector<MountEntry>& mounts) {
  for (const auto& mount : mounts) {
    if (mount.fstype == "cgroup" && has_mount_option(mount.super_options, "cpuset")) {
      return CpusetHierarchy{CgroupVersion::kV1, mount.mount_point};
    }
  }
  for (const auto& mount : mounts) {
    if (mount.fstype == "cgroup2" && lists_cpuset(fs, mount.mount_point)) {
      return CpusetHierarchy{CgroupVersion::kV2, mount.mount_point};
    }
  }
  return make_error(
      "no cpuset controller is mounted: expected a cgroup v1 mount with the "
      "cpuset option or a cgroup2 mount whose cgroup.controllers lists cpuset");
}

Result<CpusetHierarchy> resolve_cpuset_root(const KernelFs& fs,
                                            const std::vector<MountEntry>& mounts,
                                            const std::filesystem::path& root) {
  std::filesystem::path normal = root.lexically_normal();
  const MountEntry* best = nullptr;
  std::size_t best_length = 0;
  for (const auto& mount : mounts) {
    if (mount.fstype != "cgroup" && mount.fstype != "cgroup2") continue;
    auto relative = normal.lexically_relative(mount.mount_point.lexically_normal());
    if (relative.empty() || *relative.begin() == "..") continue;
    std::size_t length = mount.mount_point.string().size();
    if (best == nullptr || length > best_length) {
      best = &mount;
      best_length = length;
    }
  }
  if (best != nullptr) {
    if (best->fstype == "cgroup2") return CpusetHierarchy{CgroupVersion::kV2, root};
    if (has_mount_option(best->super_options, "cpuset")) {
      return CpusetHierarchy{CgroupVersion::kV1, root};
    }
    return make_error(
        "cgroup root {} is on the v1 hierarchy {} ({}), which has no cpuset "
        "controller: expected a directory of the cpuset hierarchy",
        root.string(), best->mount_point.string(), best->super_options);
  }
  if (fs.exists(root / "cgroup.controllers")) return CpusetHierarchy{CgroupVersion::kV2, root};
  if (fs.exists(root / "tasks")) return CpusetHierarchy{CgroupVersion::kV1, root};
  return make_error(
      "cgroup root {} is not a cgroup directory: expected cgroup.controllers (v2) "
      "or tasks (v1) in it",
      root.string());
}

}  // namespace prefcpu
