// prefcpud's metrics: the address parser, the families derived from a status object, and the
// daemon's publish hook with a fake listener (no socket) and a textfile through the KernelFs seam.
// The real HTTP endpoint is scraped by tests/ctl/daemon_views_test.sh.
#include "daemon/metrics.h"

#include <gtest/gtest.h>

#include "daemon_fixture.h"
#include "support/forwarding_fs.h"

namespace prefcpu::testing {
namespace {

TEST(MetricsAddressTest, AcceptsIpv4AndPort) {
  auto address = parse_metrics_address("127.0.0.1:9747");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(address->host, "127.0.0.1");
  EXPECT_EQ(address->port, 9747);
  EXPECT_EQ(parse_metrics_address("0.0.0.0:0")->port, 0);
}

TEST(MetricsAddressTest, RefusesMalformedAddressesWithTheReason) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const auto& [text, says] :
       {Case{"", "no port"}, Case{"127.0.0.1", "no port"},
        Case{"localhost:9747", "\"localhost\" is not an IPv4 address"},
        Case{"999.1.1.1:80", "is not an IPv4 address"},
        Case{"[::1]:9747", "is not an IPv4 address"},
        Case{" 127.0.0.1:1", "is not an IPv4 address"},
        Case{"127.0.0.1:", "port \"\" is not a number"}, Case{"127.0.0.1:65536", "port \"65536\""},
        Case{"127.0.0.1:0x10", "port \"0x10\""}, Case{"127.0.0.1:080", "port \"080\""},
        Case{"127.0.0.1:-1", "port \"-1\""}}) {
    auto address = parse_metrics_address(text);
    ASSERT_FALSE(address.ok()) << text;
    EXPECT_NE(address.error().message.find(says), std::string::npos) << address.error().message;
    EXPECT_NE(address.error().message.find("expected IPV4:PORT such as 127.0.0.1:9747"),
              std::string::npos);
  }
}

nlohmann::json sample_status() {
  return nlohmann::json::parse(R"({
    "mode": "enforce", "backend": "cgroupfs", "governor": "kernel",
    "preferred": "0-2", "online": "0-3", "steal_bp": 630,
    "counters": {"periods": 9, "shrinks": 2, "grows": 1, "holds": 5, "skips": 0, "manual": 1,
                 "mask_changes": 3, "sample_errors": 4, "apply_errors": 6},
    "actuators": {"irqs": {"irqs_pinned": 1, "irqs_pending_retry": 2, "irqs_unmanaged": 1,
                           "interrupts_non_preferred": 12}}
  })");
}

