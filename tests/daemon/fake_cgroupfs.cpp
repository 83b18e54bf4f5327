#include "fake_cgroupfs.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "linux/cgroup/cpuset_tree.h"

namespace prefcpu::testing {

namespace {

Error fail(int err, const std::filesystem::path& path) {
  return make_errno_error(err, "writing {}: {}", path.string(), std::strerror(err));
}

void put(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
}

}  // namespace

FakeCgroupFs::FakeCgroupFs(const FixtureTree& tree, CgroupVersion version,
                           const std::string& online)
    : version_(version),
      cgroup_root_(tree.dir("cgroup")),
      proc_root_(tree.dir("proc")),
      online_(*parse_cpulist(online)) {
  if (version_ == CgroupVersion::kV1) {
    put(cgroup_root_ / "cpuset.cpus", online + "\n");
    put(cgroup_root_ / "cpuset.mems", "0\n");
    put(cgroup_root_ / "tasks", "");
  } else {
    put(cgroup_root_ / "cgroup.controllers", "cpuset cpu memory\n");
    put(cgroup_root_ / "cpuset.cpus.effective", online + "\n");
    put(cgroup_root_ / "cgroup.threads", "");
  }
}

std::optional<std::string> FakeCgroupFs::relative_to_root(const std::filesystem::path& path) const {
  auto relative = path.lexically_normal().lexically_relative(cgroup_root_);
  if (relative.empty() || *relative.begin() == "..") return std::nullopt;
  return relative == "." ? std::string() : relative.string();
}

bool FakeCgroupFs::cgroup_exists(const std::string& relative) const {
  return std::filesystem::is_directory(relative.empty() ? cgroup_root_ : cgroup_root_ / relative);
}

CpuSet FakeCgroupFs::cgroup_cpus(const std::string& relative) const {
  if (relative.empty()) return online_;
  auto value = parse_cpus_value(cpus(relative), version_);
  if (!value) return {};
  // v2 empty: inherit the parent's.
  return value->inherit ? cgroup_cpus(cgroup_parent(relative)) : value->cpus;
}

std::string FakeCgroupFs::cpus(const std::string& relative) const {
  std::ifstream in(cgroup_root_ / relative / "cpuset.cpus");
  std::string text;
  std::getline(in, text);
  return text;
}

CpuSet FakeCgroupFs::allowed(pid_t tid) const {
  const auto& task = tasks_.at(tid);
  CpuSet cpus = cgroup_cpus(task.cgroup);
  if (task.user_mask) {
    // kernel >= 6.2: user_cpus_ptr ∩ cpuset when that has an active CPU.
    CpuSet narrowed = *task.user_mask & cpus;
    if (!narrowed.empty()) return narrowed;
  }
  return cpus;
}

void FakeCgroupFs::sync_proc(pid_t tid) {
  const auto& task = tasks_.at(tid);
  auto dir = proc_root_ / std::to_string(tid);
  std::filesystem::create_directories(dir);
  std::string fields;
  // Fields 3..39 of proc(5): state ppid pgrp session tty tpgid flags ... starttime ... processor.
  for (unsigned field = 3; field <= 41; ++field) {
    std::string value = "0";
    if (field == 3) value = "S";
    if (field == 4) value = std::to_string(task.ppid);
    if (field == 9) value = std::to_string(task.kernel_thread ? 0x00200040 : 0x00400100);
    if (field == 22) value = std::to_string(1000 + tid);
    if (field == 39) value = std::to_string(task.processor);
    fields += " " + value;
  }
  put(dir / "stat", std::to_string(tid) + " (fake task)" + fields + "\n");
  put(dir / "status", "Name:\tfake\nTgid:\t" + std::to_string(task.tgid == 0 ? tid : task.tgid) +
                          "\nCpus_allowed_list:\t" + format_cpulist(allowed(tid)) + "\n");
}

void FakeCgroupFs::sync_tasks_files() {
  std::map<std::string, std::string> lists;
  for (const auto& [tid, task] : tasks_) lists[task.cgroup] += std::to_string(tid) + "\n";
  std::vector<std::string> all{""};
  for (auto it = std::filesystem::recursive_directory_iterator(cgroup_root_);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    if (it->is_directory()) all.push_back(it->path().lexically_relative(cgroup_root_).string());
  }
  for (const auto& relative : all) {
    auto dir = relative.empty() ? cgroup_root_ : cgroup_root_ / relative;
    put(dir / (version_ == CgroupVersion::kV1 ? "tasks" : "cgroup.threads"), lists[relative]);
  }
  for (const auto& [tid, task] : tasks_) sync_proc(tid);
}

void FakeCgroupFs::make_cgroup(const std::string& relative, const std::string& cpus) {
  if (!make_directory(cgroup_root_ / relative)) throw std::runtime_error("mkdir " + relative);
  if (!write_cpus(relative, cpus)) throw std::runtime_error("cpus " + relative + " " + cpus);
  if (version_ == CgroupVersion::kV1) put(cgroup_root_ / relative / "cpuset.mems", "0\n");
}

void FakeCgroupFs::add_task(pid_t tid, FakeTask task) {
  tasks_[tid] = std::move(task);
  sync_tasks_files();
}

void FakeCgroupFs::foreign_write_cpus(const std::string& relative, const std::string& cpus) {
  put(cgroup_root_ / relative / "cpuset.cpus", cpus + "\n");
  sync_tasks_files();
}

void FakeCgroupFs::offline_cpu_v1(unsigned cpu) {
  online_.reset(cpu);
  for (auto it = std::filesystem::recursive_directory_iterator(cgroup_root_);
       it != std::filesystem::recursive_directory_iterator(); ++it) {
    if (!it->is_directory()) continue;
    auto relative = it->path().lexically_relative(cgroup_root_).string();
    auto value = parse_cpulist(cpus(relative));
    if (!value) continue;
    value->reset(cpu);
    put(it->path() / "cpuset.cpus", format_cpulist(*value) + "\n");
  }
  put(cgroup_root_ / "cpuset.cpus", format_cpulist(online_) + "\n");
  sync_tasks_files();
}

void FakeCgroupFs::online_cpu_v1(unsigned cpu) {
  online_.set(cpu);
  put(cgroup_root_ / "cpuset.cpus", format_cpulist(online_) + "\n");
  sync_tasks_files();
}

Status FakeCgroupFs::write_cpus(const std::string& relative, std::string_view value) {
  auto path = cgroup_root_ / relative / "cpuset.cpus";
  auto parsed = parse_cpus_value(value, version_);
  if (!parsed) return fail(EINVAL, path);
  if (version_ == CgroupVersion::kV1) {
    // kernel/cgroup/cpuset-v1.c validate_change(): within the parent, above every child.
    if (!parsed->cpus.is_subset_of(cgroup_cpus(cgroup_parent(relative)))) return fail(EINVAL, path);
    for (const auto& entry : std::filesystem::directory_iterator(cgroup_root_ / relative)) {
      if (!entry.is_directory()) continue;
      auto child = (std::filesystem::path(relative) / entry.path().filename()).string();
      if (!cgroup_cpus(child).is_subset_of(parsed->cpus)) return fail(EBUSY, path);
    }
    bool has_tasks = false;
    for (const auto& [tid, task] : tasks_) has_tasks = has_tasks || task.cgroup == relative;
    if (parsed->cpus.empty() && has_tasks) return fail(ENOSPC, path);
  }
  put(path, parsed->text() + "\n");
  for (const auto& [tid, task] : tasks_) sync_proc(tid);
  return {};
}

Status FakeCgroupFs::move_task(const std::string& relative, std::string_view value) {
  auto path = cgroup_root_ / relative / "tasks";
  pid_t tid = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), tid);
  if (ec != std::errc{}) return fail(EINVAL, path);
  auto it = tasks_.find(tid);
  if (it == tasks_.end()) return fail(ESRCH, path);
  if (it->second.refuses_move) return fail(EINVAL, path);
  if (!relative.empty() && cgroup_cpus(relative).empty()) return fail(ENOSPC, path);
  it->second.cgroup = relative;
  sync_tasks_files();
  return {};
}

