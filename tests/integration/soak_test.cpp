// 1000 shrink/grow cycles on a real cgroup with 50 pinned and unpinned tasks: not one pin lost.
// Drives the CpusetActuator directly, so it takes seconds, not 1000 daemon periods.
#include <gtest/gtest.h>
#include <sched.h>

#include <chrono>
#include <map>

#include "host.h"
#include "linux/cgroup/cpuset_actuator.h"

namespace prefcpu::it {
namespace {

bool pin(pid_t pid, const CpuSet& cpus) {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  for (unsigned cpu : cpus) CPU_SET(cpu, &mask);
  return ::sched_setaffinity(pid, sizeof mask, &mask) == 0;
}

TEST(Soak, AThousandShrinkGrowCyclesLoseNoPin) {
  if (auto reason = cannot_run()) GTEST_SKIP() << *reason;
  constexpr int kCycles = 1000;
  constexpr int kTasks = 50;
  CpuSet online = online_cpus();
  unsigned last = *online.last();
  CpuSet shrunk = online - CpuSet{last};
  ScratchCpuset scratch;
  scratch.make("work");

  std::vector<std::unique_ptr<Child>> children;
  std::map<pid_t, std::optional<CpuSet>> pins;  // empty: unpinned
  for (int i = 0; i < kTasks; ++i) {
    children.push_back(std::make_unique<Child>(std::chrono::milliseconds(20)));
    pid_t pid = children.back()->pid();
    scratch.attach(pid, "work");
    std::optional<CpuSet> mask;
    if (i % 10 < 3) mask = CpuSet{0};      // inside preferred
    if (i % 10 >= 7) mask = CpuSet{last};  // only on the CPU that leaves
    if (mask) {
      ASSERT_TRUE(pin(pid, *mask));
    }
    pins[pid] = mask;
  }

  // The journal on tmpfs, as /run usually is: this test is about pins, not disk latency.
  RealKernelFs fs;
  Journal journal(fs, std::filesystem::path("/dev/shm") /
                          ("prefcpu-soak-" + std::to_string(::getpid()) + ".json"));
  CpusetOptions options;
  options.hierarchy = {CgroupVersion::kV1, scratch.root()};
  options.cgroups = {"work"};
  int warnings = 0;
  options.notice = [&](NoticeLevel level, const std::string&) {
    warnings += level == NoticeLevel::kWarning ? 1 : 0;
  };
  auto actuator = CpusetActuator::create(fs, journal, options);
  ASSERT_TRUE(actuator.ok()) << actuator.error().message;

  auto start = std::chrono::steady_clock::now();
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    auto shrink = (*actuator)->apply(shrunk, online);
    ASSERT_TRUE(shrink.ok()) << "cycle " << cycle << ": " << shrink.error().message;
    for (const auto& child : children) {
      const auto& mask = pins[child->pid()];
      CpuSet expected = !mask ? shrunk : (*mask & shrunk).empty() ? *mask : *mask & shrunk;
      ASSERT_EQ(child->allowed(), expected) << "cycle " << cycle << " shrunk, pid " << child->pid();
    }
    auto grow = (*actuator)->apply(online, online);
    ASSERT_TRUE(grow.ok()) << "cycle " << cycle << ": " << grow.error().message;
    for (const auto& child : children) {
      const auto& mask = pins[child->pid()];
      ASSERT_EQ(child->allowed(), mask ? *mask : online)
          << "cycle " << cycle << " grown, pid " << child->pid();
      ASSERT_EQ(scratch.cgroup_of(child->pid()), "work") << "cycle " << cycle;
    }
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::testing::Test::RecordProperty("cycles_per_second", std::to_string(kCycles / seconds));

  ASSERT_TRUE((*actuator)->restore().ok());
  EXPECT_EQ(scratch.cpus("work"), format_cpulist(online));
  EXPECT_FALSE(scratch.exists("prefcpu-pinned"));
  for (const auto& child : children) {
    const auto& mask = pins[child->pid()];
    EXPECT_EQ(child->allowed(), mask ? *mask : online) << "after restore, pid " << child->pid();
  }
  EXPECT_EQ(warnings, 0);
  auto status = (*actuator)->status();
  EXPECT_EQ(status["pinned_moved"], kCycles * 15);
  EXPECT_EQ(status["pinned_returned"], kCycles * 15);
  (void)journal.remove();
}

}  // namespace
}  // namespace prefcpu::it
