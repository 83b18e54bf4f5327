#include "linux/kernel_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace prefcpu {

namespace {

Error errno_error(int err, std::string_view verb, const std::filesystem::path& path) {
  return make_errno_error(err, "{} {}: {}", verb, path.string(), std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

int open_retrying(const char* path, int flags, mode_t mode = 0) {
  int fd = 0;
  do {
    fd = ::open(path, flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

Status write_all(int fd, std::string_view data, const std::filesystem::path& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(errno, "writing", path);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<std::string> read_to_end(const Fd& fd, const std::filesystem::path& path) {
  std::string content;
  char buffer[8192];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(errno, "reading", path);
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  return content;
}

}  // namespace

Result<std::string> RealKernelFs::read(const std::filesystem::path& path) const {
  Fd fd(open_retrying(path.c_str(), O_RDONLY));
  if (fd.get() < 0) return errno_error(errno, "opening", path);
  return read_to_end(fd, path);
}

HeldLock::~HeldLock() {
  ::close(fd_);
}

Result<std::unique_ptr<HeldLock>> KernelFs::lock(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_errno_error(errno, "opening {}: {}", path.string(), std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    return make_errno_error(err, "locking {}: {}", path.string(), std::strerror(err));
  }
  return std::make_unique<HeldLock>(fd);
}

RealKernelFs::~RealKernelFs() {
  for (auto& [path, kept] : kept_) ::close(kept.fd);
}

Result<std::string> RealKernelFs::reread(const std::filesystem::path& path) {
  if (not_procfs_.contains(path)) return read(path);
  auto it = kept_.find(path);
  if (it == kept_.end()) {
    Fd fd(open_retrying(path.c_str(), O_RDONLY));
    if (fd.get() < 0) return errno_error(errno, "opening", path);
    struct statfs fs {};
    if (::fstatfs(fd.get(), &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC) {
      not_procfs_.insert(path);
      return read_to_end(fd, path);
    }
    it = kept_.emplace(path, KeptFile{fd.release(), 4096}).first;
  }
  KeptFile& kept = it->second;
  // A read at offset 0 makes the seq_file generate the file anew; one read returns at most a
  // buffer's worth of records, so read on to end of file, at explicit offsets.
  std::string content(kept.capacity, '\0');
  std::size_t size = 0;
  while (true) {
    if (size == content.size()) content.resize(2 * content.size());
    ssize_t n =
        ::pread(kept.fd, content.data() + size, content.size() - size, static_cast<off_t>(size));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(kept.fd);
      kept_.erase(it);  // the next call opens it again
      return errno_error(err, "reading", path);
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  content.resize(size);
  kept.capacity = std::max(kept.capacity, size + size / 2);  // room to read it in one go
  return content;
}

Status RealKernelFs::write(const std::filesystem::path& path, std::string_view value) {
  Fd fd(open_retrying(path.c_str(), O_WRONLY | O_TRUNC));
  if (fd.get() < 0) return errno_error(errno, "opening", path);
  // A single write(2): sysfs and cgroupfs parse one buffer and return their verdict from it.
  ssize_t n = 0;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno_error(errno, "writing", path);
  if (static_cast<std::size_t>(n) != value.size()) {
    return make_errno_error(EIO, "writing {}: short write of {} of {} bytes", path.string(), n,
                            value.size());
  }
  if (::close(fd.release()) != 0 && errno != EINTR) return errno_error(errno, "closing", path);
  return {};
}

Result<std::vector<std::string>> RealKernelFs::list(const std::filesystem::path& dir) const {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) return errno_error(errno, "listing", dir);
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(handle);
    if (entry == nullptr) break;
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  int err = errno;
  ::closedir(handle);
  if (err != 0) return errno_error(err, "listing", dir);
  return names;
}

bool RealKernelFs::exists(const std::filesystem::path& path) const {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool RealKernelFs::is_directory(const std::filesystem::path& path) const {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status RealKernelFs::make_directory(const std::filesystem::path& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return errno_error(errno, "creating", path);
  return {};
}

Status RealKernelFs::remove_directory(const std::filesystem::path& path) {
  if (::rmdir(path.c_str()) != 0) return errno_error(errno, "removing", path);
  return {};
}

Status KernelFs::replace(const std::filesystem::path& path, std::string_view content) {
  return write_file_atomically(path, content);
}

Status write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  {
    Fd fd(open_retrying(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    if (fd.get() < 0) return errno_error(errno, "creating", temporary);
    if (auto status = write_all(fd.get(), content, temporary); !status) return status;
    if (::fsync(fd.get()) != 0) return errno_error(errno, "syncing", temporary);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) return errno_error(errno, "renaming", path);
  std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  Fd dir_fd(open_retrying(dir.c_str(), O_RDONLY | O_DIRECTORY));
  if (dir_fd.get() >= 0) (void)::fsync(dir_fd.get());
  return {};
}

}  // namespace prefcpu
