#include "linux/cgroup/cpuset_actuator.h"

#include <algorithm>
#include <cerrno>
#include <chrono>

#include "linux/cgroup/cgroup_name.h"

namespace prefcpu {

namespace {

constexpr std::int64_t kRediscoverNs = 1'000'000'000;

std::int64_t micros_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string joined;
  for (const auto& part : parts) {
    if (!joined.empty()) joined += separator;
    joined += part;
  }
  return joined;
}

}  // namespace

CpusetActuator::CpusetActuator(KernelFs& fs, Journal& journal, CpusetOptions options)
    : fs_(fs), journal_(journal), options_(std::move(options)) {
  probe_ = std::make_unique<ProcTaskProbe>(fs_, options_.proc_root,
                                           options_.proc_root == std::filesystem::path("/proc"));
}

Result<std::unique_ptr<CpusetActuator>> CpusetActuator::create(KernelFs& fs, Journal& journal,
                                                               CpusetOptions options) {
  const CpusetHierarchy hierarchy = options.hierarchy;  // a copy: options is moved below
  if (!fs.is_directory(hierarchy.root)) {
    return make_error("cpuset root {} is not a directory", hierarchy.root.string());
  }
  if (options.shield && hierarchy.version != CgroupVersion::kV1) {
    return make_error(
        "--shield needs the cgroup v1 cpuset hierarchy, and {} is cgroup v2: name "
        "the cgroups to manage with --cgroup instead",
        hierarchy.root.string());
  }
  CpusetTree tree(fs, hierarchy);
  for (const auto& name : options.cgroups) {
    if (auto status = check_cgroup_name(name); !status) return status.error();
    if (!tree.exists(name)) {
      return make_error(
          "cgroup \"{}\" does not exist under {}: expected a cpuset cgroup "
          "relative to the cpuset root",
          name, hierarchy.root.string());
    }
    if (!tree.has_cpuset(name)) {
      return make_error(
          "cgroup \"{}\" under {} has no cpuset.cpus: enable the controller with "
          "\"echo +cpuset > {}/cgroup.subtree_control\"",
          name, hierarchy.root.string(), tree.path_of(cgroup_parent(name)).string());
    }
  }
  // One prefcpud per hierarchy: two would share prefcpu-pinned and move each other's tasks.
  auto held = fs.lock(hierarchy.root);
  if (!held) {
    if (held.error().errno_value == EWOULDBLOCK) {
      return make_error(
          "another prefcpud already manages the cpuset hierarchy {} (it holds the lock on that "
          "directory): run one prefcpud per hierarchy and name every cgroup it should manage with "
          "--cgroup",
          hierarchy.root.string());
    }
    return held.error();
  }
  std::unique_ptr<CpusetActuator> actuator(new CpusetActuator(fs, journal, std::move(options)));
  actuator->tree_.emplace(fs, hierarchy);
  actuator->hierarchy_lock_ = std::move(*held);
  return actuator;
}

std::unique_ptr<CpusetActuator> CpusetActuator::for_recovery(KernelFs& fs, Journal& journal,
                                                             std::filesystem::path proc_root,
                                                             NoticeSink notice) {
  CpusetOptions options;
  options.proc_root = std::move(proc_root);
  options.notice = std::move(notice);
  return std::unique_ptr<CpusetActuator>(new CpusetActuator(fs, journal, std::move(options)));
}

void CpusetActuator::notify(NoticeLevel level, const std::string& message) const {
  if (options_.notice) options_.notice(level, message);
}

bool CpusetActuator::ours(std::string_view relative) const {
  return std::find(created_.begin(), created_.end(), relative) != created_.end();
}

Status CpusetActuator::save_journal() {
  return journal_.record(kName, journal_section());
}

nlohmann::json CpusetActuator::journal_section() const {
  nlohmann::json section = nlohmann::json::object();
  if (!tree_) return section;
  section["root"] = tree_->root().string();
  section["cgroup_version"] = static_cast<int>(tree_->version());
  nlohmann::json originals = nlohmann::json::object();
  for (const auto& [relative, managed] : managed_) originals[relative] = managed.original.text();
  section["originals"] = originals;
  section["created"] = created_;
  nlohmann::json pinned = nlohmann::json::array();
  for (const auto& [tid, task] : pinned_) {
    pinned.push_back({{"tid", tid}, {"start_time", task.start_time}, {"origin", task.origin}});
  }
  section["pinned"] = pinned;
  return section;
}

