#include "linux/cgroup/cpuset_tree.h"

#include <algorithm>

#include "core/text.h"
#include "linux/cgroup/task_probe.h"

namespace prefcpu {

Result<CpusValue> parse_cpus_value(std::string_view text, CgroupVersion version) {
  text = trim(text);
  CpusValue value;
  if (text.empty()) {
    value.inherit = version == CgroupVersion::kV2;
    return value;
  }
  auto cpus = parse_cpulist(text);
  if (!cpus) return cpus.error();
  value.cpus = *cpus;
  return value;
}

int cgroup_depth(std::string_view relative) {
  if (relative.empty()) return 0;
  return 1 + static_cast<int>(std::count(relative.begin(), relative.end(), '/'));
}

std::string cgroup_parent(std::string_view relative) {
  std::size_t slash = relative.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(relative.substr(0, slash));
}

std::filesystem::path CpusetTree::path_of(std::string_view relative) const {
  return relative.empty() ? hierarchy_.root : hierarchy_.root / relative;
}

bool CpusetTree::exists(std::string_view relative) const {
  return fs_.is_directory(path_of(relative));
}

bool CpusetTree::has_cpuset(std::string_view relative) const {
  return fs_.exists(path_of(relative) / "cpuset.cpus");
}

Result<CpusValue> CpusetTree::read_cpus(std::string_view relative) const {
  auto path = path_of(relative) / "cpuset.cpus";
  auto text = fs_.read(path);
  if (!text) return text.error();
  auto value = parse_cpus_value(*text, hierarchy_.version);
  if (!value) return make_error("{}: {}", path.string(), value.error().message);
  return value;
}

Status CpusetTree::write_cpus(std::string_view relative, const CpusValue& value) {
  // v2 takes "" (a lone newline) to go back to inheriting the parent's CPUs.
  return fs_.write(path_of(relative) / "cpuset.cpus", value.text() + "\n");
}

Result<std::vector<pid_t>> CpusetTree::tasks(std::string_view relative) const {
  auto path = path_of(relative) / (version() == CgroupVersion::kV1 ? "tasks" : "cgroup.threads");
  auto text = fs_.read(path);
  if (!text) return text.error();
  auto tids = parse_task_list(*text);
  if (!tids) return make_error("{}: {}", path.string(), tids.error().message);
  return tids;
}

Status CpusetTree::move_task(std::string_view relative, pid_t tid) {
  return fs_.write(path_of(relative) / "tasks", std::to_string(tid));
}

Result<std::vector<std::string>> CpusetTree::children(std::string_view relative) const {
  auto dir = path_of(relative);
  auto names = fs_.list(dir);
  if (!names) return names.error();
  std::vector<std::string> children;
  for (auto& name : *names) {
    // Control files are never directories; skip the stat for the ones every cgroup has.
    if (name.rfind("cpuset.", 0) == 0 || name.rfind("cgroup.", 0) == 0 || name == "tasks" ||
        name == "notify_on_release" || name == "release_agent") {
      continue;
    }
    if (!fs_.is_directory(dir / name)) continue;
    children.push_back(relative.empty() ? name : std::string(relative) + "/" + name);
  }
  std::sort(children.begin(), children.end());
  return children;
}

Result<std::vector<std::string>> CpusetTree::descendants(std::string_view relative) const {
  std::vector<std::string> all;
  auto direct = children(relative);
  if (!direct) return direct.error();
  for (auto& child : *direct) {
    all.push_back(child);
    auto below = descendants(child);
    if (!below) return below.error();
    all.insert(all.end(), below->begin(), below->end());
  }
  return all;
}

Status CpusetTree::create(std::string_view relative, const CpuSet& cpus) {
  auto dir = path_of(relative);
  if (auto status = fs_.make_directory(dir); !status) return status;
  if (version() == CgroupVersion::kV2) return {};
  auto mems = fs_.read(path_of(cgroup_parent(relative)) / "cpuset.mems");
  if (!mems) return mems.error();
  if (auto status = fs_.write(dir / "cpuset.cpus", format_cpulist(cpus) + "\n"); !status) {
    return status;
  }
  return fs_.write(dir / "cpuset.mems", *mems);
}

Status CpusetTree::remove(std::string_view relative) {
  return fs_.remove_directory(path_of(relative));
}

}  // namespace prefcpu
