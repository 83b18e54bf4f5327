// `prefcpuctl top`'s frame as a pure function of the daemon's status and history replies.
#include "ctl/top_view.h"

#include <gtest/gtest.h>

namespace prefcpu {
namespace {

nlohmann::json status(const char* preferred, const char* online) {
  return {{"mode", "enforce"},
          {"governor", "kernel"},
          {"automatic", true},
          {"preferred", preferred},
          {"online", online},
          {"steal_bp", 630},
          {"knobs", {{"interval_ms", 1000}, {"high_threshold", 500}, {"low_threshold", 200}}}};
}

nlohmann::json entry(std::int64_t seconds, nlohmann::json steal, const char* action,
                     const char* preferred) {
  return {{"monotonic_ns", seconds * 1'000'000'000},
          {"steal_bp", std::move(steal)},
          {"action", action},
          {"preferred", preferred},
          {"online", "0-3"}};
}

nlohmann::json history() {
  return {
      {"monotonic_ns", 10'000'000'000},
      {"history",
       {entry(1, nullptr, "baseline", "0-3"), entry(2, 0, "hold", "0-3"),
        entry(3, 630, "shrink", "0-2"), entry(4, 300, "hold", "0-2"),
        entry(5, nullptr, "error", "0-2"), entry(6, 1000, "shrink", "0-1"),
        entry(7, 100, "grow", "0-2"), entry(8, 250, "hold", "0-2"), entry(9, 0, "grow", "0-2")}}};
}

TEST(TopViewTest, SparklineScalesToTheMaximum) {
  EXPECT_EQ(sparkline({0, 250, 500, 1000, std::nullopt, 2000}, 1000), "▁▃▅█ █");
  EXPECT_EQ(sparkline({}, 1000), "");
  EXPECT_EQ(sparkline({5}, 0), "█") << "a zero scale is taken as 1 bp";
}

TEST(TopViewTest, AFrameShowsTheMaskTheStealAndTheLastDecisions) {
  std::string frame = render_top(status("0-2", "0-3"), history(), {80, false, 8});
  EXPECT_NE(frame.find("prefcpu top  mode enforce, governor kernel, interval_ms 1000, automatic\n"),
            std::string::npos)
      << frame;
  EXPECT_NE(frame.find("CPU         0 1 2 3\npreferred   ■ ■ ■ ·\n"), std::string::npos) << frame;
  EXPECT_NE(frame.find("3 of 4 online CPUs preferred (0-2)"), std::string::npos) << frame;
  // Scaled to the largest steal shown (10 %); the baseline and the error period are blanks.
  EXPECT_NE(frame.find("steal       ▁▅▃ █▂▃▁\n"), std::string::npos) << frame;
  EXPECT_NE(frame.find("now 6.30 %, top of scale 10.00 % (high_threshold 5.00 %, low_threshold "
                       "2.00 %)"),
            std::string::npos)
      << frame;
  // Newest first; holds and decisions that changed nothing are left out; the error is shown.
  auto grow = frame.find("      -3.0  grow      1.00 %     0-2\n");
  auto shrink = frame.find("      -4.0  shrink    10.00 %    0-1\n");
  auto error = frame.find("      -5.0  error     -          0-2\n");
  auto baseline = frame.find("      -9.0  baseline  -          0-3\n");
  ASSERT_NE(grow, std::string::npos) << frame;
  EXPECT_LT(grow, shrink);
  EXPECT_LT(shrink, error);
  EXPECT_LT(error, baseline);
  EXPECT_EQ(frame.find("  hold  "), std::string::npos) << frame;
  EXPECT_EQ(frame.find("-1.0  grow"), std::string::npos) << "a grow at the full mask did nothing";
  EXPECT_EQ(frame.find('\x1b'), std::string::npos) << "no escape codes without colour";
}

TEST(TopViewTest, ManyCpusWrapAtTheTerminalWidthAndOfflineIsBlank) {
  std::string frame = render_top(status("0-15", "0-31,40"), {}, {41, false, 8});
  // 41 columns: an 11-column label, then 10 cells of 3.
  EXPECT_NE(frame.find("CPU          0  1  2  3  4  5  6  7  8  9\n"
                       "preferred    ■  ■  ■  ■  ■  ■  ■  ■  ■  ■\n"),
            std::string::npos)
      << frame;
  EXPECT_NE(frame.find("            30 31 32 33 34 35 36 37 38 39\n"
                       "             ·  ·\n"),
            std::string::npos)
      << frame;
  EXPECT_NE(frame.find("            40\n             ·\n"), std::string::npos) << frame;
  EXPECT_NE(frame.find("none in the history kept"), std::string::npos);
}

TEST(TopViewTest, ColourMarksPreferredCpus) {
  std::string frame = render_top(status("0", "0-1"), history(), {80, true, 2});
  EXPECT_NE(frame.find("\x1b[32m■\x1b[0m"), std::string::npos);
  EXPECT_NE(frame.find("\x1b[2m·\x1b[0m"), std::string::npos);
}

TEST(TopViewTest, OddRepliesNeverThrow) {
  for (const auto& odd : {nlohmann::json(), nlohmann::json(1), nlohmann::json::array(),
                          nlohmann::json{{"history", 5}, {"knobs", "x"}, {"preferred", 3}}}) {
    EXPECT_NO_THROW((void)render_top(odd, odd, {}));
  }
  nlohmann::json bad_steal = {{"history", {{{"steal_bp", -5}}, {{"steal_bp", "x"}}}}};
  EXPECT_NO_THROW((void)render_top(status("0", "0"), bad_steal, {}));
}

}  // namespace
}  // namespace prefcpu
