#include "linux/cgroup/cpus_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace prefcpu {

CpusWatch::CpusWatch() : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {}

CpusWatch::~CpusWatch() {
  if (fd_ >= 0) ::close(fd_);
}

bool CpusWatch::add(const std::string& key, const std::filesystem::path& file) {
  if (fd_ < 0) return false;
  if (watching(key)) return true;
  int wd = ::inotify_add_watch(fd_, file.c_str(), IN_MODIFY | IN_DELETE_SELF);
  if (wd < 0) return false;
  by_key_[key] = wd;
  by_watch_[wd] = key;
  return true;
}

void CpusWatch::remove(const std::string& key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return;
  (void)::inotify_rm_watch(fd_, it->second);  // fails harmlessly if the file is gone
  by_watch_.erase(it->second);
  by_key_.erase(it);
}

std::set<std::string> CpusWatch::drain(bool& everything) {
  std::set<std::string> written;
  everything = false;
  if (fd_ < 0) return written;
  alignas(inotify_event) char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: nothing (more) happened
    for (ssize_t offset = 0; offset < n;) {
      auto* event = reinterpret_cast<inotify_event*>(buffer + offset);  // NOLINT: inotify ABI
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if ((event->mask & IN_Q_OVERFLOW) != 0) everything = true;
      auto it = by_watch_.find(event->wd);
      if (it == by_watch_.end()) continue;
      written.insert(it->second);
      if ((event->mask & IN_IGNORED) != 0) {  // the file is gone: the watch went with it
        by_key_.erase(it->second);
        by_watch_.erase(it);
      }
    }
  }
  return written;
}

}  // namespace prefcpu
