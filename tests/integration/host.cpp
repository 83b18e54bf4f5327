#include "host.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/proc_stat.h"
#include "host_cleanup.h"
#include "linux/cgroup/task_probe.h"
#include "linux/kernel_fs.h"

namespace prefcpu::it {

namespace {

std::filesystem::path hierarchy_root() {
  RealKernelFs fs;
  auto text = fs.read("/proc/self/mountinfo");
  if (!text) return {};
  auto mounts = parse_mountinfo(*text);
  if (!mounts) return {};
  auto hierarchy = find_cpuset_hierarchy(fs, *mounts);
  if (!hierarchy || hierarchy->version != CgroupVersion::kV1) return {};
  return hierarchy->root;
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  RealKernelFs fs;
  auto status = fs.write(path, text);
  if (!status) throw std::runtime_error(status.error().message);
}

}  // namespace

std::optional<std::string> cannot_run() {
  if (::geteuid() != 0) return "needs root to create cpusets";
  RealKernelFs fs;
  auto text = fs.read("/proc/self/mountinfo");
  auto mounts = text ? parse_mountinfo(*text) : Result<std::vector<MountEntry>>(text.error());
  auto hierarchy =
      mounts ? find_cpuset_hierarchy(fs, *mounts) : Result<CpusetHierarchy>(mounts.error());
  if (!hierarchy) return "no cpuset hierarchy: " + hierarchy.error().message;
  if (hierarchy->version != CgroupVersion::kV1) {
    return "these tests drive the v1 cpuset hierarchy of this machine type; v2 is covered by "
           "the fixture tests";
  }
  if (online_cpus().count() < 2) return "needs at least 2 online CPUs";
  return std::nullopt;
}

CpuSet online_cpus() {
  auto stat = parse_proc_stat(read_file("/proc/stat"));
  return stat ? stat->online : CpuSet{};
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool wait_for(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

ScratchCpuset::ScratchCpuset() {
  install_handlers();
  auto hierarchy = hierarchy_root();
  if (hierarchy.empty()) throw std::runtime_error("no v1 cpuset hierarchy");
  set_root_tasks((hierarchy / "tasks").c_str());
  // Sweep what a test killed with SIGKILL (ctest --timeout) left behind.
  for (const auto& entry : std::filesystem::directory_iterator(hierarchy)) {
    std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("prefcpu-it-", 0) != 0) continue;
    pid_t owner = std::atoi(name.c_str() + std::strlen("prefcpu-it-"));
    if (owner > 0 && (::kill(owner, 0) == 0 || errno != ESRCH)) continue;
    clean_tree(entry.path().c_str());
  }
  static int counter = 0;
  std::string name = "prefcpu-it-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  root_ = hierarchy / name;
  from_hierarchy_ = "/" + name;
  std::filesystem::create_directory(root_);
  register_scratch(root_.c_str());
  write_text(root_ / "cpuset.cpus", format_cpulist(online_cpus()));
  write_text(root_ / "cpuset.mems", read_file(hierarchy / "cpuset.mems"));
}

ScratchCpuset::~ScratchCpuset() {
  clean_tree(root_.c_str());
  unregister_scratch(root_.c_str());
}

void ScratchCpuset::make(const std::string& relative) {
  std::filesystem::create_directory(root_ / relative);
  auto parent = (root_ / relative).parent_path();
  write_text(root_ / relative / "cpuset.cpus", read_file(parent / "cpuset.cpus"));
  write_text(root_ / relative / "cpuset.mems", read_file(parent / "cpuset.mems"));
}

void ScratchCpuset::attach(pid_t pid, const std::string& relative) {
  write_text((relative.empty() ? root_ : root_ / relative) / "tasks", std::to_string(pid));
}

std::string ScratchCpuset::cpus(const std::string& relative) const {
  std::string text = read_file(root_ / relative / "cpuset.cpus");
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

bool ScratchCpuset::exists(const std::string& relative) const {
  return std::filesystem::is_directory(root_ / relative);
}

std::string ScratchCpuset::cgroup_of(pid_t pid) const {
  std::string path = read_file("/proc/" + std::to_string(pid) + "/cpuset");
  while (!path.empty() && path.back() == '\n') path.pop_back();
  if (path == from_hierarchy_) return "";
  if (path.rfind(from_hierarchy_ + "/", 0) == 0) return path.substr(from_hierarchy_.size() + 1);
  return path;
}

Child::Child(std::chrono::milliseconds step) {
  install_handlers();
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);
    // tv_nsec must stay below one second, or nanosleep fails at once (EINVAL) and spins.
    timespec pause{static_cast<time_t>(step.count() / 1000),
                   static_cast<long>(step.count() % 1000) * 1'000'000};
    while (true) ::nanosleep(&pause, nullptr);
  }
  register_pid(PidKind::kChild, pid_);
}

Child::~Child() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  unregister_pid(PidKind::kChild, pid_);
}

