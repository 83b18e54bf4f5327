// A KernelFs that forwards to a real one but fails chosen writes with a chosen errno: how tests
// reach the kernel's refusals (EBUSY, EPERM, EIO, ENOSPC ...) through the syscall seam.
#pragma once

#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "support/forwarding_fs.h"

namespace prefcpu::testing {

class FaultyKernelFs final : public ForwardingKernelFs {
 public:
  using ForwardingKernelFs::ForwardingKernelFs;

  // Writes to path fail with err, `times` times (-1: for ever).
  void fail_writes(const std::filesystem::path& path, int err, int times = -1) {
    faults_[path.lexically_normal().string()] = {err, times};
  }
  void clear_faults() { faults_.clear(); }
  int write_attempts(const std::filesystem::path& path) const {
    auto it = attempts_.find(path.lexically_normal().string());
    return it == attempts_.end() ? 0 : it->second;
  }

  // Writes and replacements (the journal, status.json, preferred) alike.
  Status write(const std::filesystem::path& path, std::string_view value) override {
    if (auto fault = injected(path); !fault) return fault;
    return ForwardingKernelFs::write(path, value);
  }
  Status replace_file(const std::filesystem::path& path, std::string_view content,
                      bool durable) override {
    if (auto fault = injected(path); !fault) return fault;
    return ForwardingKernelFs::replace_file(path, content, durable);
  }

 private:
  Status injected(const std::filesystem::path& path) {
    std::string key = path.lexically_normal().string();
    ++attempts_[key];
    if (auto it = faults_.find(key); it != faults_.end() && it->second.times != 0) {
      if (it->second.times > 0) --it->second.times;
      return make_errno_error(it->second.err, "writing {}: {}", key, std::strerror(it->second.err));
    }
    return {};
  }

  struct Fault {
    int err;
    int times;
  };
  std::map<std::string, Fault> faults_;
  std::map<std::string, int> attempts_;
};

}  // namespace prefcpu::testing
