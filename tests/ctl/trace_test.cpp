#include "ctl/trace.h"

#include <gtest/gtest.h>

#include <sstream>

namespace prefcpu {
namespace {

Result<Trace> read(const std::string& text) {
  std::istringstream in(text);
  return read_trace(in);
}

TEST(Trace, ReadsHeadersCommentsAndRecords) {
  auto trace = read(
      "# prefcpu trace\n"
      "# user_hz: 250\n"
      "# cores: 0-1 2-3\n"
      "@ 1000\n"
      "cpu 1 2 3 4 5 6 7 8\n"
      "cpu0 1 2 3 4\n"
      "# a comment between records\n"
      "@ 2000\n"
      "cpu 1 2 3 4 5 6 7 9\n");
  ASSERT_TRUE(trace) << trace.error().message;
  EXPECT_EQ(trace->headers.at("user_hz"), "250");
  EXPECT_EQ(trace->headers.at("cores"), "0-1 2-3");
  ASSERT_EQ(trace->records.size(), 2U);
  EXPECT_EQ(trace->records[0].monotonic_ns, 1000);
  EXPECT_EQ(trace->records[0].line, 4U);
  EXPECT_EQ(trace->records[0].proc_stat, "cpu 1 2 3 4 5 6 7 8\ncpu0 1 2 3 4\n");
  EXPECT_EQ(trace->records[1].line, 8U);
}

TEST(Trace, ErrorsNameTheLine) {
  auto bad_time = read("@ 10\ncpu 1 2 3 4\n@ soon\n");
  ASSERT_FALSE(bad_time);
  EXPECT_EQ(bad_time.error().message, "trace line 3: \"@ soon\", expected \"@ <monotonic_ns>\"");
  auto backwards = read("@ 10\ncpu 1\n@ 5\n");
  ASSERT_FALSE(backwards);
  EXPECT_EQ(backwards.error().message,
            "trace line 3: time 5 goes back from 10, expected a monotonic clock");
  auto orphan = read("cpu 1 2 3 4\n");
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().message,
            "trace line 1: \"cpu 1 2 3 4\" before the first \"@ <monotonic_ns>\" line");
  auto empty = read("# nothing\n");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message, "trace has no records: expected \"@ <monotonic_ns>\" lines");
  EXPECT_FALSE(read("@ 12 13\n"));
}

TEST(Trace, RecordTextRoundTrips) {
  std::string text = trace_record_text(42, "cpu 1 2 3 4\ncpu0 1 2 3 4");
  EXPECT_EQ(text, "@ 42\ncpu 1 2 3 4\ncpu0 1 2 3 4\n");
  auto trace = read(text);
  ASSERT_TRUE(trace);
  EXPECT_EQ(trace->records[0].proc_stat, "cpu 1 2 3 4\ncpu0 1 2 3 4\n");
}

}  // namespace
}  // namespace prefcpu
