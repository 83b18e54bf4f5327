// Which managed cpuset.cpus files someone wrote since the last look: an inotify IN_MODIFY watch
// per file (the VFS reports every write(2), cgroupfs included). A period then re-reads only
// those, instead of reading every file to notice a foreign write.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>

namespace prefcpu {

class CpusWatch {
 public:
  CpusWatch();
  ~CpusWatch();
  CpusWatch(const CpusWatch&) = delete;
  CpusWatch& operator=(const CpusWatch&) = delete;

  // False if the file cannot be watched (no inotify, a filesystem without it): read it always.
  bool add(const std::string& key, const std::filesystem::path& file);
  void remove(const std::string& key);
  bool watching(const std::string& key) const { return by_key_.count(key) != 0; }
  // Keys written since the last call. `everything` is set when the kernel dropped events
  // (IN_Q_OVERFLOW): then every file must be read.
  std::set<std::string> drain(bool& everything);

 private:
  int fd_ = -1;
  std::map<std::string, int> by_key_;
  std::map<int, std::string> by_watch_;
};

}  // namespace prefcpu