Result<std::string> FakeCgroupFs::read(const std::filesystem::path& path) const {
  return real_.read(path);
}

Status FakeCgroupFs::write(const std::filesystem::path& path, std::string_view value) {
  auto relative = relative_to_root(path);
  if (!relative) return real_.write(path, value);
  Write write{*relative, std::string(value)};
  if (before_write) before_write(write);
  writes_.push_back(write);
  auto file = std::filesystem::path(*relative).filename().string();
  auto cgroup = cgroup_parent(*relative);
  if (file == "cpuset.cpus") return write_cpus(cgroup, value);
  if (file == "tasks" || file == "cgroup.procs") return move_task(cgroup, value);
  return real_.write(path, value);
}

Result<std::vector<std::string>> FakeCgroupFs::list(const std::filesystem::path& dir) const {
  return real_.list(dir);
}

bool FakeCgroupFs::exists(const std::filesystem::path& path) const {
  return real_.exists(path);
}

bool FakeCgroupFs::is_directory(const std::filesystem::path& path) const {
  return real_.is_directory(path);
}

Status FakeCgroupFs::make_directory(const std::filesystem::path& path) {
  if (auto status = real_.make_directory(path); !status) return status;
  if (!relative_to_root(path)) return {};
  if (version_ == CgroupVersion::kV1) {
    put(path / "cpuset.cpus", "\n");
    put(path / "cpuset.mems", "\n");
    put(path / "tasks", "");
  } else {
    put(path / "cpuset.cpus", "\n");
    put(path / "cgroup.threads", "");
  }
  return {};
}

Status FakeCgroupFs::remove_directory(const std::filesystem::path& path) {
  auto relative = relative_to_root(path);
  if (!relative) return real_.remove_directory(path);
  for (const auto& [tid, task] : tasks_) {
    if (task.cgroup == *relative)
      return make_errno_error(EBUSY, "removing {}: busy", path.string());
  }
  for (const auto& entry : std::filesystem::directory_iterator(path)) {
    if (entry.is_directory()) return make_errno_error(EBUSY, "removing {}: busy", path.string());
  }
  std::filesystem::remove_all(path);
  return {};
}

}  // namespace prefcpu::testing
