// The config schema is the one declaration of every key: the shipped prefcpud.toml and the man
// page's key table are checked against it, and so are the names, numbers and files a user gives.
#include "daemon/config_schema.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "daemon/options.h"
#include "linux/cgroup/cgroup_name.h"
#include "support/fixture_tree.h"

namespace prefcpu::testing {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ConfigSchema, TheManPageKeyTableIsTheSchemas) {
  std::string page = slurp(PREFCPU_MAN_PAGE);
  auto begin = page.find("KEY\tTYPE\tVALUES\tDEFAULT\tRELOAD\n");
  ASSERT_NE(begin, std::string::npos) << "prefcpud.8 lacks the CONFIGURATION key table";
  begin = page.find('\n', begin) + 1;
  auto end = page.find(".TE\n", begin);
  ASSERT_NE(end, std::string::npos);
  // Rows may be separated by "_" or ".sp" lines; only the key rows are compared.
  std::string rows;
  std::istringstream lines(page.substr(begin, end - begin));
  for (std::string line; std::getline(lines, line);) {
    if (line.find('\t') != std::string::npos) rows += line + "\n";
  }
  EXPECT_EQ(rows, config_man_table()) << "paste this between the header row and .TE:\n"
                                      << config_man_table();
}

TEST(ConfigSchema, TheShippedConfigListsEveryKeyWithItsDefaultAndReload) {
  std::string file = slurp(PREFCPU_PACKAGED_CONFIG);
  const Config defaults;
  for (const auto& key : config_schema()) {
    std::string line = "\n" + std::string(key.name) + " = " + key.toml_text(defaults) + "\n";
    auto at = file.find(line);
    ASSERT_NE(at, std::string::npos) << "prefcpud.toml lacks" << line;
    auto section = file.rfind("# ---", at);
    ASSERT_NE(section, std::string::npos);
    std::string header = file.substr(section, file.find('\n', section) - section);
    bool restart = header.find("changes take effect at restart") != std::string::npos;
    EXPECT_EQ(restart, key.reload == Reload::kRestart) << key.name << " is under " << header;
  }
}

TEST(ConfigSchema, RestartOnlyKeysComeFromTheSchema) {
  Config running;
  Config next;
  next.cgroups = {"a"};
  next.irq_root = "/elsewhere";
  next.knobs.interval_ms = 250;
  next.verbose = true;
  EXPECT_EQ(restart_only_changes(running, next), (std::vector<std::string>{"cgroups", "irq_root"}));
  Config kept = keep_restart_only(next, running);
  EXPECT_TRUE(kept.cgroups.empty());
  EXPECT_EQ(kept.irq_root, running.irq_root);
  EXPECT_EQ(kept.knobs.interval_ms, 250U);
  EXPECT_TRUE(kept.verbose);
  for (const auto& key : config_schema()) {
    if (key.reload != Reload::kRestart) continue;
    EXPECT_TRUE(key.same(keep_restart_only(next, running), running)) << key.name;
  }
}

TEST(ConfigSchema, UnknownKeysListTheSchema) {
  auto unknown = parse_config("speed = 1\n", "f.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find(config_key_names()), std::string::npos);
}

// Issue 12: ".", "a/" and friends passed the config check, and "." made prefcpud manage the
// hierarchy's root, its own prefcpu-pinned included.
TEST(CgroupName, NamesThatLeaveOrAreTheRootAreRefusedEverywhere) {
  using namespace std::string_literals;
  for (const std::string& name :
       {"."s, ".."s, "./"s, "a/"s, "/a"s, "a//b"s, "a/./b"s, "a/.."s, "../etc"s, ""s,
        "prefcpu-pinned"s, "prefcpu-pinned/x"s, "a\0b"s, "bad\xff"s, "\xc0\xaf"s}) {
    auto status = check_cgroup_name(name);
    EXPECT_FALSE(status.ok()) << printable_name(name);
    Config config;
    config.cgroups = {name};
    EXPECT_FALSE(validate_config(config).ok()) << printable_name(name);
    CliOptions cli;
    cli.cgroups = {name};
    EXPECT_FALSE(apply_cli(Config{}, cli).ok()) << printable_name(name);
  }
  for (const std::string& name :
       {"system.slice"s, "work/batch"s, "prefcpu-pinnedx"s, "a.b"s, "..a"s, "caf\xc3\xa9"s}) {
    EXPECT_TRUE(check_cgroup_name(name).ok()) << name;
  }
}

TEST(CgroupName, TheErrorSaysWhyAndShowsBytes) {
  auto nul = check_cgroup_name(std::string("a\0b", 3));
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.error().message.find("\"a\\x00b\" is invalid: it contains a NUL byte"),
            std::string::npos)
      << nul.error().message;
  auto dot = check_cgroup_name(".");
  ASSERT_FALSE(dot.ok());
  EXPECT_NE(dot.error().message.find("names the root or leaves it"), std::string::npos);
}

