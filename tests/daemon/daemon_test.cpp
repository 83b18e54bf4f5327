// prefcpud's loop body and lifecycle on fixture trees, one FakeClock period at a time.
#include "daemon/daemon.h"

#include <gtest/gtest.h>

#include "daemon/loop.h"
#include "daemon_fixture.h"
#include "support/cpus.h"

namespace prefcpu::testing {
namespace {

TEST_F(DaemonTest, FollowsStealDownAndBackUpAndPublishesIt) {
  fake.make_cgroup("work", "0-3");
  auto d = start();
  EXPECT_EQ(tree.read("state/preferred"), "0-3\n");
  period(*d, 0.5);  // steal_bp 5000 > 500: one core leaves
  EXPECT_EQ(tree.read("state/preferred"), "0-2\n");
  EXPECT_EQ(fake.cpus("work"), "0-2");
  auto status = status_file();
  EXPECT_EQ(status["mode"], "enforce");
  EXPECT_EQ(status["steal_bp"], 5000);
  EXPECT_EQ(status["last_action"], "shrink");
  EXPECT_EQ(status["actuators"]["cpusets"]["cgroups"]["work"]["original"], "0-3");
  period(*d, 0.5);
  period(*d, 0.5);
  period(*d, 0.5);  // the protected core stays
  EXPECT_EQ(tree.read("state/preferred"), "0\n");
  EXPECT_EQ(fake.cpus("work"), "0");
  period(*d, 0.0);  // steal_bp 0 <= 200: one core comes back
  EXPECT_EQ(fake.cpus("work"), "0-1");
  period(*d, 0.03);  // 300: between the thresholds, hold
  EXPECT_EQ(fake.cpus("work"), "0-1");
  EXPECT_EQ(status_file()["last_action"], "hold");
  EXPECT_TRUE(logged("shrink: steal_bp 5000 > high_threshold 500; preferred 0-3 -> 0-2"));
  EXPECT_TRUE(tree.exists("state/journal.json"));

  ASSERT_TRUE(d->stop().ok());
  EXPECT_EQ(fake.cpus("work"), "0-3");
  EXPECT_FALSE(tree.exists("state/journal.json")) << "a clean exit deletes the journal";
  EXPECT_EQ(status_file()["state"], "stopped");
  EXPECT_EQ(tree.read("state/preferred"), "0-3\n");
}

TEST_F(DaemonTest, DryRunDecidesAndPublishesButWritesNothing) {
  fake.make_cgroup("work", "0-3");
  config.dry_run = true;
  auto d = start();
  period(*d, 0.5);
  period(*d, 0.5);
  EXPECT_EQ(tree.read("state/preferred"), "0-1\n");
  EXPECT_EQ(status_file()["mode"], "dry-run");
  EXPECT_TRUE(fake.writes().empty());
  EXPECT_EQ(fake.cpus("work"), "0-3");
  EXPECT_FALSE(tree.exists("state/journal.json"));
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, MirrorModePublishesTheKernelsMaskAndWritesNoCpusets) {
  fake.make_cgroup("work", "0-3");
  tree.file("sys/devices/system/cpu/preferred", "0-1\n");
  config.irq_mode = IrqMode::kBuiltin;
  auto d = start();
  EXPECT_EQ(d->mode(), DaemonMode::kMirror);
  period(*d, 0.0);
  EXPECT_EQ(tree.read("state/preferred"), "0-1\n");
  tree.file("sys/devices/system/cpu/preferred", "0\n");
  period(*d, 0.0);
  EXPECT_EQ(tree.read("state/preferred"), "0\n");
  EXPECT_EQ(status_file()["mode"], "mirror");
  EXPECT_TRUE(fake.writes().empty()) << "the kernel does the scheduling; no cpuset is touched";
  EXPECT_EQ(irq_calls.last_preferred, cpus("0")) << "IRQs still follow the kernel's mask";
  auto refused = ask(*d, {{"cmd", "set-preferred"}, {"cpus", "1"}});
  EXPECT_EQ(refused["code"], "unavailable");
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, BareMetalKeepsTheMaskFull) {
  fake.make_cgroup("work", "0-3");
  tree.file("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme\n");
  auto d = start();
  period(*d, 0.5);
  period(*d, 0.5);
  EXPECT_EQ(d->mode(), DaemonMode::kIdle);
  EXPECT_EQ(tree.read("state/preferred"), "0-3\n");
  EXPECT_TRUE(fake.writes().empty());
  EXPECT_TRUE(logged("no hypervisor flag in /proc/cpuinfo"));
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, RestoresFromACrashJournalBeforeAnythingElse) {
  fake.make_cgroup("work", "0-1");
  fake.make_cgroup("other", "0-3");
  fake.make_cgroup("prefcpu-pinned", "0-3");
  fake.add_task(200, {"prefcpu-pinned", cpus("3")});
  nlohmann::json journal = {
      {"version", 1},
      {"cpusets",
       {{"root", fake.cgroup_root().string()},
        {"cgroup_version", 1},
        {"originals", {{"work", "0-3"}}},
        {"created", {"prefcpu-pinned"}},
        {"pinned", {{{"tid", 200}, {"start_time", 1200}, {"origin", "work"}}}}}}};
  tree.file("state/journal.json", journal.dump());
  fake.clear_writes();
  config.cgroups = {"other"};
  auto d = start();
  EXPECT_EQ(fake.cpus("work"), "0-3");
  EXPECT_EQ(fake.cgroup_of(200), "work");
  EXPECT_EQ(fake.allowed(200), cpus("3"));
  EXPECT_FALSE(fake.cgroup_exists("prefcpu-pinned"));
  EXPECT_TRUE(logged("unclean exit"));
  for (const auto& write : fake.writes()) EXPECT_NE(write.path, "other/cpuset.cpus");
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, AnUnreadableJournalStopsTheStartAndChangesNothing) {
  fake.make_cgroup("work", "0-3");
  tree.file("state/journal.json", "{ not json");
  auto d = make(fake);
  auto status = d->start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("journal.json is not a JSON object"), std::string::npos);
  EXPECT_TRUE(fake.writes().empty());
  EXPECT_TRUE(tree.exists("state/journal.json"));
}

TEST_F(DaemonTest, DryRunRefusesToStartOverACrashJournal) {
  tree.file("state/journal.json", R"({"version": 1, "cpusets": {"root": "/x"}})");
  config.dry_run = true;
  auto d = make(fake);
  auto status = d->start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("without --dry-run"), std::string::npos);
}