TEST(MetricsFromStatusTest, NamesAndValuesFollowTheStatus) {
  std::string text = format_metrics(metrics_from_status(sample_status()));
  for (const char* line :
       {"# TYPE prefcpu_steal_ratio gauge\nprefcpu_steal_ratio 0.063\n",
        "prefcpu_preferred_cpus 3\n", "prefcpu_online_cpus 4\n",
        "# TYPE prefcpu_decisions_total counter\n",
        "prefcpu_decisions_total{action=\"shrink\"} 2\n",
        "prefcpu_decisions_total{action=\"grow\"} 1\n",
        "prefcpu_decisions_total{action=\"hold\"} 5\n",
        "prefcpu_decisions_total{action=\"manual\"} 1\n", "prefcpu_periods_total 9\n",
        "prefcpu_mask_changes_total 3\n", "prefcpu_sample_errors_total 4\n",
        "prefcpu_apply_errors_total 6\n", "prefcpu_irqs_on_non_preferred 4\n",
        "prefcpu_interrupts_non_preferred 12\n",
        R"(prefcpu_info{backend="cgroupfs",governor="kernel",mode="enforce"} 1)"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing " << line << " in\n" << text;
  }
}

TEST(MetricsFromStatusTest, NoIrqIsOnANonPreferredCpuWhileAllArePreferred) {
  auto status = sample_status();
  status["preferred"] = "0-3";
  std::string text = format_metrics(metrics_from_status(status));
  EXPECT_NE(text.find("prefcpu_irqs_on_non_preferred 0\n"), std::string::npos) << text;
}

TEST(MetricsFromStatusTest, MissingOrOddFieldsLeaveTheirMetricOut) {
  auto status = sample_status();
  status["steal_bp"] = nullptr;  // the baseline period has no ratio yet
  status.erase("actuators");     // IRQs not steered
  status["counters"] = "garbage";
  status["preferred"] = "0-x";
  std::string text = format_metrics(metrics_from_status(status));
  EXPECT_EQ(text.find("prefcpu_steal_ratio"), std::string::npos) << text;
  EXPECT_EQ(text.find("prefcpu_irqs_on_non_preferred"), std::string::npos) << text;
  EXPECT_EQ(text.find("prefcpu_decisions_total"), std::string::npos) << text;
  EXPECT_EQ(text.find("prefcpu_preferred_cpus"), std::string::npos) << text;
  EXPECT_NE(text.find("prefcpu_online_cpus 4"), std::string::npos) << text;
  for (const auto& odd : {nlohmann::json(), nlohmann::json(3), nlohmann::json::array()}) {
    std::string info = format_metrics(metrics_from_status(odd));
    EXPECT_NE(info.find("prefcpu_info{backend=\"none\",governor=\"none\",mode=\"none\"} 1"),
              std::string::npos)
        << info;
  }
}

// Records the address it was asked for and keeps the snapshot the scrapes would read.
struct FakeListen {
  std::optional<MetricsAddress> address;
  std::shared_ptr<MetricsSnapshot> snapshot;
  std::optional<std::string> refuse;

  MetricsListen factory() {
    return
        [this](const MetricsAddress& at,
               std::shared_ptr<MetricsSnapshot> snap) -> Result<std::unique_ptr<MetricsListener>> {
          if (refuse) return make_error("{}", *refuse);
          address = at;
          snapshot = std::move(snap);
          struct Listener final : MetricsListener {
            std::uint16_t port() const override { return 4242; }
          };
          return std::unique_ptr<MetricsListener>(std::make_unique<Listener>());
        };
  }
  std::string scrape() const { return format_metrics(snapshot->Collect()); }
};

// Counts textfile replacements and fails them on request.
class ReplaceCountingFs final : public ForwardingKernelFs {
 public:
  using ForwardingKernelFs::ForwardingKernelFs;
  Status replace_file(const std::filesystem::path& path, std::string_view content,
                      bool durable) override {
    // status.json and preferred go through the same writer; only the textfile counts here.
    if (path.extension() != ".prom")
      return ForwardingKernelFs::replace_file(path, content, durable);
    ++replaces;
    if (fail) return make_errno_error(ENOSPC, "writing {}: No space left on device", path.string());
    return ForwardingKernelFs::replace_file(path, content, durable);
  }
  int replaces = 0;
  bool fail = false;
};

class DaemonMetricsTest : public DaemonTest {
 protected:
  std::unique_ptr<Daemon> start_with(KernelFs& fs) {
    DaemonDeps deps{fs, clock, log, [this]() -> Result<Config> { return next_config; }};
    deps.user_hz = 100;
    deps.listen_metrics = listen.factory();
    auto d = std::make_unique<Daemon>(std::move(deps), paths(), config);
    auto status = d->start();
    EXPECT_TRUE(status.ok()) << (status.ok() ? "" : status.error().message);
    return d;
  }
  FakeListen listen;
};

TEST_F(DaemonMetricsTest, ScrapesSeeTheDaemonsOwnStatusAfterEachChange) {
  fake.make_cgroup("work", "0-3");
  config.metrics_listen = "127.0.0.1:9747";
  auto d = start_with(fake);
  ASSERT_TRUE(listen.address.has_value());
  EXPECT_EQ(listen.address->text(), "127.0.0.1:9747");
  EXPECT_TRUE(logged("metrics: serving http://127.0.0.1:4242/metrics"));
  EXPECT_NE(listen.scrape().find("prefcpu_preferred_cpus 4\n"), std::string::npos);
  period(*d, 0.5);
  period(*d, 0.5);
  std::string text = listen.scrape();
  EXPECT_NE(text.find("prefcpu_preferred_cpus 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("prefcpu_steal_ratio 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("prefcpu_decisions_total{action=\"shrink\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("prefcpu_mask_changes_total 2\n"), std::string::npos);
  EXPECT_NE(text.find("mode=\"enforce\""), std::string::npos);
  // Derived, not counted twice: the scrape says what status says.
  auto counters = d->status()["counters"];
  EXPECT_NE(text.find(fmt::format("prefcpu_periods_total {}\n", counters["periods"].get<int>())),
            std::string::npos);
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonMetricsTest, AListenerThatCannotBindStopsTheStartAndChangesNothing) {
  fake.make_cgroup("work", "0-3");
  config.metrics_listen = "127.0.0.1:9747";
  listen.refuse = "metrics_listen 127.0.0.1:9747: cannot bind: Address already in use";
  DaemonDeps deps{fake, clock, log, [this]() -> Result<Config> { return next_config; }};
  deps.listen_metrics = listen.factory();
  Daemon d(std::move(deps), paths(), config);
  auto status = d.start();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("Address already in use"), std::string::npos);
  EXPECT_TRUE(fake.writes().empty());
  EXPECT_FALSE(tree.exists("state/status.json"));
}

TEST_F(DaemonMetricsTest, NoListenerAndNoTextfileUnlessConfigured) {
  ReplaceCountingFs fs(fake);
  auto d = start_with(fs);
  period(*d, 0.5);
  EXPECT_FALSE(listen.address.has_value());
  EXPECT_FALSE(d->metrics().enabled());
  EXPECT_EQ(fs.replaces, 0);
}

TEST_F(DaemonMetricsTest, TheTextfileFollowsMaskChangesAndOtherwiseEveryTenSeconds) {
  fake.make_cgroup("work", "0-3");
  config.metrics_textfile = tree.dir("textfile").string() + "/prefcpu.prom";
  ReplaceCountingFs fs(fake);
  auto d = start_with(fs);
  EXPECT_EQ(fs.replaces, 1);
  EXPECT_NE(tree.read("textfile/prefcpu.prom").find("prefcpu_preferred_cpus 4\n"),
            std::string::npos);
  period(*d, 0.5);  // a shrink: written at once
  EXPECT_EQ(fs.replaces, 2);
  EXPECT_NE(tree.read("textfile/prefcpu.prom").find("prefcpu_preferred_cpus 3\n"),
            std::string::npos);
  for (int i = 0; i < 8; ++i) period(*d, 0.03);  // holds: 8 s, nothing written
  EXPECT_EQ(fs.replaces, 2);
  period(*d, 0.03);
  period(*d, 0.03);  // 10 s since the last write
  EXPECT_EQ(fs.replaces, 3);
  EXPECT_NE(tree.read("textfile/prefcpu.prom").find("prefcpu_decisions_total{action=\"hold\"} 10"),
            std::string::npos);
  ASSERT_TRUE(d->stop().ok());
}

TEST_F(DaemonMetricsTest, AFailingTextfileIsLoggedOnceAndRetried) {
  config.metrics_textfile = tree.path("textfile.prom").string();
  ReplaceCountingFs fs(fake);
  fs.fail = true;
  auto d = start_with(fs);
  for (int i = 0; i < 25; ++i) period(*d, 0.03);
  EXPECT_EQ(fs.replaces, 3) << "at start, then every 10 s";
  int lines = 0;
  for (const auto& line : log.captured())
    lines += line.find("metrics_textfile") != std::string::npos;
  EXPECT_EQ(lines, 1);
  fs.fail = false;
  for (int i = 0; i < 10; ++i) period(*d, 0.03);
  EXPECT_TRUE(logged("metrics_textfile: " + config.metrics_textfile + " written again"));
  EXPECT_TRUE(tree.exists("textfile.prom"));
}

}  // namespace
}  // namespace prefcpu::testing
