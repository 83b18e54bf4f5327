// The seam through which prefcpud hears that something it steers changed between reconciliations
// (irqbalance's socket appearing or going), without looking every period. The event loop polls
// fd() with its other descriptors, so a quiet system costs nothing.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

namespace prefcpu {

class ChangeWatcher {
 public:
  virtual ~ChangeWatcher() = default;
  // Readable when something changed; -1 when nothing is watched.
  virtual int fd() const = 0;
  // Consumes the pending events; true if there were any.
  virtual bool drain() = 0;
};

// inotify on each directory for entries created, deleted or renamed. A directory that does not
// exist is not watched: the slow reconciliation notices what happens there.
std::unique_ptr<ChangeWatcher> watch_directories(const std::vector<std::filesystem::path>& dirs);

}  // namespace prefcpu
