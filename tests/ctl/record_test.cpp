#include "ctl/record.h"

#include <gtest/gtest.h>

#include <sstream>

#include "ctl/replay.h"
#include "ctl/trace.h"
#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using testing::FixtureTree;

// A Clock that rewrites the fixture /proc/stat each time the recorder sleeps, as time passes.
class SteppingClock final : public Clock {
 public:
  SteppingClock(const FixtureTree& tree) : tree_(tree) { write(); }
  std::int64_t monotonic_ns() override { return now_; }
  void sleep_until(std::int64_t deadline) override {
    now_ = deadline;
    steal_ += 40;
    write();
  }

 private:
  void write() {
    tree_.file("proc/stat", "cpu 1 2 3 4 5 6 7 " + std::to_string(steal_) +
                                " 0 0\ncpu0 1 2 3 4\ncpu1 1 2 3 4\n");
  }
  const FixtureTree& tree_;
  std::int64_t now_ = 5'000'000'000;
  std::uint64_t steal_ = 0;
};

TEST(Record, WritesAReplayableTraceOnTheClocksSchedule) {
  FixtureTree tree;
  tree.file("sys/devices/system/cpu/online", "0-1\n");
  tree.file("sys/devices/system/cpu/cpu0/topology/thread_siblings_list", "0-1\n");
  tree.file("sys/devices/system/cpu/cpu1/topology/thread_siblings_list", "0-1\n");
  SteppingClock clock(tree);
  RealKernelFs fs;
  RecordOptions options{250, 3, tree.path("proc/stat"), tree.path("sys"), 100};
  std::ostringstream out;
  ASSERT_TRUE(record_trace(fs, clock, options, out));

  std::istringstream in(out.str());
  auto trace = read_trace(in);
  ASSERT_TRUE(trace) << trace.error().message;
  EXPECT_EQ(trace->headers.at("user_hz"), "100");
  EXPECT_EQ(trace->headers.at("cores"), "0-1");
  ASSERT_EQ(trace->records.size(), 3U);
  EXPECT_EQ(trace->records[0].monotonic_ns, 5'000'000'000);
  EXPECT_EQ(trace->records[1].monotonic_ns, 5'250'000'000);
  EXPECT_EQ(trace->records[2].monotonic_ns, 5'500'000'000);
  EXPECT_NE(trace->records[2].proc_stat.find(" 80 0 0\n"), std::string::npos);

  auto topo = topology_from_trace_headers(*trace);
  ASSERT_TRUE(topo && topo->has_value());
  std::ostringstream replayed;
  ASSERT_TRUE(replay_trace(*trace, **topo, {"kernel", {}, 0}, replayed));
  // 40 ticks in 250 ms on 2 CPUs = 400 ms / 500 ms = 8000 bp; the only core is protected.
  EXPECT_NE(replayed.str().find("\"action\":\"shrink\",\"steal_bp\":8000,\"preferred\":\"0-1\""),
            std::string::npos)
      << replayed.str();
}

TEST(Record, ABrokenSourceIsReportedAtRecordTime) {
  FixtureTree tree;
  tree.file("proc/stat", "nonsense\n");
  FakeClock clock;
  RealKernelFs fs;
  std::ostringstream out;
  auto status =
      record_trace(fs, clock, {100, 2, tree.path("proc/stat"), tree.path("sys"), 100}, out);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "malformed /proc/stat: no aggregate \"cpu\" line");
}

TEST(Record, StopsWhenAsked) {
  FixtureTree tree;
  tree.file("proc/stat", "cpu 1 2 3 4\ncpu0 1 2 3 4\n");
  FakeClock clock;
  RealKernelFs fs;
  std::ostringstream out;
  bool stop = true;
  ASSERT_TRUE(
      record_trace(fs, clock, {100, 5, tree.path("proc/stat"), tree.path("sys"), 100}, out, &stop));
  EXPECT_EQ(out.str().find("@ "), std::string::npos);
}

}  // namespace
}  // namespace prefcpu
