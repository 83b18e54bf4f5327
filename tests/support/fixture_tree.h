// Fixture trees described in code: a temporary directory that stands in for /proc, /sys,
// cgroupfs or /proc/irq, built per test and removed afterwards.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "linux/kernel_fs.h"

namespace prefcpu::testing {

class FixtureTree {
 public:
  FixtureTree();
  ~FixtureTree();
  FixtureTree(const FixtureTree&) = delete;
  FixtureTree& operator=(const FixtureTree&) = delete;

  const std::filesystem::path& root() const { return root_; }
  // Creates relative (and its parent directories) holding content; returns the full path.
  std::filesystem::path file(std::string_view relative, std::string_view content) const;
  std::filesystem::path dir(std::string_view relative) const;
  std::string read(std::string_view relative) const;
  bool exists(std::string_view relative) const;
  std::filesystem::path path(std::string_view relative) const { return root_ / relative; }

 private:
  std::filesystem::path root_;
};

// The real filesystem, for journals and state files in fixture directories.
inline KernelFs& real_fs() {
  static RealKernelFs fs;
  return fs;
}

}  // namespace prefcpu::testing
