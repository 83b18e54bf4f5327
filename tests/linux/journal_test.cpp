#include "linux/journal.h"

#include <gtest/gtest.h>

#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using testing::FixtureTree;

TEST(Journal, RecordsSectionsDurablyAndLoadsThemBack) {
  FixtureTree tree;
  Journal journal(tree.path("journal.json"));
  ASSERT_TRUE(journal.record("cpusets", {{"workload", "0-3"}}));
  ASSERT_TRUE(journal.record("irqs", {{"24", "0-1"}}));
  auto loaded = Journal::load(tree.path("journal.json"));
  ASSERT_TRUE(loaded);
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((**loaded)["cpusets"]["workload"], "0-3");
  EXPECT_EQ((**loaded)["irqs"]["24"], "0-1");
  EXPECT_EQ((**loaded)["version"], 1);
  EXPECT_EQ(journal.section("cpusets")["workload"], "0-3");
  EXPECT_TRUE(journal.section("absent").is_null());
}

TEST(Journal, NoFileMeansACleanStart) {
  FixtureTree tree;
  auto loaded = Journal::load(tree.path("journal.json"));
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->has_value());
}

TEST(Journal, AGarbledJournalIsRefusedByName) {
  FixtureTree tree;
  tree.file("journal.json", "{ \"cpusets\": ");
  auto loaded = Journal::load(tree.path("journal.json"));
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message, "journal " + tree.path("journal.json").string() +
                                        " is not a JSON object; restore by hand, then delete it");
}

TEST(Journal, RemoveDeletesTheFile) {
  FixtureTree tree;
  Journal journal(tree.path("journal.json"));
  ASSERT_TRUE(journal.record("cpusets", {{"a", "0"}}));
  ASSERT_TRUE(journal.remove());
  EXPECT_FALSE(tree.exists("journal.json"));
  EXPECT_TRUE(journal.remove());  // already gone is fine
}

TEST(Journal, FailsWhenTheStateDirectoryIsGone) {
  FixtureTree tree;
  Journal journal(tree.path("missing/journal.json"));
  auto status = journal.record("cpusets", {{"a", "0"}});
  ASSERT_FALSE(status);
  EXPECT_TRUE(journal.section("cpusets").is_null());  // not recorded in memory either
}

}  // namespace
}  // namespace prefcpu
