// A KernelFs that hands every call to another one: the base of the test and benchmark wrappers
// that watch or break a few calls and let the rest through.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "linux/kernel_fs.h"

namespace prefcpu::testing {

class ForwardingKernelFs : public KernelFs {
 public:
  explicit ForwardingKernelFs(KernelFs& inner) : inner_(inner) {}

  Result<std::string> read(const std::filesystem::path& path) const override {
    return inner_.read(path);
  }
  Result<std::string> reread(const std::filesystem::path& path) override {
    return inner_.reread(path);
  }
  Status write(const std::filesystem::path& path, std::string_view value) override {
    return inner_.write(path, value);
  }
  Status replace(const std::filesystem::path& path, std::string_view content) override {
    return inner_.replace(path, content);
  }
  Result<std::vector<std::string>> list(const std::filesystem::path& dir) const override {
    return inner_.list(dir);
  }
  bool exists(const std::filesystem::path& path) const override { return inner_.exists(path); }
  bool is_directory(const std::filesystem::path& path) const override {
    return inner_.is_directory(path);
  }
  Status make_directory(const std::filesystem::path& path) override {
    return inner_.make_directory(path);
  }
  Status remove_directory(const std::filesystem::path& path) override {
    return inner_.remove_directory(path);
  }

 protected:
  KernelFs& inner() const { return inner_; }

 private:
  KernelFs& inner_;
};

}  // namespace prefcpu::testing
