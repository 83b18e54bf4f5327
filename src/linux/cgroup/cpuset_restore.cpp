// Putting everything back: at exit (restore) and after a crash, from the journal (recover).
#include <cerrno>

#include "linux/cgroup/cpuset_actuator.h"

namespace prefcpu {

namespace {

constexpr int kMovePasses = 10;  // tasks fork while we move them; a few passes catch the children

std::string join(const std::vector<std::string>& parts) {
  std::string joined;
  for (const auto& part : parts) {
    if (!joined.empty()) joined += "; ";
    joined += part;
  }
  return joined;
}

// Moves every task of `from` into `to` (its origin, or the root), until none is left.
void empty_cgroup(CpusetTree& tree, std::string_view from,
                  const std::function<std::string(pid_t)>& destination,
                  std::vector<std::string>& errors) {
  std::set<pid_t> failed;
  for (int pass = 0; pass < kMovePasses; ++pass) {
    auto tids = tree.tasks(from);
    if (!tids) {
      if (tree.exists(from)) errors.push_back(tids.error().message);
      return;
    }
    bool progress = false;
    for (pid_t tid : *tids) {
      if (failed.count(tid) != 0) continue;
      std::string to = destination(tid);
      if (!to.empty() && !tree.exists(to)) to.clear();
      auto status = tree.move_task(to, tid);
      if (status || status.error().errno_value == ESRCH) {
        progress = true;
        continue;
      }
      failed.insert(tid);
      errors.push_back("moving task " + std::to_string(tid) + " out of " + std::string(from) +
                       ": " + status.error().message);
    }
    if (!progress) return;
  }
}

}  // namespace

Status CpusetActuator::restore() {
  if (!tree_) return {};
  return restore_everything();
}

Status CpusetActuator::recover(const nlohmann::json& section) {
  if (section.is_null() || (section.is_object() && section.empty())) return {};
  if (auto status = load_section(section); !status) return status;
  notify(NoticeLevel::kInfo, "recovering cpusets under " + tree_->root().string() +
                                 " from the journal of an unclean exit");
  return restore_everything();
}

Status CpusetActuator::load_section(const nlohmann::json& section) {
  auto malformed = [&](std::string_view what) {
    return make_error(
        "journal section \"cpusets\" is malformed ({}): restore by hand, then "
        "delete the journal",
        what);
  };
  if (!section.is_object() || !section.contains("root") || !section["root"].is_string() ||
      !section.contains("cgroup_version") || !section["cgroup_version"].is_number_integer()) {
    return malformed("expected root and cgroup_version");
  }
  int version = section["cgroup_version"].get<int>();
  if (version != 1 && version != 2) return malformed("cgroup_version is not 1 or 2");
  CpusetHierarchy hierarchy{version == 1 ? CgroupVersion::kV1 : CgroupVersion::kV2,
                            section["root"].get<std::string>()};
  tree_.emplace(fs_, hierarchy);
  managed_.clear();
  pinned_.clear();
  created_.clear();
  if (section.contains("originals")) {
    if (!section["originals"].is_object()) return malformed("originals is not an object");
    for (const auto& [relative, text] : section["originals"].items()) {
      if (!text.is_string()) return malformed("an original is not a string");
      auto value = parse_cpus_value(text.get<std::string>(), hierarchy.version);
      if (!value) return malformed("original of " + relative + ": " + value.error().message);
      managed_[relative] = Managed{*value, std::nullopt, false};
    }
  }
  if (section.contains("created")) {
    if (!section["created"].is_array()) return malformed("created is not an array");
    for (const auto& name : section["created"]) {
      if (!name.is_string()) return malformed("a created cgroup is not a string");
      created_.push_back(name.get<std::string>());
    }
  }
  if (section.contains("pinned")) {
    if (!section["pinned"].is_array()) return malformed("pinned is not an array");
    for (const auto& task : section["pinned"]) {
      if (!task.is_object() || !task.contains("tid") || !task["tid"].is_number_integer() ||
          !task.contains("origin") || !task["origin"].is_string()) {
        return malformed("a pinned task lacks tid or origin");
      }
      pinned_[task["tid"].get<pid_t>()] =
          PinnedTask{task.value("start_time", std::uint64_t{0}), task["origin"].get<std::string>()};
    }
  }
  return {};
}

Status CpusetActuator::restore_everything() {
  std::vector<std::string> errors;
  // v1's root cpuset holds exactly the active CPUs; v2 needs no online set to restore.
  CpuSet online = last_online_;
  if (auto root = tree_->read_cpus(""); root && !root->inherit && !root->cpus.empty()) {
    online = root->cpus;
  }

  // 1. Every cpuset back to its original, parents growing before children.
  std::vector<CgroupPlan> plans;
  for (auto& [relative, managed] : managed_) {
    if (!tree_->exists(relative)) continue;
    auto current = tree_->read_cpus(relative);
    if (!current) {
      errors.push_back(current.error().message);
      continue;
    }
    CpusValue original = managed.original;
    if (tree_->version() == CgroupVersion::kV1) original.cpus &= online;
    if (!original.inherit && original.cpus.empty()) continue;  // v1 would refuse an empty set
    plans.push_back({relative, *current, original});
  }
  for (const auto& write : order_writes(plans, online)) {
    if (auto status = tree_->write_cpus(write.relative, write.value); !status) {
      errors.push_back(status.error().message);
    } else if (auto it = managed_.find(write.relative); it != managed_.end()) {
      it->second.known = write.value;
    }
  }

  // 2. Pinned tasks back where they came from; their user affinity comes back with them.
  if (ours(kPinned)) {
    empty_cgroup(
        *tree_, kPinned, [this](pid_t tid) { return origin_of(tid); }, errors);
  }
  // 3. The shield's tasks back into the root cpuset.
  if (ours(kWorkload)) {
    empty_cgroup(
        *tree_, kWorkload, [](pid_t) { return std::string(); }, errors);
  }
  // 4. Remove what we created.
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    if (!tree_->exists(*it)) continue;
    if (auto status = tree_->remove(*it); !status) errors.push_back(status.error().message);
  }

  if (!errors.empty()) {
    notify(NoticeLevel::kWarning, "cpusets not fully restored: " + join(errors));
    return make_error("restoring cpusets: {}", join(errors));
  }
  managed_.clear();
  pinned_.clear();
  created_.clear();
  shield_active_ = false;
  unmovable_.clear();
  return journal_.record(kName, nlohmann::json::object());
}

}  // namespace prefcpu
