#include "host_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace prefcpu::testing {

namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGABRT, SIGSEGV};
constexpr std::size_t kPathSize = 256;

// What the handler needs, prepared beforehand: it may only make async-signal-safe calls.
struct SignalState {
  std::vector<std::string> paths;
  std::vector<std::string> values;
  std::array<std::atomic<pid_t>, 4> children{};
  std::array<std::array<char, kPathSize>, 8> removals{};
  std::array<std::atomic<bool>, 8> removal_used{};
  struct sigaction previous[std::size(kSignals)] = {};
};
SignalState* g_state = nullptr;

void on_signal(int signal) {
  if (g_state != nullptr) {
    for (auto& slot : g_state->children) {
      pid_t child = slot.load();
      if (child <= 0) continue;
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
    }
    for (std::size_t i = g_state->removals.size(); i-- > 0;) {
      if (!g_state->removal_used[i].load()) continue;
      const char* path = g_state->removals[i].data();
      if (::unlink(path) != 0) ::rmdir(path);
    }
    for (std::size_t i = 0; i < g_state->paths.size(); ++i) {
      int fd = ::open(g_state->paths[i].c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
      if (fd < 0) continue;
      (void)!::write(fd, g_state->values[i].data(), g_state->values[i].size());
      ::close(fd);
    }
  }
  (void)::signal(signal, SIG_DFL);
  (void)::raise(signal);
}

std::string read_value(const std::filesystem::path& path, bool& ok) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  ok = static_cast<bool>(in);
  std::string value = text.str();
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

bool write_value(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  return ::close(fd) == 0 && ok;
}

}  // namespace

HostIrqGuard::HostIrqGuard() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/irq", ec)) {
    std::filesystem::path file =
        entry.is_directory() ? entry.path() / "smp_affinity_list" : entry.path();
    if (!entry.is_directory() && entry.path().filename() != "default_smp_affinity") continue;
    bool ok = false;
    std::string value = read_value(file, ok);
    if (ok) snapshot_[file.string()] = value;
  }
  auto* state = new SignalState;
  for (const auto& [path, value] : snapshot_) {
    state->paths.push_back(path);
    state->values.push_back(value);
  }
  g_state = state;
  for (std::size_t i = 0; i < std::size(kSignals); ++i) {
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(kSignals[i], &action, &state->previous[i]);
  }
}

HostIrqGuard::~HostIrqGuard() {
  (void)restore();
  SignalState* state = g_state;
  for (std::size_t i = 0; i < std::size(kSignals); ++i) {
    ::sigaction(kSignals[i], &state->previous[i], nullptr);
  }
  g_state = nullptr;
  delete state;
}

void HostIrqGuard::track_child(pid_t pid) {
  for (auto& slot : g_state->children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void HostIrqGuard::untrack_child(pid_t pid) {
  for (auto& slot : g_state->children) {
    pid_t expected = pid;
    slot.compare_exchange_strong(expected, 0);
  }
}

void HostIrqGuard::remove_on_signal(const std::string& path) {
  if (path.size() >= kPathSize) return;
  for (std::size_t i = 0; i < g_state->removals.size(); ++i) {
    if (g_state->removal_used[i].load()) continue;
    std::memcpy(g_state->removals[i].data(), path.c_str(), path.size() + 1);
    g_state->removal_used[i].store(true);
    return;
  }
}

void HostIrqGuard::forget_path(const std::string& path) {
  for (std::size_t i = 0; i < g_state->removals.size(); ++i) {
    if (g_state->removal_used[i].load() && path == g_state->removals[i].data()) {
      g_state->removal_used[i].store(false);
    }
  }
}

std::vector<std::string> HostIrqGuard::restore() const {
  std::vector<std::string> failed;
  for (const std::string& path : differences()) {
    // A kernel-managed IRQ refuses writes, but then it never changed either.
    if (!write_value(path, snapshot_.at(path))) failed.push_back(path);
  }
  return failed;
}

std::vector<std::string> HostIrqGuard::differences() const {
  std::vector<std::string> out;
  for (const auto& [path, value] : snapshot_) {
    bool ok = false;
    std::string now = read_value(path, ok);
    if (ok && now != value) out.push_back(path);
  }
  return out;
}

}  // namespace prefcpu::testing