TEST(CgroupName, TheConfigFileRefusesANulOrDotName) {
  auto nul = parse_config("cgroups = [\"a\\u0000b\"]\n", "f.toml");
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.error().message.find("f.toml:1: cgroup \"a\\x00b\" is invalid"), std::string::npos)
      << nul.error().message;
  EXPECT_FALSE(parse_config("cgroups = [\".\"]\n", "f.toml").ok());
}

TEST(ConfigFile, DevNullIsAnEmptyConfig) {
  auto config = load_config_file("/dev/null", true);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->knobs.interval_ms, Config{}.knobs.interval_ms);
}

TEST(ConfigFile, ADirectoryIsRefusedNotReadAsEmpty) {
  FixtureTree tree;
  tree.dir("etc/prefcpud.toml");
  for (bool required : {true, false}) {
    auto config = load_config_file(tree.path("etc/prefcpud.toml"), required);
    ASSERT_FALSE(config.ok());
    EXPECT_NE(config.error().message.find("not a regular file"), std::string::npos)
        << config.error().message;
  }
}

ParsedCli parse(std::vector<std::string> args) {
  args.insert(args.begin(), "prefcpud");
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (auto& arg : args) argv.push_back(arg.data());
  return parse_cli(static_cast<int>(argv.size()), argv.data());
}

// Issue 12: "0x64" and " 100" passed on the command line though the socket refused them.
TEST(Options, NumbersAreReadByTheOneParserTheSocketUses) {
  for (const char* bad : {"0x64", " 100", "100 ", "+100", "-5", "1e3", "", "99999999999"}) {
    auto parsed = parse({"--interval-ms", bad});
    EXPECT_FALSE(parsed.options.has_value()) << bad;
    EXPECT_EQ(parsed.exit_code, 2) << bad;
    Knobs knobs;
    EXPECT_FALSE(set_knob(knobs, "interval_ms", bad).ok()) << bad;
  }
  auto good = parse({"--interval-ms", "100", "--high", "700", "--low", "0"});
  ASSERT_TRUE(good.options.has_value());
  EXPECT_EQ(good.options->interval_ms, 100U);
  EXPECT_EQ(good.options->high_threshold, 700U);
  EXPECT_EQ(good.options->low_threshold, 0U);
}

// numa: a word from the file, the flag and the socket alike; a bad one names key, value and the
// accepted words, and changes nothing.
TEST(Options, NumaIsAModeFromTheFileOrTheFlag) {
  auto file = parse_config("numa = \"balance\"\n", "f.toml");
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->knobs.numa, NumaMode::kBalance);
  auto bad = parse_config("numa = \"spread\"\n", "f.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(
                "f.toml:1: numa \"spread\" is not a NUMA mode: expected off, balance or pack"),
            std::string::npos)
      << bad.error().message;
  auto number = parse_config("numa = 1\n", "f.toml");
  ASSERT_FALSE(number.ok());
  EXPECT_NE(number.error().message.find("numa must be a string"), std::string::npos)
      << number.error().message;
  EXPECT_EQ(Config{}.knobs.numa, NumaMode::kOff);

  auto flag = parse({"--numa", "pack"});
  ASSERT_TRUE(flag.options.has_value());
  auto config = apply_cli(*file, *flag.options);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->knobs.numa, NumaMode::kPack) << "the flag wins over the file";
  auto wrong = parse({"--numa", "Pack"});
  ASSERT_TRUE(wrong.options.has_value());
  auto refused = apply_cli(*file, *wrong.options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "--numa: numa \"Pack\" is not a NUMA mode: expected off, balance or pack");
  EXPECT_EQ(apply_cli(*file, *parse({}).options)->knobs.numa, NumaMode::kBalance);
}

}  // namespace
}  // namespace prefcpu::testing
