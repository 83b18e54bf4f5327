// Issue 12's bad input, tried against a whole prefcpud on fixture trees: each case failed (or
// crashed) before its fix.
#include <gtest/gtest.h>

#include "daemon_fixture.h"
#include "protocol/json_text.h"

namespace prefcpu::testing {
namespace {

// --proc-stat naming a missing file, a directory or "" started anyway and published an EMPTY
// preferred mask.
TEST_F(DaemonTest, AProcStatThatCannotBeReadIsRefusedAtStart) {
  fake.make_cgroup("work", "0-3");
  tree.dir("a-directory");
  for (const std::string& proc_stat :
       {tree.path("missing").string(), tree.path("a-directory").string(), std::string()}) {
    DaemonDeps deps{fake, clock, log, {}};
    deps.user_hz = 100;
    DaemonPaths bad = paths();
    bad.proc_stat = proc_stat;
    Daemon d(std::move(deps), bad, config);
    auto status = d.start();
    ASSERT_FALSE(status.ok()) << proc_stat;
    EXPECT_NE(status.error().message.find("(--proc-stat)"), std::string::npos)
        << status.error().message;
    EXPECT_FALSE(tree.exists("state/preferred")) << "nothing is published";
    EXPECT_TRUE(fake.writes().empty());
  }
  tree.file("garbage", "not a stat file\n");
  DaemonDeps deps{fake, clock, log, {}};
  DaemonPaths garbage = paths();
  garbage.proc_stat = tree.path("garbage");
  Daemon d(std::move(deps), garbage, config);
  EXPECT_FALSE(d.start().ok());
}

// A cgroup whose name is not UTF-8, created with mkdir under a managed cgroup, killed prefcpud
// with json type_error 316 (the journal and status.json are JSON).
TEST_F(DaemonTest, ACgroupNameThatIsNotUtf8IsSkippedAndNeverCrashes) {
  fake.make_cgroup("work", "0-3");
  fake.make_cgroup("work/ok", "0-3");
  fake.make_cgroup("work/bad\xff", "0-3");
  auto d = start();
  ASSERT_NE(d, nullptr);
  EXPECT_NO_THROW(period(*d, 0.5));
  EXPECT_NO_THROW(period(*d, 0.5));
  EXPECT_EQ(fake.cpus("work/ok"), "0-1");
  EXPECT_TRUE(logged("cgroup work/bad\\xff: its name is not valid UTF-8"));
  std::string text;
  EXPECT_NO_THROW(text = json_text(d->status()));
  auto journal = nlohmann::json::parse(tree.read("state/journal.json"), nullptr, false);
  ASSERT_FALSE(journal.is_discarded());
  EXPECT_TRUE(journal["cpusets"]["originals"].contains("work/ok"));
  EXPECT_EQ(journal["cpusets"]["originals"].size(), 2U) << "work and work/ok only";
  ASSERT_TRUE(d->stop().ok());
  EXPECT_EQ(fake.cpus("work/ok"), "0-3");
}

// Two instances with different state dirs shared the top-level prefcpu-pinned and moved each
// other's tasks: the second one on a hierarchy is refused.
TEST_F(DaemonTest, ASecondInstanceOnTheSameHierarchyIsRefused) {
  fake.make_cgroup("work", "0-3");
  fake.make_cgroup("other", "0-3");
  config.cgroups = {"work"};
  auto first = start();
  ASSERT_NE(first, nullptr);
  Config second_config = config;
  second_config.cgroups = {"other"};
  DaemonDeps deps{fake, clock, log, {}};
  deps.user_hz = 100;
  DaemonPaths second_paths = paths();
  second_paths.state_dir = tree.path("state2");
  {
    Daemon second(std::move(deps), second_paths, second_config);
    auto status = second.start();
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.error().message.find("another prefcpud already manages the cpuset hierarchy"),
              std::string::npos)
        << status.error().message;
  }
  ASSERT_TRUE(first->stop().ok());
  first.reset();  // the lock goes with the actuator
  DaemonDeps again{fake, clock, log, {}};
  again.user_hz = 100;
  Daemon third(std::move(again), second_paths, second_config);
  auto status = third.start();
  EXPECT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(third.stop().ok());
}

// Errors are kinds: the daemon no longer classifies by message prefix.
TEST_F(DaemonTest, ControlErrorsAreTypedKinds) {
  fake.make_cgroup("work", "0-3");
  auto d = start();
  EXPECT_EQ(ask(*d, {{"cmd", "set"}, {"knob", "period"}, {"value", "1"}})["kind"], "unknown-knob");
  EXPECT_EQ(ask(*d, {{"cmd", "set"}, {"knob", "interval_ms"}, {"value", "0x64"}})["kind"],
            "invalid-value");
  EXPECT_EQ(ask(*d, {{"cmd", "set-preferred"}, {"cpus", "1-0"}})["kind"], "invalid-value");
  EXPECT_EQ(ask(*d, {{"cmd", "set-preferred"}, {"cpus", ""}})["kind"], "invalid-value");
  EXPECT_EQ(ask(*d, {{"cmd", "set-preferred"}, {"cpus", "4-5"}})["kind"], "invalid-value");
  EXPECT_EQ(ask(*d, {{"cmd", "reboot"}})["kind"], "unknown-command");
  EXPECT_EQ(ask(*d, {{"cmd", "set"}, {"knob", "governor"}, {"value", "x"}}, 1000)["kind"],
            "denied");
  EXPECT_EQ(d->monitor().knobs(), Knobs{});
  ASSERT_TRUE(d->stop().ok());
}

}  // namespace
}  // namespace prefcpu::testing
