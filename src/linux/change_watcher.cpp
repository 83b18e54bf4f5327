#include "linux/change_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace prefcpu {

namespace {

class InotifyWatcher final : public ChangeWatcher {
 public:
  explicit InotifyWatcher(const std::vector<std::filesystem::path>& dirs) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) return;
    int watched = 0;
    for (const auto& dir : dirs) {
      constexpr std::uint32_t kMask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
      if (::inotify_add_watch(fd_, dir.c_str(), kMask) >= 0) ++watched;
    }
    if (watched == 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~InotifyWatcher() override {
    if (fd_ >= 0) ::close(fd_);
  }
  InotifyWatcher(const InotifyWatcher&) = delete;
  InotifyWatcher& operator=(const InotifyWatcher&) = delete;

  int fd() const override { return fd_; }

  bool drain() override {
    if (fd_ < 0) return false;
    bool any = false;
    alignas(inotify_event) char buffer[4096];
    while (true) {
      ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      any = true;
    }
    return any;
  }

 private:
  int fd_ = -1;
};

}  // namespace

std::unique_ptr<ChangeWatcher> watch_directories(const std::vector<std::filesystem::path>& dirs) {
  return std::make_unique<InotifyWatcher>(dirs);
}

}  // namespace prefcpu