std::vector<std::string> CpusetActuator::wanted_cgroups(std::vector<std::string>& errors) {
  std::vector<std::string> top;
  if (!options_.cgroups.empty()) {
    for (const auto& name : options_.cgroups) {
      if (!tree_->exists(name)) {
        if (missing_noted_.insert(name).second) {
          notify(NoticeLevel::kWarning,
                 "cgroup " + name + " is gone; it is no longer managed until it comes back");
        }
        continue;
      }
      missing_noted_.erase(name);
      top.push_back(name);
    }
  } else {
    auto children = tree_->children("");
    if (!children) {
      errors.push_back(children.error().message);
      return {};
    }
    for (auto& child : *children) {
      if (child == kPinned) continue;
      // Every v1 cpuset has cpuset.cpus; on v2 only those whose parent enabled the controller.
      if (tree_->version() == CgroupVersion::kV2 && !tree_->has_cpuset(child)) {
        if (missing_noted_.insert(child).second) {
          notify(NoticeLevel::kInfo, "cgroup " + child +
                                         " has no cpuset controller (see the parent's "
                                         "cgroup.subtree_control); not managed");
        }
        continue;
      }
      top.push_back(child);
    }
  }
  if (shield_active_ && std::find(top.begin(), top.end(), kWorkload) == top.end()) {
    top.emplace_back(kWorkload);
  }
  std::vector<std::string> wanted = top;
  if (tree_->version() == CgroupVersion::kV1) {
    // v1 keeps a child within its parent, so a managed cgroup's descendants must follow it.
    for (const auto& cgroup : top) {
      auto below = tree_->descendants(cgroup);
      if (!below) {
        errors.push_back(below.error().message);
        continue;
      }
      wanted.insert(wanted.end(), below->begin(), below->end());
    }
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  // A name found on disk that is not UTF-8 cannot be recorded in the (JSON) journal faithfully.
  std::erase_if(wanted, [&](const std::string& name) {
    if (is_utf8(name)) return false;
    if (missing_noted_.insert(name).second) {
      notify(NoticeLevel::kWarning, "cgroup " + printable_name(name) +
                                        ": its name is not valid UTF-8, which the journal cannot "
                                        "record; not managed (rename it to manage it)");
    }
    return true;
  });
  return wanted;
}

Status CpusetActuator::discover(std::vector<std::string>& errors) {
  auto wanted = wanted_cgroups(errors);
  bool changed = false;
  for (auto it = managed_.begin(); it != managed_.end();) {
    if (!std::binary_search(wanted.begin(), wanted.end(), it->first)) {
      notify(NoticeLevel::kInfo, "cgroup " + it->first + " is no longer there; forgetting it");
      watch_.remove(it->first);
      it = managed_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  for (const auto& relative : wanted) {
    if (managed_.count(relative) != 0) continue;
    auto current = tree_->read_cpus(relative);
    if (!current) {
      errors.push_back(current.error().message);
      continue;
    }
    managed_[relative] = Managed{*current, *current, false};
    (void)watch_.add(relative, tree_->path_of(relative) / "cpuset.cpus");
    changed = true;
  }
  // Journal first: the originals are on disk before anything can change them.
  return changed ? save_journal() : Status{};
}

void CpusetActuator::check_foreign(const std::string& relative, Managed& managed,
                                   const CpusValue& current, const CpuSet& online) {
  if (!managed.known || current == *managed.known) return;
  // v1 removes an offline CPU from every cpuset by itself (and never puts it back).
  if (tree_->version() == CgroupVersion::kV1 && !current.inherit &&
      current.cpus == (managed.known->cpus & online)) {
    return;
  }
  notify(NoticeLevel::kInfo, "cgroup " + relative + ": cpuset.cpus was changed from \"" +
                                 managed.known->text() + "\" to \"" + current.text() +
                                 "\" by another writer; adopting \"" + current.text() +
                                 "\" as its original");
  managed.original = current;
  managed.empty_noted = false;
  ++counters_.adopted;
}

Result<std::vector<CgroupPlan>> CpusetActuator::plan_writes(const CpuSet& preferred,
                                                            const CpuSet& online, bool read_all,
                                                            const std::set<std::string>& written,
                                                            std::vector<std::string>& errors) {
  std::vector<CgroupPlan> plans;
  std::uint64_t adopted_before = counters_.adopted;
  for (auto& [relative, managed] : managed_) {
    Result<CpusValue> current = managed.known ? Result<CpusValue>(*managed.known)
                                              : Result<CpusValue>(make_error("not read yet"));
    if (read_all || !managed.known || written.count(relative) != 0 || !watch_.watching(relative)) {
      current = tree_->read_cpus(relative);
    }
    if (!current) {
      if (current.error().errno_value == ENOENT) {
        discovered_ns_.reset();  // removed since the last listing: forget it next time
        continue;
      }
      errors.push_back(current.error().message);
      continue;
    }
    check_foreign(relative, managed, *current, online);
    managed.known = *current;
    auto desired = desired_cpus(managed.original, preferred, online, tree_->version());
    if (!desired) {
      if (!managed.empty_noted) {
        notify(NoticeLevel::kWarning,
               "cgroup " + relative + ": its original CPUs \"" + managed.original.text() +
                   "\" and preferred \"" + format_cpulist(preferred) +
                   "\" do not intersect; leaving it at \"" + current->text() + "\"");
        managed.empty_noted = true;
      }
      desired = *current;
    } else {
      managed.empty_noted = false;
    }
    if (*desired == *current) ++counters_.unchanged;
    plans.push_back({relative, *current, *desired});
  }
  // An adopted original is on disk before anything is written with it.
  if (counters_.adopted != adopted_before) {
    if (auto status = save_journal(); !status) return status.error();
  }
  return plans;
}

Status CpusetActuator::apply(const CpuSet& preferred, const CpuSet& online) {
  auto start = std::chrono::steady_clock::now();
  if (!tree_) return make_error("cpuset actuator has no hierarchy (recovery only)");
  std::vector<std::string> errors;
  if (options_.shield && !shield_active_) {
    if (auto status = setup_shield(online); !status) errors.push_back(status.error().message);
  }
  // A change of mask is when a new cgroup or task matters most; otherwise once a second is enough.
  std::optional<std::int64_t> now;
  if (options_.now_ns) now = options_.now_ns();
  bool relist = !now || !discovered_ns_ || preferred != last_preferred_ || online != last_online_ ||
                *now - *discovered_ns_ >= kRediscoverNs;
  if (relist) {
    if (shield_active_) sweep_root(1, errors);
    if (auto status = discover(errors); !status) return status;
    discovered_ns_ = now;
  }
  last_online_ = online;
  last_preferred_ = preferred;

  // Only the files someone wrote since the last period need reading; all of them at a
  // re-listing, which also covers what the kernel changes without a write (v1 hotplug).
  bool overflow = false;
  std::set<std::string> written = watch_.drain(overflow);
  auto plans = plan_writes(preferred, online, relist || overflow, written, errors);
  if (!plans) return plans.error();

  // Before any CPU leaves a cgroup, take care of the tasks allowed only on leaving CPUs.
  for (auto& plan : *plans) {
    CpuSet next = plan.desired.effective(online);
    if ((plan.current.effective(online) - next).empty()) continue;
    if (!protect_pinned(plan.relative, next, online, errors)) plan.desired = plan.current;
  }

  auto writes = order_writes(*plans, online);
  std::map<std::string, CpuSet> shrunk;
  for (const auto& write : writes) {
    auto& managed = managed_[write.relative];
    CpuSet before = managed.known ? managed.known->effective(online) : online;
    if (auto status = tree_->write_cpus(write.relative, write.value); !status) {
      // EBUSY, ENOSPC, EINVAL...: nothing changed; the next period tries again.
      ++counters_.refused;
      errors.push_back(status.error().message);
      continue;
    }
    ++counters_.writes;
    managed.known = write.value;
    CpuSet removed = before - write.value.effective(online);
    if (!removed.empty()) shrunk[write.relative] |= removed;
  }
  if (!writes.empty()) counters_.last_write_latency_us = micros_since(start);

  // Counted after the write, so the write is not delayed by ~8 us of /proc/PID/stat per task.
  if (!shrunk.empty()) {
    std::uint64_t moved = 0;
    for (const auto& [relative, removed] : shrunk) moved += count_migrations(relative, removed);
    counters_.last_migrations = moved;
    counters_.migrations += moved;
  }
  // Pinned tasks can go back only when their origin grows (a mask change) or they widen their
  // own affinity, which the once-a-second pass catches.
  if (tree_->version() == CgroupVersion::kV1 && (relist || !writes.empty())) return_pinned(errors);
  counters_.last_apply_us = micros_since(start);
  if (!errors.empty()) return make_error("{}", join(errors, "; "));
  return {};
}

nlohmann::json CpusetActuator::status() const {
  nlohmann::json status = nlohmann::json::object();
  if (!tree_) return status;
  status["root"] = tree_->root().string();
  status["cgroup_version"] = static_cast<int>(tree_->version());
  status["shield"] = shield_active_;
  nlohmann::json cgroups = nlohmann::json::object();
  for (const auto& [relative, managed] : managed_) {
    cgroups[relative] = {{"original", managed.original.text()},
                         {"current", managed.known ? managed.known->text() : std::string()}};
  }
  status["cgroups"] = cgroups;
  status["pinned_tasks"] = pinned_.size();
  status["writes"] = counters_.writes;
  status["unchanged"] = counters_.unchanged;
  status["refused"] = counters_.refused;
  status["adopted"] = counters_.adopted;
  status["migrations"] = counters_.migrations;
  status["last_migrations"] = counters_.last_migrations;
  status["pinned_moved"] = counters_.pinned_moved;
  status["pinned_returned"] = counters_.pinned_returned;
  status["pinned_left_in_place"] = counters_.pinned_left;
  status["shield_moved"] = counters_.shield_moved;
  status["last_apply_us"] = counters_.last_apply_us;
  status["last_write_latency_us"] = counters_.last_write_latency_us;
  return status;
}

}  // namespace prefcpu