TEST_F(DaemonTest, ReloadRefusesAnInvalidConfigAndKeepsTheRunningOne) {
  auto d = start();
  next_config = make_error("prefcpud.toml:3: interval_ms = 5 is out of range");
  ASSERT_FALSE(d->reload().ok());
  EXPECT_TRUE(logged("reload refused, keeping the running config"));
  EXPECT_EQ(d->monitor().knobs().interval_ms, 1000U);

  Config next = config;
  next.knobs.interval_ms = 2000;
  next.governor = "ewma";
  next.cgroups = {"elsewhere"};
  next_config = next;
  ASSERT_TRUE(d->reload().ok());
  EXPECT_EQ(d->monitor().knobs().interval_ms, 2000U);
  EXPECT_EQ(d->monitor().governor().name(), "ewma");
  EXPECT_TRUE(logged("cgroups changes only at restart"));
  EXPECT_TRUE(d->config().cgroups.empty());
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, KnobsAreValidatedOverTheControlProtocol) {
  auto d = start();
  auto low = ask(*d, {{"cmd", "set"}, {"knob", "interval_ms"}, {"value", "50"}});
  EXPECT_EQ(low["code"], "invalid");
  EXPECT_NE(low["error"].get<std::string>().find("expected 100..100000"), std::string::npos);
  auto order = ask(*d, {{"cmd", "set"}, {"knob", "low_threshold"}, {"value", "600"}});
  EXPECT_EQ(order["code"], "invalid");
  auto governor = ask(*d, {{"cmd", "set"}, {"knob", "governor"}, {"value", "fastest"}});
  EXPECT_NE(governor["error"].get<std::string>().find("unknown governor"), std::string::npos);
  auto unknown = ask(*d, {{"cmd", "set"}, {"knob", "period"}, {"value", "5"}});
  EXPECT_NE(unknown["error"].get<std::string>().find("expected interval_ms"), std::string::npos);
  EXPECT_EQ(d->monitor().knobs(), Knobs{});

  auto ok = ask(*d, {{"cmd", "set"}, {"knob", "interval_ms"}, {"value", "250"}});
  EXPECT_TRUE(ok["ok"]);
  EXPECT_EQ(ok["knobs"]["interval_ms"], 250);
  EXPECT_TRUE(ask(*d, {{"cmd", "set"}, {"knob", "governor"}, {"value", "kernel-v2"}})["ok"]);
  EXPECT_EQ(status_file()["governor"], "kernel-v2");
  EXPECT_EQ(status_file()["knobs"]["interval_ms"], 250);

  // numa is set by name at run time, and a bad word changes nothing.
  EXPECT_EQ(status_file()["knobs"]["numa"], "off");
  auto numa = ask(*d, {{"cmd", "set"}, {"knob", "numa"}, {"value", "sideways"}});
  EXPECT_EQ(numa["kind"], "invalid-value");
  EXPECT_EQ(numa["error"], "numa \"sideways\" is not a NUMA mode: expected off, balance or pack");
  EXPECT_EQ(d->monitor().knobs().numa, NumaMode::kOff);
  auto pack = ask(*d, {{"cmd", "set"}, {"knob", "numa"}, {"value", "pack"}});
  EXPECT_TRUE(pack["ok"]);
  EXPECT_EQ(pack["knobs"]["numa"], "pack");
  EXPECT_EQ(d->monitor().knobs().numa, NumaMode::kPack);
  EXPECT_EQ(status_file()["knobs"]["numa"], "pack");
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, SetPreferredValidatesAndSwitchesTheMonitorOff) {
  fake.make_cgroup("work", "0-3");
  auto d = start();
  for (const char* bad : {"0-9", "x", ""}) {
    auto reply = ask(*d, {{"cmd", "set-preferred"}, {"cpus", bad}});
    EXPECT_EQ(reply["code"], "invalid") << bad;
  }
  EXPECT_NE(ask(*d, {{"cmd", "set-preferred"}, {"cpus", "0-9"}})["error"].get<std::string>().find(
                "expected a subset of online \"0-3\""),
            std::string::npos);
  auto custom = ask(*d, {{"cmd", "set-preferred"}, {"cpus", "1-2"}});
  ASSERT_TRUE(custom["ok"]) << custom.dump();
  EXPECT_EQ(fake.cpus("work"), "1-2") << "applied at once";
  period(*d, 0.5);
  EXPECT_EQ(fake.cpus("work"), "1-2") << "the monitor is off";
  EXPECT_EQ(status_file()["automatic"], false);
  EXPECT_EQ(status_file()["custom_preferred"], "1-2");
  auto back = ask(*d, {{"cmd", "set-preferred"}, {"auto", true}});
  ASSERT_TRUE(back["ok"]);
  EXPECT_EQ(fake.cpus("work"), "0-3");
  period(*d, 0.5);
  EXPECT_EQ(fake.cpus("work"), "0-2") << "the monitor decides again";
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, AnyoneMayReadButOnlyRootMayChange) {
  auto d = start();
  EXPECT_TRUE(ask(*d, {{"cmd", "status"}}, 65534)["ok"]);
  EXPECT_TRUE(ask(*d, {{"cmd", "history"}}, 65534)["ok"]);
  auto set = ask(*d, {{"cmd", "set"}, {"knob", "interval_ms"}, {"value", "500"}}, 65534);
  EXPECT_EQ(set["code"], "denied");
  EXPECT_EQ(ask(*d, {{"cmd", "set-preferred"}, {"auto", true}}, 1000)["code"], "denied");
  EXPECT_EQ(d->monitor().knobs().interval_ms, 1000U);
  EXPECT_EQ(ask(*d, {{"cmd", "reboot"}})["code"], "invalid");
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, HistoryKeepsTheNewestEntries) {
  config.history_size = 3;
  auto d = start();
  for (int i = 0; i < 5; ++i) {
    user_ticks += 150;  // 1.5 CPUs busy over the 1 s period, at USER_HZ 100
    period(*d, 0.5);
  }
  auto reply = ask(*d, {{"cmd", "history"}});
  ASSERT_EQ(reply["history"].size(), 3U);
  EXPECT_EQ(reply["history"][2]["action"], "shrink");
  EXPECT_EQ(reply["history"][2]["steal_bp"], 5000);
  EXPECT_EQ(reply["history"][2]["busy_cpu_bp"], 15000);
  EXPECT_EQ(ask(*d, {{"cmd", "history"}, {"count", 1}})["history"].size(), 1U);
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, ASampleErrorKeepsTheMaskAndIsRetried) {
  fake.make_cgroup("work", "0-3");
  auto d = start();
  period(*d, 0.5);
  std::filesystem::remove(tree.path("proc/stat"));
  clock.advance(1'000'000'000);
  d->run_period();
  EXPECT_EQ(fake.cpus("work"), "0-2");
  EXPECT_EQ(status_file()["counters"]["sample_errors"], 1);
  period(*d, 0.5);
  EXPECT_EQ(fake.cpus("work"), "0-1");
  EXPECT_TRUE(logged("works again"));
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, TheIrqActuatorIsWiredIn) {
  config.irq_mode = IrqMode::kBuiltin;
  tree.file("state/journal.json", R"({"version": 1, "irqs": {"irq": {"24": "0-3"}}})");
  auto d = start();
  EXPECT_EQ(irq_calls.recovered["irq"]["24"], "0-3") << "recover() got its journal section";
  period(*d, 0.5);
  EXPECT_EQ(irq_calls.last_preferred, cpus("0-2"));
  EXPECT_EQ(status_file()["actuators"]["irqs"]["applies"], irq_calls.applies);
  ASSERT_TRUE(d->stop().ok());
  EXPECT_EQ(irq_calls.restores, 1);
}

TEST_F(DaemonTest, HotplugFollowsTheCoreRule) {
  fake.make_cgroup("work", "0-3");
  auto d = start();
  period(*d, 0.5);
  EXPECT_EQ(fake.cpus("work"), "0-2");
  // CPU 1 goes offline: it leaves preferred, and v1 drops it from every cpuset by itself.
  fake.offline_cpu_v1(1);
  tree.file("sys/devices/system/cpu/online", "0,2-3\n");
  steal_ticks += 9;  // 300 bp on 3 CPUs: between the thresholds, so the governor holds
  tree.file("proc/stat", "cpu  10 0 10 100 0 0 0 " + std::to_string(steal_ticks) +
                             " 0 0\ncpu0 1 0 1 1 0 0 0 0 0 0\ncpu2 1 0 1 1 0 0 0 0 0 0\n"
                             "cpu3 1 0 1 1 0 0 0 0 0 0\n");
  clock.advance(1'000'000'000);
  d->run_period();
  EXPECT_EQ(tree.read("state/preferred"), "0,2\n");
  EXPECT_EQ(fake.cpus("work"), "0,2");
  EXPECT_EQ(status_file()["actuators"]["cpusets"]["adopted"], 0)
      << "hotplug is not a foreign write";
  // It comes back: a new online CPU is preferred at once, and v1's lost CPU is written back.
  fake.online_cpu_v1(1);
  tree.file("sys/devices/system/cpu/online", "0-3\n");
  period(*d, 0.03);
  EXPECT_EQ(tree.read("state/preferred"), "0-2\n");
  EXPECT_EQ(fake.cpus("work"), "0-2") << "v1 does not give CPU 1 back; prefcpud does";
  EXPECT_EQ(status_file()["counters"]["apply_errors"], 0);
  ASSERT_TRUE(d->stop().ok());
  EXPECT_EQ(fake.cpus("work"), "0-3") << "the original, which hotplug did not change";
}

TEST_F(DaemonTest, IrqModeOffCreatesNoIrqActuator) {
  auto d = start();
  period(*d, 0.5);
  EXPECT_EQ(irq_calls.created, 0);
  EXPECT_FALSE(status_file()["actuators"].contains("irqs"));
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, TheEventLoopRunsAPeriodWhenOneIsDue) {
  auto d = start();
  Notifier notifier;
  EventLoop loop(*d, clock, notifier, nullptr);
  loop.step(0);
  EXPECT_EQ(status_file()["counters"]["periods"], 1) << "not due yet";
  clock.advance(1'000'000'000);
  loop.step(0);
  EXPECT_EQ(status_file()["counters"]["periods"], 2);
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonTest, ALatePeriodNeverShortensTheNextWindow) {
  auto d = start();
  const std::int64_t interval = 1'000'000'000;
  EXPECT_EQ(d->next_period_ns(), clock.monotonic_ns() + interval);
  // The period runs 950 ms late (a stalled machine). A fixed-rate schedule would sample again
  // 50 ms later and read one 10 ms steal tick as 500 bp; the kernel requeues a full interval.
  clock.advance(interval + 950'000'000);
  d->run_period();
  EXPECT_EQ(d->next_period_ns(), clock.monotonic_ns() + interval);
  ASSERT_TRUE(d->stop().ok());
}

}  // namespace
}  // namespace prefcpu::testing
