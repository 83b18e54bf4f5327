#include "host_cleanup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <initializer_list>

namespace prefcpu::it {

namespace {

// --- Async-signal-safe cleanup: fixed arrays, raw syscalls, no allocation. ---------------------

constexpr int kMaxPids = 2048;  // the latency benchmark runs 1000 children
constexpr int kMaxDirs = 8;
constexpr std::size_t kPathMax = 512;
volatile sig_atomic_t g_children[kMaxPids];  // 0: free slot
volatile sig_atomic_t g_daemons[kMaxDirs];   // prefcpud processes
char g_dirs[kMaxDirs][kPathMax];             // scratch roots
volatile sig_atomic_t g_dir_used[kMaxDirs];
char g_root_tasks[kPathMax];  // the hierarchy root's tasks file

void add_slot(volatile sig_atomic_t* slots, int count, pid_t pid) {
  for (int i = 0; i < count; ++i) {
    if (slots[i] == 0) {
      slots[i] = pid;
      return;
    }
  }
}

void remove_slot(volatile sig_atomic_t* slots, int count, pid_t pid) {
  for (int i = 0; i < count; ++i) {
    if (slots[i] == pid) slots[i] = 0;
  }
}

void join(char* out, const char* a, const char* b) {
  std::size_t n = 0;
  for (const char* p = a; *p != '\0' && n + 1 < kPathMax; ++p) out[n++] = *p;
  if (n + 1 < kPathMax) out[n++] = '/';
  for (const char* p = b; *p != '\0' && n + 1 < kPathMax; ++p) out[n++] = *p;
  out[n] = '\0';
}

// Moves every TID of dir/tasks into the hierarchy root.
void evacuate(const char* dir) {
  char tasks[kPathMax];
  join(tasks, dir, "tasks");
  for (int pass = 0; pass < 5; ++pass) {
    int fd = ::open(tasks, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buffer[16384];
    ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
    ::close(fd);
    if (n <= 0) return;
    int root = ::open(g_root_tasks, O_WRONLY | O_CLOEXEC);
    if (root < 0) return;
    char* start = buffer;
    for (ssize_t i = 0; i < n; ++i) {
      if (buffer[i] != '\n') continue;
      (void)!::write(root, start, static_cast<std::size_t>(&buffer[i] - start));
      start = &buffer[i + 1];
    }
    ::close(root);
  }
}

}  // namespace

void clean_tree(const char* dir, int depth) {
  if (depth > 4) return;
  int fd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  char buffer[8192];
  while (true) {
    long n = ::syscall(SYS_getdents64, fd, buffer, sizeof buffer);
    if (n <= 0) break;
    for (long offset = 0; offset < n;) {
      auto* entry = reinterpret_cast<dirent64*>(buffer + offset);  // NOLINT: getdents64 ABI
      offset += entry->d_reclen;
      if (entry->d_type != DT_DIR || entry->d_name[0] == '.') continue;
      char child[kPathMax];
      join(child, dir, entry->d_name);
      clean_tree(child, depth + 1);
    }
  }
  ::close(fd);
  evacuate(dir);
  for (int attempt = 0; attempt < 50 && ::rmdir(dir) != 0 && errno == EBUSY; ++attempt) {
    timespec pause{0, 10'000'000};
    ::nanosleep(&pause, nullptr);
    evacuate(dir);
  }
}

namespace {

void cleanup_everything() {
  for (int i = 0; i < kMaxDirs; ++i) {
    pid_t pid = g_daemons[i];
    if (pid == 0) continue;
    ::kill(pid, SIGTERM);  // prefcpud restores what it changed
    ::waitpid(pid, nullptr, 0);
    g_daemons[i] = 0;
  }
  for (int i = 0; i < kMaxPids; ++i) {
    pid_t pid = g_children[i];
    if (pid == 0) continue;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    g_children[i] = 0;
  }
  for (int i = 0; i < kMaxDirs; ++i) {
    if (g_dir_used[i] != 0) clean_tree(g_dirs[i]);
    g_dir_used[i] = 0;
  }
}

void on_signal(int signal) {
  cleanup_everything();
  (void)::signal(signal, SIG_DFL);
  (void)::raise(signal);
}

}  // namespace

void install_handlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) (void)::signal(signal, on_signal);
}

void register_pid(PidKind kind, pid_t pid) {
  if (kind == PidKind::kChild) {
    add_slot(g_children, kMaxPids, pid);
  } else {
    add_slot(g_daemons, kMaxDirs, pid);
  }
}

void unregister_pid(PidKind kind, pid_t pid) {
  if (kind == PidKind::kChild) {
    remove_slot(g_children, kMaxPids, pid);
  } else {
    remove_slot(g_daemons, kMaxDirs, pid);
  }
}

void register_scratch(const char* dir) {
  for (int i = 0; i < kMaxDirs; ++i) {
    if (g_dir_used[i] == 0) {
      std::strncpy(g_dirs[i], dir, kPathMax - 1);
      g_dir_used[i] = 1;
      return;
    }
  }
}

void unregister_scratch(const char* dir) {
  for (int i = 0; i < kMaxDirs; ++i) {
    if (g_dir_used[i] != 0 && std::strcmp(g_dirs[i], dir) == 0) g_dir_used[i] = 0;
  }
}

void set_root_tasks(const char* path) {
  std::strncpy(g_root_tasks, path, kPathMax - 1);
}

}  // namespace prefcpu::it
