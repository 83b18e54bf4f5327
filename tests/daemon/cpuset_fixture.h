// What the cpuset actuator's tests share: a fake cgroupfs of one version, a journal beside it,
// and the actuator's notices as the daemon would log them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fake_cgroupfs.h"
#include "linux/cgroup/cpuset_actuator.h"
#include "linux/journal.h"
#include "support/cpus.h"
#include "support/fixture_tree.h"

namespace prefcpu::testing {

class CpusetFixture {
 public:
  explicit CpusetFixture(CgroupVersion version) : fake(tree, version) {}

  // The actuator on fs, which is the fake itself or a wrapper around it.
  std::unique_ptr<CpusetActuator> make(KernelFs& fs, std::vector<std::string> cgroups = {},
                                       bool shield = false) {
    CpusetOptions options;
    options.hierarchy = fake.hierarchy();
    options.cgroups = std::move(cgroups);
    options.shield = shield;
    options.proc_root = fake.proc_root();
    options.notice = [this](NoticeLevel level, const std::string& text) {
      notices.push_back((level == NoticeLevel::kWarning ? "warning: " : "") + text);
    };
    auto actuator = CpusetActuator::create(fs, journal, std::move(options));
    EXPECT_TRUE(actuator.ok()) << (actuator.ok() ? "" : actuator.error().message);
    return actuator.ok() ? std::move(*actuator) : nullptr;
  }
  CpusetOptions recovery_options() const {
    CpusetOptions options;
    options.proc_root = fake.proc_root();
    return options;
  }
  std::unique_ptr<CpusetActuator> make(std::vector<std::string> cgroups = {}, bool shield = false) {
    return make(fake, std::move(cgroups), shield);
  }

  FixtureTree tree;
  FakeCgroupFs fake;
  Journal journal{testing::real_fs(), tree.path("journal.json")};
  std::vector<std::string> notices;
  const CpuSet online = cpus("0-3");
};

}  // namespace prefcpu::testing
