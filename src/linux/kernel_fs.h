// The seam to the kernel's pseudo-filesystems (/proc, /sys, cgroupfs, /proc/irq). Every read
// and write of prefcpu goes through a KernelFs, so tests can point it at a fixture tree or
// inject errno values; paths are always built from a root the caller was given.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace prefcpu {

// An exclusive flock(2), released when this is destroyed.
class HeldLock {
 public:
  explicit HeldLock(int fd) : fd_(fd) {}
  ~HeldLock();
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;

 private:
  int fd_;
};

class KernelFs {
 public:
  virtual ~KernelFs() = default;

  virtual Result<std::string> read(const std::filesystem::path& path) const = 0;
  // A file read again every period (/proc/stat). By default it is read afresh each time.
  virtual Result<std::string> reread(const std::filesystem::path& path) { return read(path); }
  // One open(O_WRONLY|O_TRUNC) and one write(2), as `echo value > file` does; sysfs and
  // cgroupfs report a refusal as the errno of that write. The error carries errno_value.
  virtual Status write(const std::filesystem::path& path, std::string_view value) = 0;
  // Replaces a regular file whole, so readers see the old or the new content (by default
  // write_file_atomically below).
  virtual Status replace(const std::filesystem::path& path, std::string_view content);
  // Names of the entries in dir, unsorted, without "." and "..".
  virtual Result<std::vector<std::string>> list(const std::filesystem::path& dir) const = 0;
  virtual bool exists(const std::filesystem::path& path) const = 0;
  virtual bool is_directory(const std::filesystem::path& path) const = 0;
  virtual Status make_directory(const std::filesystem::path& path) = 0;
  virtual Status remove_directory(const std::filesystem::path& path) = 0;
  // Takes flock(LOCK_EX|LOCK_NB) on a file or directory, held by the result; the error carries
  // EWOULDBLOCK when another holder has it. The default locks the path itself (fixtures too).
  virtual Result<std::unique_ptr<HeldLock>> lock(const std::filesystem::path& path);
};

// The real thing: plain POSIX calls with EINTR retried.
class RealKernelFs final : public KernelFs {
 public:
  RealKernelFs() = default;
  RealKernelFs(const RealKernelFs&) = delete;
  RealKernelFs& operator=(const RealKernelFs&) = delete;
  ~RealKernelFs() override;

  Result<std::string> read(const std::filesystem::path& path) const override;
  // A procfs file stays open and is read with pread(2) from offset 0, which makes its seq_file
  // generate it anew: for /proc/stat, two system calls a period (the data, then end of file)
  // instead of four (open, read, read, close). Any other file is read afresh, as a writer may
  // have replaced it by rename.
  Result<std::string> reread(const std::filesystem::path& path) override;
  Status write(const std::filesystem::path& path, std::string_view value) override;
  Result<std::vector<std::string>> list(const std::filesystem::path& dir) const override;
  bool exists(const std::filesystem::path& path) const override;
  bool is_directory(const std::filesystem::path& path) const override;
  Status make_directory(const std::filesystem::path& path) override;
  Status remove_directory(const std::filesystem::path& path) override;

 private:
  struct KeptFile {
    int fd = -1;
    std::size_t capacity = 0;  // the first pread's size: room for the largest content seen
  };
  std::map<std::filesystem::path, KeptFile> kept_;  // procfs files being reread
  std::set<std::filesystem::path> not_procfs_;      // reread paths found elsewhere: read afresh
};

// Writes a regular file so readers see the old or the new content, never a torn one:
// write a temporary file, fsync it, rename it over the target, fsync the directory.
Status write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace prefcpu
