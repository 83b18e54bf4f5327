#include "linux/journal.h"

#include <gtest/gtest.h>

#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using testing::FixtureTree;

TEST(Journal, RecordsSectionsDurablyAndLoadsThemBack) {
  FixtureTree tree;
  Journal journal(testing::real_fs(), tree.path("journal.json"));
  ASSERT_TRUE(journal.record("cpusets", {{"workload", "0-3"}}));
  ASSERT_TRUE(journal.record("irqs", {{"24", "0-1"}}));
  auto loaded = Journal::load(testing::real_fs(), tree.path("journal.json"));
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
  auto loaded = Journal::load(testing::real_fs(), tree.path("journal.json"));
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->has_value());
}

TEST(Journal, AGarbledJournalIsRefusedByName) {
  FixtureTree tree;
  tree.file("journal.json", "{ \"cpusets\": ");
  auto loaded = Journal::load(testing::real_fs(), tree.path("journal.json"));
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message,
            "journal " + tree.path("journal.json").string() +
                " is not a JSON object (truncated or corrupt?); restore by hand what it lists, "
                "then delete it");
}

// Each of these, taken silently, would make the shrunk cpusets of the crashed run "the originals".
TEST(Journal, ASchemaItDoesNotKnowIsRefusedByName) {
  struct Case {
    const char* text;
    const char* fault;
  };
  for (const Case& c : {
           Case{"", "is empty (truncated?)"},
           Case{"{\"version\": 1, \"cpusets\": {\"root\": \"/sys/fs/cg",
                "is not a JSON object (truncated or corrupt?)"},
           Case{"{\"version\": 1, \"cpusets\": null}",
                "has section \"cpusets\" = null, expected an object of originals"},
           Case{"{\"version\": 1, \"cpusets\": {}}",
                "has section \"cpusets\" = {}, expected an object of originals"},
           Case{"{\"version\": 1, \"irqs\": [1]}",
                "has section \"irqs\" = [1], expected an object of originals"},
           Case{"{\"version\": 2, \"cpusets\": {\"root\": \"/x\"}}", "has version 2, expected 1"},
           Case{"{\"cpusets\": {\"root\": \"/x\"}}", "has version (none), expected 1"},
           Case{"{\"version\": \"1\"}", "has version \"1\", expected 1"},
       }) {
    FixtureTree tree;
    tree.file("journal.json", c.text);
    auto loaded = Journal::load(testing::real_fs(), tree.path("journal.json"));
    ASSERT_FALSE(loaded) << c.text;
    EXPECT_EQ(loaded.error().message, "journal " + tree.path("journal.json").string() + " " +
                                          c.fault +
                                          "; restore by hand what it lists, then delete it")
        << c.text;
  }
}

TEST(Journal, ASectionWithNothingToRestoreLeavesTheFile) {
  FixtureTree tree;
  Journal journal(testing::real_fs(), tree.path("journal.json"));
  ASSERT_TRUE(journal.record("cpusets", {{"a", "0"}}));
  ASSERT_TRUE(journal.record("irqs", {{"24", "0-1"}}));
  ASSERT_TRUE(journal.record("irqs", nlohmann::json::object()));
  auto loaded = Journal::load(testing::real_fs(), tree.path("journal.json"));
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  EXPECT_FALSE((*loaded)->contains("irqs"));
  EXPECT_EQ((**loaded)["cpusets"]["a"], "0");
}

TEST(Journal, NeverFollowsASymlinkPlantedAtItsPath) {
  FixtureTree tree;
  tree.file("victim", "precious\n");
  std::filesystem::create_symlink(tree.path("victim"), tree.path("journal.json"));
  std::filesystem::create_symlink(tree.path("victim"), tree.path(".journal.json.spare"));
  Journal journal(testing::real_fs(), tree.path("journal.json"));
  ASSERT_TRUE(journal.record("cpusets", {{"a", "0"}}));
  ASSERT_TRUE(journal.record("cpusets", {{"a", "1"}}));  // the spare is now the old link
  ASSERT_TRUE(journal.record("cpusets", {{"a", "2"}}));
  EXPECT_EQ(tree.read("victim"), "precious\n");
  EXPECT_FALSE(std::filesystem::is_symlink(tree.path("journal.json")));
  auto loaded = Journal::load(testing::real_fs(), tree.path("journal.json"));
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ((**loaded)["cpusets"]["a"], "2");
}

TEST(Journal, RemoveDeletesTheFile) {
  FixtureTree tree;
  Journal journal(testing::real_fs(), tree.path("journal.json"));
  ASSERT_TRUE(journal.record("cpusets", {{"a", "0"}}));
  ASSERT_TRUE(journal.remove());
  EXPECT_FALSE(tree.exists("journal.json"));
  EXPECT_TRUE(journal.remove());  // already gone is fine
}

TEST(Journal, FailsWhenTheStateDirectoryIsGone) {
  FixtureTree tree;
  Journal journal(testing::real_fs(), tree.path("missing/journal.json"));
  auto status = journal.record("cpusets", {{"a", "0"}});
  ASSERT_FALSE(status);
  EXPECT_TRUE(journal.section("cpusets").is_null());  // not recorded in memory either
}

}  // namespace
}  // namespace prefcpu
