// prefcpud's TOML config and flags: whole-config validation with errors that name the key.
#include "daemon/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "daemon/environment.h"
#include "daemon/options.h"
#include "support/fixture_tree.h"

namespace prefcpu::testing {
namespace {

TEST(Config, ParsesEveryKey) {
  auto config = parse_config(R"(
governor = "ewma"
interval_ms = 250
high_threshold = 800
low_threshold = 100
cgroups = ["system.slice", "work/batch"]
cgroup_root = "/sys/fs/cgroup"
shield = true
dry_run = true
irq_mode = "off"
irq_root = "/tmp/irq"
history_size = 10
verbose = true
)",
                             "test.toml");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->governor, "ewma");
  EXPECT_EQ(config->knobs.interval_ms, 250U);
  EXPECT_EQ(config->knobs.high_threshold, 800U);
  EXPECT_EQ(config->cgroups, (std::vector<std::string>{"system.slice", "work/batch"}));
  EXPECT_TRUE(config->shield);
  EXPECT_EQ(config->irq_mode, IrqMode::kOff);
  EXPECT_EQ(config->history_size, 10U);
  EXPECT_TRUE(validate_config(*config).ok());
}

TEST(Config, ErrorsNameTheKeyItsLineAndWhatIsAccepted) {
  auto unknown = parse_config("governor = \"kernel\"\nintervall_ms = 5\n", "f.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("f.toml:2: unknown key \"intervall_ms\""),
            std::string::npos)
      << unknown.error().message;
  auto type = parse_config("interval_ms = \"fast\"\n", "f.toml");
  ASSERT_FALSE(type.ok());
  EXPECT_NE(type.error().message.find("interval_ms must be an integer"), std::string::npos);
  auto negative = parse_config("high_threshold = -1\n", "f.toml");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("out of range"), std::string::npos);
  auto syntax = parse_config("governor = \n", "f.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.error().message.find("f.toml:1"), std::string::npos);
  auto mode = parse_config("irq_mode = \"sometimes\"\n", "f.toml");
  ASSERT_FALSE(mode.ok());
  EXPECT_NE(mode.error().message.find("expected auto, builtin, irqbalance or off"),
            std::string::npos);
}

TEST(Config, ValidationIsWhole) {
  Config config;
  config.knobs.low_threshold = 600;  // above the default high of 500
  auto status = validate_config(config);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("low_threshold 600 must be below high_threshold 500"),
            std::string::npos);
  config = Config{};
  config.governor = "fastest";
  EXPECT_FALSE(validate_config(config).ok());
  config = Config{};
  config.cgroups = {"/abs"};
  EXPECT_FALSE(validate_config(config).ok());
}

TEST(Config, AMissingDefaultFileIsTheDefaultsAndAMissingNamedOneAnError) {
  EXPECT_EQ(*load_config_file("/nonexistent/prefcpud.toml", false), Config{});
  auto named = load_config_file("/nonexistent/prefcpud.toml", true);
  ASSERT_FALSE(named.ok());
  EXPECT_NE(named.error().message.find("no such file"), std::string::npos);
}

TEST(Config, TheShippedConfigIsValidAndIsTheDefaults) {
  auto config = load_config_file(PREFCPU_PACKAGED_CONFIG, true);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(*config, Config{});
}

TEST(Options, FlagsOverrideTheFile) {
  Config file;
  file.governor = "ewma";
  file.cgroups = {"a"};
  CliOptions cli;
  cli.interval_ms = 300;
  cli.cgroups = {"b", "c"};
  cli.irq_mode = "off";
  auto config = apply_cli(file, cli);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->governor, "ewma");
  EXPECT_EQ(config->knobs.interval_ms, 300U);
  EXPECT_EQ(config->cgroups, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(config->irq_mode, IrqMode::kOff);
  cli.low_threshold = 9999;
  EXPECT_FALSE(apply_cli(file, cli).ok());
}

TEST(Options, ParsesTheIssuesFlagsWithTheirDefaults) {
  std::vector<std::string> args{"prefcpud", "--foreground", "--cgroup", "a",        "--cgroup",
                                "b",        "--high",       "700",      "--dry-run"};
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (auto& arg : args) argv.push_back(arg.data());
  auto parsed = parse_cli(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(parsed.options.has_value());
  EXPECT_TRUE(parsed.options->foreground);
  EXPECT_TRUE(parsed.options->dry_run);
  EXPECT_EQ(parsed.options->cgroups, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(parsed.options->high_threshold, 700U);
  EXPECT_FALSE(parsed.options->low_threshold.has_value());
  EXPECT_EQ(parsed.options->config_path, "/etc/prefcpu/prefcpud.toml");
  EXPECT_EQ(parsed.options->state_dir, "/run/prefcpu");
  EXPECT_EQ(parsed.options->proc_stat, "/proc/stat");
  EXPECT_EQ(parsed.options->sysfs_root, "/sys");
  EXPECT_FALSE(parsed.options->config_given);
}

// A housekeeping switch: on by default, off by --no-KEY or `KEY = false`, and only that one
// switch; anything but a boolean in the file is refused with what is accepted.
void expect_off_switch(const std::string& key, bool Config::*field, bool Config::*other,
                       const char* bad_value) {
  EXPECT_TRUE(Config{}.*field) << key << " on by default";
  std::vector<std::string> args{"prefcpud", "--no-" + key};
  std::vector<char*> argv;
  argv.reserve(args.size());
  for (auto& arg : args) argv.push_back(arg.data());
  auto parsed = parse_cli(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(parsed.options.has_value()) << key;
  auto config = apply_cli(Config{}, *parsed.options);
  ASSERT_TRUE(config.ok()) << key;
  EXPECT_FALSE((*config).*field) << key;
  EXPECT_TRUE((*config).*other) << "one knob each: --no-" << key;
  auto file = parse_config(key + " = false\n", "test.toml");
  ASSERT_TRUE(file.ok()) << key;
  EXPECT_FALSE((*file).*field) << key;
  auto bad = parse_config(key + " = " + bad_value + "\n", "test.toml");
  ASSERT_FALSE(bad.ok()) << key;
  EXPECT_NE(bad.error().message.find(key + " must be true or false"), std::string::npos)
      << bad.error().message;
}

TEST(Options, NoWorkqueuesTurnsTheWorkqueuesOff) {
  expect_off_switch("workqueues", &Config::workqueues, &Config::kthreads, "\"off\"");
}

TEST(Options, NoKthreadsTurnsTheKthreadsOff) {
  expect_off_switch("kthreads", &Config::kthreads, &Config::workqueues, "1");
}

TEST(Environment, TellsGuestsFromBareMetalAndDom0) {
  EXPECT_TRUE(classify_virtualization("flags\t\t: fpu vme hypervisor lahf_lm\n", "", false).guest);
  auto metal = classify_virtualization("flags\t\t: fpu vme lahf_lm\n", "", false);
  EXPECT_FALSE(metal.guest);
  EXPECT_NE(metal.reason.find("no hypervisor flag"), std::string::npos);
  EXPECT_FALSE(classify_virtualization("flags : fpu hypervisor\n", "control_d\n", false).guest);
  EXPECT_TRUE(classify_virtualization("vendor_id       : IBM/S390\n", "", false).guest);
  EXPECT_TRUE(classify_virtualization("platform\t: pSeries\n", "", false).guest);
  EXPECT_TRUE(classify_virtualization("processor\t: 0\n", "", false).guest);
}

}  // namespace
}  // namespace prefcpu::testing
