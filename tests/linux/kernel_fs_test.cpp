#include "linux/kernel_fs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "support/faulty_fs.h"
#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using testing::FixtureTree;

TEST(RealKernelFs, ReadsWritesAndLists) {
  FixtureTree tree;
  tree.file("a/value", "old contents\n");
  tree.file("a/other", "");
  RealKernelFs fs;
  auto read = fs.read(tree.path("a/value"));
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, "old contents\n");
  ASSERT_TRUE(fs.write(tree.path("a/value"), "new"));
  EXPECT_EQ(tree.read("a/value"), "new");  // truncated, not overwritten in place
  auto names = fs.list(tree.path("a"));
  ASSERT_TRUE(names);
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"other", "value"}));
  EXPECT_TRUE(fs.exists(tree.path("a")));
  EXPECT_TRUE(fs.is_directory(tree.path("a")));
  EXPECT_FALSE(fs.is_directory(tree.path("a/value")));
}

TEST(RealKernelFs, ErrorsCarryErrnoAndPath) {
  FixtureTree tree;
  RealKernelFs fs;
  auto read = fs.read(tree.path("missing"));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().errno_value, ENOENT);
  EXPECT_NE(read.error().message.find(tree.path("missing").string()), std::string::npos);
  auto write = fs.write(tree.path("nodir/file"), "x");
  ASSERT_FALSE(write);
  EXPECT_EQ(write.error().errno_value, ENOENT);
}

TEST(RealKernelFs, MakesAndRemovesDirectories) {
  FixtureTree tree;
  RealKernelFs fs;
  ASSERT_TRUE(fs.make_directory(tree.path("cg")));
  EXPECT_EQ(fs.make_directory(tree.path("cg")).error().errno_value, EEXIST);
  ASSERT_TRUE(fs.remove_directory(tree.path("cg")));
  EXPECT_FALSE(fs.exists(tree.path("cg")));
}

TEST(RealKernelFs, ReadsProcStat) {
  RealKernelFs fs;
  auto stat = fs.read("/proc/stat");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->rfind("cpu ", 0), 0U);
}

TEST(RealKernelFs, RereadOfAProcFileGeneratesItAnew) {
  RealKernelFs fs;
  auto first = fs.reread("/proc/uptime");
  ASSERT_TRUE(first);
  // /proc/uptime counts in 10 ms steps: a kept-open file that were not regenerated repeats.
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  auto second = fs.reread("/proc/uptime");
  ASSERT_TRUE(second);
  EXPECT_NE(*first, *second);
  auto stat = fs.reread("/proc/stat");
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->rfind("cpu ", 0), 0U);
}

TEST(RealKernelFs, RereadGrowsItsBufferForALargeProcFile) {
  RealKernelFs fs;
  // Each mapping of this process is some twenty lines of smaps: far above the first 4 KiB read,
  // and above what one read of a seq_file returns.
  for (int i = 0; i < 2; ++i) {
    auto smaps = fs.reread("/proc/self/smaps");
    ASSERT_TRUE(smaps);
    EXPECT_GT(smaps->size(), 16384U) << "too small to test growth";
    ASSERT_FALSE(smaps->empty());
    EXPECT_EQ(smaps->back(), '\n');
    auto last_line = smaps->substr(smaps->rfind('\n', smaps->size() - 2) + 1);
    EXPECT_EQ(last_line.rfind("VmFlags:", 0), 0U) << last_line;
  }
}

TEST(RealKernelFs, RereadOfARegularFileSeesAReplacementByRename) {
  FixtureTree tree;
  tree.file("stat", "cpu  1 0 0 0 0 0 0 5\n");
  RealKernelFs fs;
  auto before = fs.reread(tree.path("stat"));
  ASSERT_TRUE(before);
  EXPECT_EQ(*before, "cpu  1 0 0 0 0 0 0 5\n");
  ASSERT_TRUE(fs.replace_file(tree.path("stat"), "cpu  1 0 0 0 0 0 0 9\n", false));
  auto after = fs.reread(tree.path("stat"));
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, "cpu  1 0 0 0 0 0 0 9\n");
  auto missing = fs.reread(tree.path("nope"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errno_value, ENOENT);
}

TEST(ReplaceFile, ReplacesContentWholeAndRemovesItsSpareWithTheFile) {
  FixtureTree tree;
  tree.file("state/preferred", "0-3\n");
  RealKernelFs fs;
  for (bool durable : {false, true}) {
    ASSERT_TRUE(fs.replace_file(tree.path("state/preferred"), "0-1\n", durable));
    EXPECT_EQ(tree.read("state/preferred"), "0-1\n");
    ASSERT_TRUE(fs.replace_file(tree.path("state/preferred"), "0\n", durable));
    EXPECT_EQ(tree.read("state/preferred"), "0\n") << "a shorter content leaves no tail";
  }
  ASSERT_TRUE(fs.remove_file(tree.path("state/preferred")));
  EXPECT_FALSE(tree.exists("state/preferred"));
  EXPECT_FALSE(tree.exists("state/.preferred.spare"));
  EXPECT_TRUE(fs.remove_file(tree.path("state/preferred"))) << "already gone is fine";
  auto missing_dir = fs.replace_file(tree.path("nope/preferred"), "0\n", true);
  ASSERT_FALSE(missing_dir);
  EXPECT_EQ(missing_dir.error().errno_value, ENOENT);
}

TEST(FaultyKernelFs, InjectsErrnoOnChosenWritesOnly) {
  FixtureTree tree;
  tree.file("irq/5/smp_affinity_list", "0-1\n");
  tree.file("irq/6/smp_affinity_list", "0-1\n");
  RealKernelFs real;
  testing::FaultyKernelFs fs(real);
  fs.fail_writes(tree.path("irq/5/smp_affinity_list"), EBUSY, 1);
  auto first = fs.write(tree.path("irq/5/smp_affinity_list"), "0");
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().errno_value, EBUSY);
  EXPECT_TRUE(fs.write(tree.path("irq/5/smp_affinity_list"), "0"));  // only once
  EXPECT_TRUE(fs.write(tree.path("irq/6/smp_affinity_list"), "1"));
  EXPECT_EQ(fs.write_attempts(tree.path("irq/5/smp_affinity_list")), 2);
  EXPECT_EQ(tree.read("irq/5/smp_affinity_list"), "0");
}

}  // namespace
}  // namespace prefcpu