CpuSet Child::allowed() const {
  RealKernelFs fs;
  ProcTaskProbe probe(fs, "/proc", true);
  auto cpus = probe.affinity(pid_);
  return cpus ? *cpus : CpuSet{};
}

unsigned Child::processor() const {
  auto stat = parse_pid_stat(read_file("/proc/" + std::to_string(pid_) + "/stat"));
  return stat ? stat->processor : ~0U;
}

bool taskset(pid_t pid, const std::string& cpulist) {
  return run({"taskset", "-pc", cpulist, std::to_string(pid)}).status == 0;
}

StealFeeder::StealFeeder(std::filesystem::path file)
    : file_(std::move(file)), online_(online_cpus()) {
  write(0);
  thread_ = std::thread([this] {
    long hz = ::sysconf(_SC_CLK_TCK);
    double ticks = 0;
    auto last = std::chrono::steady_clock::now();
    while (!stop_.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      auto now = std::chrono::steady_clock::now();
      double seconds = std::chrono::duration<double>(now - last).count();
      last = now;
      ticks += fraction_.load() * seconds * online_.count() * static_cast<double>(hz);
      write(static_cast<std::uint64_t>(ticks));
    }
  });
}

StealFeeder::~StealFeeder() {
  stop_.store(true);
  thread_.join();
}

void StealFeeder::write(std::uint64_t steal_ticks) const {
  std::string text = "cpu  1000 0 1000 100000 0 0 0 " + std::to_string(steal_ticks) + " 0 0\n";
  for (unsigned cpu : online_) {
    text += "cpu" + std::to_string(cpu) + " 500 0 500 50000 0 0 0 0 0 0\n";
  }
  text += "intr 0\nctxt 0\n";
  auto temporary = file_;
  temporary += ".tmp";
  std::ofstream(temporary, std::ios::trunc) << text;
  std::filesystem::rename(temporary, file_);
}

DaemonProcess::DaemonProcess(const std::vector<std::string>& args, std::filesystem::path log)
    : log_(std::move(log)) {
  install_handlers();
  std::vector<std::string> argv{PREFCPUD_PATH, "--foreground"};
  argv.insert(argv.end(), args.begin(), args.end());
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ == 0) {
    // If the test dies, prefcpud still restores everything.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    std::vector<char*> raw;
    raw.reserve(argv.size() + 1);
    for (auto& arg : argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  register_pid(PidKind::kDaemon, pid_);
}

DaemonProcess::~DaemonProcess() {
  if (running()) {
    ::kill(pid_, SIGTERM);
    if (!wait_for([this] { return !running(); }, std::chrono::seconds(10))) kill9();
  }
  unregister_pid(PidKind::kDaemon, pid_);
}

bool DaemonProcess::running() const {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t result = ::waitpid(pid_, &status, WNOHANG);
  if (result == pid_) {
    const_cast<DaemonProcess*>(this)->pid_ = -pid_;  // NOLINT: remember it was reaped
    return false;
  }
  return result == 0;
}

int DaemonProcess::terminate(rusage* usage) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  rusage ignored{};
  ::wait4(pid_, &status, 0, usage != nullptr ? usage : &ignored);
  unregister_pid(PidKind::kDaemon, pid_);
  pid_ = -pid_;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void DaemonProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  unregister_pid(PidKind::kDaemon, pid_);
  pid_ = -pid_;
}

Run run(const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::dup2(pipe_fds[1], STDERR_FILENO);
    std::vector<char*> raw;
    for (const auto& arg : args) raw.push_back(const_cast<char*>(arg.c_str()));  // NOLINT
    raw.push_back(nullptr);
    ::execvp(raw[0], raw.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  Run result;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) {
    result.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace prefcpu::it
