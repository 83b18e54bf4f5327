#include "ctl/replay.h"

#include <gtest/gtest.h>

#include <sstream>

namespace prefcpu {
namespace {

// One record of a 4-CPU guest at `t_s` seconds with cumulative steal `steal` ticks.
std::string record(int t_s, int steal, const char* cpus = "0123") {
  std::string text = "@ " + std::to_string(static_cast<long long>(t_s) * 1'000'000'000) + "\n";
  text += "cpu 100 0 100 1000 0 0 0 " + std::to_string(steal) + " 0 0\n";
  for (const char* c = cpus; *c != '\0'; ++c)
    text += std::string("cpu") + *c + " 1 0 1 10 0 0 0 0 0 0\n";
  return text;
}

std::string replay(const std::string& text, const char* topo_spec, ReplayOptions options = {}) {
  std::istringstream in(text);
  auto trace = read_trace(in);
  EXPECT_TRUE(trace) << trace.error().message;
  auto topo = parse_topology_spec(topo_spec);
  EXPECT_TRUE(topo);
  options.user_hz = options.user_hz == 0 ? 100 : options.user_hz;
  std::ostringstream out;
  auto status = replay_trace(*trace, *topo, options, out);
  EXPECT_TRUE(status) << status.error().message;
  return out.str();
}

TEST(Replay, OneJsonLinePerRecord) {
  // 4 CPUs: 20 ticks/s of steal = 200 ms over 4 s of CPU time = 500 bp, 40 ticks = 1000 bp.
  std::string trace = record(0, 0) + record(1, 40) + record(2, 80) + record(3, 100) +
                      record(4, 100) + record(4, 100);
  EXPECT_EQ(replay(trace, "cores=2,smt=2"),
            "{\"t_ns\":0,\"action\":\"baseline\",\"preferred\":\"0-3\"}\n"
            "{\"t_ns\":1000000000,\"action\":\"shrink\",\"steal_bp\":1000,\"preferred\":\"0-1\"}\n"
            "{\"t_ns\":2000000000,\"action\":\"shrink\",\"steal_bp\":1000,\"preferred\":\"0-1\"}\n"
            "{\"t_ns\":3000000000,\"action\":\"hold\",\"steal_bp\":500,\"preferred\":\"0-1\"}\n"
            "{\"t_ns\":4000000000,\"action\":\"grow\",\"steal_bp\":0,\"preferred\":\"0-3\"}\n"
            "{\"t_ns\":4000000000,\"action\":\"skip\",\"steal_bp\":null,\"preferred\":\"0-3\"}\n");
}

// An 8-CPU guest whose aggregate line carries busy time (user and system) as well as steal.
std::string busy_record(int t_s, int user, int system, int steal) {
  std::string text = "@ " + std::to_string(static_cast<long long>(t_s) * 1'000'000'000) + "\n";
  text += "cpu " + std::to_string(user) + " 0 " + std::to_string(system) + " 1000 0 0 0 " +
          std::to_string(steal) + " 0 0\n";
  for (int cpu = 0; cpu < 8; ++cpu) text += "cpu" + std::to_string(cpu) + " 1 0 1 10 0 0 0 0 0 0\n";
  return text;
}

TEST(Replay, TargetFitsTheBusyTimeOfTheTrace) {
  // Each second: 2 CPUs busy (150 user + 50 system ticks), 6 CPUs of steal (600 ticks).
  std::string trace;
  for (int t = 0; t <= 5; ++t) trace += busy_record(t, 150 * t, 50 * t, 600 * t);
  ReplayOptions options;
  options.governor = "target";
  std::string out = replay(trace, "cores=8", options);
  // Learn, three intervals above high, then one move to ceil(2 * 9/8) = 3 CPUs.
  EXPECT_NE(out.find("{\"t_ns\":3000000000,\"action\":\"hold\",\"steal_bp\":7500,"
                     "\"preferred\":\"0-7\"}"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("{\"t_ns\":4000000000,\"action\":\"shrink\",\"steal_bp\":7500,"
                     "\"preferred\":\"0-2\"}"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("{\"t_ns\":5000000000,\"action\":\"hold\",\"steal_bp\":7500,"
                     "\"preferred\":\"0-2\"}"),
            std::string::npos)
      << out;
}

TEST(Replay, TargetOnALineOfFourFields) {
  // The oldest /proc/stat (user nice system idle, no steal): busy is there, steal is zero.
  std::string trace;
  for (int t = 0; t <= 5; ++t) {
    trace += "@ " + std::to_string(t * 1'000'000'000LL) + "\ncpu " + std::to_string(400 * t) +
             " 0 0 100\ncpu0 1 2 3 4\ncpu1 1 2 3 4\ncpu2 1 2 3 4\ncpu3 1 2 3 4\n";
  }
  ReplayOptions options;
  options.governor = "target";
  std::string out = replay(trace, "cores=4", options);
  EXPECT_EQ(out.find("shrink"), std::string::npos) << out;
  EXPECT_NE(out.find("{\"t_ns\":5000000000,\"action\":\"hold\",\"steal_bp\":0,"
                     "\"preferred\":\"0-3\"}"),
            std::string::npos)
      << out;
}

TEST(Replay, KnobsAndGovernorApply) {
  std::string trace = record(0, 0) + record(1, 40) + record(2, 80);
  ReplayOptions options;
  options.governor = "kernel-v2";
  options.knobs.high_threshold = 2000;
  options.knobs.low_threshold = 100;
  EXPECT_EQ(replay(trace, "cores=4", options),
            "{\"t_ns\":0,\"action\":\"baseline\",\"preferred\":\"0-3\"}\n"
            "{\"t_ns\":1000000000,\"action\":\"hold\",\"steal_bp\":1000,\"preferred\":\"0-3\"}\n"
            "{\"t_ns\":2000000000,\"action\":\"hold\",\"steal_bp\":1000,\"preferred\":\"0-3\"}\n");
}

TEST(Replay, HotplugInTheTrace) {
  std::string trace = record(0, 0) + record(1, 40) + record(2, 40, "012");
  std::string out = replay(trace, "cores=4");
  EXPECT_NE(
      out.find("{\"t_ns\":2000000000,\"action\":\"grow\",\"steal_bp\":0,\"preferred\":\"0-2\"}"),
      std::string::npos)
      << out;
}

TEST(Replay, ABadRecordNamesItsLine) {
  std::string trace = record(0, 0) + "@ 1000000000\ncpu 1 2 x 4\ncpu0 1 2 3 4\n";
  std::istringstream in(trace);
  auto parsed = read_trace(in);
  ASSERT_TRUE(parsed);
  auto topo = parse_topology_spec("cores=4");
  std::ostringstream out;
  auto status = replay_trace(*parsed, *topo, {"kernel", {}, 100}, out);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message,
            "trace record at line 7: malformed /proc/stat line 1 (\"cpu\"): field 3 is \"x\", "
            "expected a decimal number");
  EXPECT_EQ(out.str(), "{\"t_ns\":0,\"action\":\"baseline\",\"preferred\":\"0-3\"}\n");
}

TEST(Replay, TopologyFromTraceHeaders) {
  std::istringstream in("# cores: 0,2 1,3\n# nohz_full: 0\n# isolated:\n# nodes: 0-1 2-3\n" +
                        record(0, 0));
  auto trace = read_trace(in);
  ASSERT_TRUE(trace);
  auto topo = topology_from_trace_headers(*trace);
  ASSERT_TRUE(topo) << topo.error().message;
  ASSERT_TRUE(topo->has_value());
  EXPECT_EQ(format_cpulist((*topo)->siblings(2)), "0,2");
  EXPECT_EQ(format_cpulist((*topo)->housekeeping()), "1-3");
  EXPECT_EQ((*topo)->nodes().size(), 2U);
}

TEST(Replay, NoTopologyHeaderMeansNone) {
  std::istringstream in(record(0, 0));
  auto trace = read_trace(in);
  ASSERT_TRUE(trace);
  auto topo = topology_from_trace_headers(*trace);
  ASSERT_TRUE(topo);
  EXPECT_FALSE(topo->has_value());
}

TEST(Replay, UnknownGovernorIsRefused) {
  std::istringstream in(record(0, 0));
  auto trace = read_trace(in);
  auto topo = parse_topology_spec("cores=4");
  std::ostringstream out;
  auto status = replay_trace(*trace, *topo, {"magic", {}, 100}, out);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message,
            "unknown governor \"magic\": expected one of none, kernel, kernel-v2, ewma, target");
}

}  // namespace
}  // namespace prefcpu
