#include "linux/cgroup/task_probe.h"

#include <sched.h>

#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "core/text.h"

namespace prefcpu {

namespace {

template <typename T>
bool parse_number(std::string_view text, T& value) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && ptr == text.data() + text.size() && !text.empty();
}

}  // namespace

Result<PidStat> parse_pid_stat(std::string_view text) {
  std::size_t open = text.find('(');
  std::size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return make_error("/proc/PID/stat \"{}\" has no \"(comm)\" field", text.substr(0, 64));
  }
  PidStat stat;
  // A PID is positive: "-42 (a) ..." is not a task (found by fuzz_pid_stat).
  if (!parse_number(trim(text.substr(0, open)), stat.pid) || stat.pid <= 0) {
    return make_error("/proc/PID/stat \"{}\" does not start with a PID (a number above 0)",
                      text.substr(0, 64));
  }
  stat.comm = text.substr(open + 1, close - open - 1);
  // Fields after comm, numbered from 3 (state) as in proc(5).
  std::vector<std::string_view> fields;
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n')) rest.remove_prefix(1);
    if (rest.empty()) break;
    std::size_t end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  auto field = [&](unsigned number) { return fields[number - 3]; };
  if (fields.size() < 39 - 2) {
    return make_error("/proc/{}/stat has {} fields: expected at least 39 (processor is field 39)",
                      stat.pid, fields.size() + 2);
  }
  stat.state = field(3).empty() ? '?' : field(3)[0];
  if (!parse_number(field(4), stat.ppid) || !parse_number(field(9), stat.flags) ||
      !parse_number(field(22), stat.start_time) || !parse_number(field(39), stat.processor)) {
    return make_error("/proc/{}/stat has a malformed ppid, flags, starttime or processor field",
                      stat.pid);
  }
  return stat;
}

Result<PidStatus> parse_pid_status(std::string_view text) {
  PidStatus status;
  bool have_tgid = false;
  bool have_cpus = false;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (key == "Tgid") {
      if (!parse_number(value, status.tgid)) {
        return make_error("/proc/PID/status: Tgid \"{}\" is not a number", value);
      }
      have_tgid = true;
    } else if (key == "Cpus_allowed_list") {
      auto cpus = parse_cpulist(value);
      if (!cpus) return make_error("/proc/PID/status: Cpus_allowed_list: {}", cpus.error().message);
      status.cpus_allowed = *cpus;
      have_cpus = true;
    }
  }
  if (!have_tgid || !have_cpus) {
    return make_error("/proc/PID/status lacks {}: expected Tgid and Cpus_allowed_list lines",
                      have_tgid ? "Cpus_allowed_list" : "Tgid");
  }
  return status;
}

Result<std::vector<pid_t>> parse_task_list(std::string_view text) {
  std::vector<pid_t> tids;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty()) continue;
    pid_t tid = 0;
    if (!parse_number(line, tid) || tid <= 0) {
      return make_error("task list entry \"{}\" is not a TID: expected one positive number a line",
                        line);
    }
    tids.push_back(tid);
  }
  return tids;
}

Result<PidStat> ProcTaskProbe::stat(pid_t tid) const {
  auto text = fs_.read(proc_root_ / std::to_string(tid) / "stat");
  if (!text) return text.error();
  return parse_pid_stat(*text);
}

Result<CpuSet> ProcTaskProbe::affinity(pid_t tid) const {
  if (use_syscalls_) {
    // Start small (1024 CPUs) and widen on EINVAL, which means the kernel's nr_cpu_ids is larger.
    for (std::size_t bytes = affinity_bytes_; bytes <= CpuSet::kMaxCpus / 8; bytes *= 2) {
      // cpu_set_t is an array of unsigned long: bit N is bit N % W of word N / W.
      std::vector<unsigned long> words(bytes /
                                       sizeof(unsigned long));  // NOLINT(google-runtime-int)
      auto* mask = reinterpret_cast<cpu_set_t*>(words.data());  // NOLINT: the libc API
      if (::sched_getaffinity(tid, bytes, mask) != 0) {
        int err = errno;
        if (err == EINVAL && bytes < CpuSet::kMaxCpus / 8) continue;
        return make_errno_error(err, "sched_getaffinity({}): {}", tid, std::strerror(err));
      }
      affinity_bytes_ = bytes;
      CpuSet cpus;
      for (std::size_t word = 0; word < words.size(); ++word) {
        for (auto bits = words[word]; bits != 0; bits &= bits - 1) {
          auto bit = static_cast<unsigned>(std::countr_zero(bits));
          cpus.set(static_cast<unsigned>(word * 8 * sizeof(unsigned long)) + bit);  // NOLINT
        }
      }
      return cpus;
    }
  }
  auto text = fs_.read(proc_root_ / std::to_string(tid) / "status");
  if (!text) return text.error();
  auto status = parse_pid_status(*text);
  if (!status) return status.error();
  return status->cpus_allowed;
}

Result<pid_t> ProcTaskProbe::tgid(pid_t tid) const {
  auto text = fs_.read(proc_root_ / std::to_string(tid) / "status");
  if (!text) return text.error();
  auto status = parse_pid_status(*text);
  if (!status) return status.error();
  return status->tgid;
}

}  // namespace prefcpu
