// IRQ steering on this machine, as root: one real IRQ through the builtin actuator, and a real
// irqbalance (Debian's 1.9.2) steered through its own socket. Every IRQ affinity is snapshot
// first and put back afterwards, on failure and on signals too (HostIrqGuard).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>

#include "host_guard.h"
#include "linux/irq/irq_actuator.h"
#include "real_irqbalance.h"
#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using namespace std::chrono_literals;
using testing::FixtureTree;
using testing::HostIrqGuard;
using testing::kIrqbalanceRunDir;
using testing::online_cpus;
using testing::read_text;
using testing::RealIrqbalance;

class HostIrqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to change IRQ affinities";
    online_ = online_cpus();
    if (online_.count() < 2) GTEST_SKIP() << "needs at least 2 online CPUs";
    preferred_ = CpuSet{*online_.first()};
    guard_.emplace();
  }
  void TearDown() override {
    if (!guard_) return;
    std::vector<std::string> failed = guard_->restore();
    EXPECT_TRUE(failed.empty()) << "could not restore " << failed.front();
    std::vector<std::string> left = guard_->differences();
    EXPECT_TRUE(left.empty()) << left.front() << " is not back to its snapshot";
    guard_.reset();
  }

  CpuSet online_;
  CpuSet preferred_;
  std::optional<HostIrqGuard> guard_;
};

TEST_F(HostIrqTest, BuiltinChangesOneRealIrqAndRestoresIt) {
  bool changed_one = false;
  for (const auto& [path, original_text] : guard_->snapshot()) {
    std::filesystem::path file = path;
    if (file.filename() != "smp_affinity_list") continue;
    auto original = parse_cpulist(original_text);
    if (!original || (*original & online_).count() < 2 || !original->test(*preferred_.first())) {
      continue;
    }
    // A fixture /proc/irq with just this IRQ, its affinity file the real one.
    FixtureTree tree;
    std::string irq = file.parent_path().filename().string();
    tree.dir("irq/" + irq);
    std::filesystem::create_symlink(file, tree.path("irq/" + irq + "/smp_affinity_list"));
    tree.file("irq/default_smp_affinity", "3\n");
    RealKernelFs fs;
    Journal journal(testing::real_fs(), tree.path("journal.json"));
    IrqOptions options;
    options.mode = IrqMode::kBuiltin;
    options.irq_root = tree.path("irq");
    options.irqbalance_abstract_socket = false;
    options.irqbalance_run_dir = tree.path("run");
    auto actuator = make_irq_actuator(fs, journal, options);
    ASSERT_TRUE(actuator->apply(preferred_, online_));
    if (actuator->status()["irqs_changed"] != 1) {
      // Refused (a kernel-managed IRQ, EPERM or EIO): try the next one.
      EXPECT_EQ(read_text(file), original_text + "\n");
      ASSERT_TRUE(actuator->restore());
      continue;
    }
    EXPECT_EQ(read_text(file), format_cpulist(preferred_) + "\n") << "IRQ " << irq;
    EXPECT_EQ(actuator->status()["irqs_managed"], 1);
    // The interrupts figure is read from the real /proc/interrupts.
    ASSERT_TRUE(actuator->apply(preferred_, online_));
    EXPECT_TRUE(actuator->status()["interrupts_total"].is_number());
    ASSERT_TRUE(actuator->restore());
    EXPECT_EQ(read_text(file), original_text + "\n") << "IRQ " << irq;
    changed_one = true;
    break;
  }
  if (!changed_one) GTEST_SKIP() << "no IRQ on this machine accepted a new affinity";
}

class RealIrqbalanceTest : public HostIrqTest {
 protected:
  void SetUp() override {
    HostIrqTest::SetUp();
    if (IsSkipped()) return;
    binary_ = testing::irqbalance_binary();
    if (!binary_) GTEST_SKIP() << "irqbalance is not installed (Debian package irqbalance)";
    if (testing::irqbalance_already_running()) GTEST_SKIP() << "an irqbalance is already running";
    // irqbalance binds its socket file only if the directory exists when it starts.
    if (!std::filesystem::exists(kIrqbalanceRunDir)) {
      std::filesystem::create_directories(kIrqbalanceRunDir);
      created_run_dir_ = true;
    }
    if (created_run_dir_) guard_->remove_on_signal(kIrqbalanceRunDir.string());
  }
  void TearDown() override {
    irqbalance_.reset();  // stopped before the affinities are put back
    if (created_run_dir_) {
      std::error_code ec;
      std::filesystem::remove(kIrqbalanceRunDir, ec);
      guard_->forget_path(kIrqbalanceRunDir.string());
    }
    HostIrqTest::TearDown();
  }
  void start(const std::string& banned_env = "") {
    irqbalance_.reset();
    irqbalance_.emplace(*binary_, *guard_, banned_env);
    ASSERT_GT(irqbalance_->pid(), 0);
    ASSERT_TRUE(irqbalance_->ready(10s)) << "irqbalance did not answer on its socket";
  }
  std::unique_ptr<Actuator> make(Journal& journal) {
    IrqOptions options;
    options.mode = IrqMode::kIrqbalance;
    options.irqbalance_run_dir = kIrqbalanceRunDir;
    options.irqbalance_abstract_socket = false;
    options.irqbalance_timeout_ms = 2000;
    return make_irq_actuator(fs_, journal, options);
  }
  // Shrink, grow, shrink and exit, checking irqbalance's own "setup" after each.
  void steer_and_give_back(const CpuSet& user_banned) {
    ASSERT_TRUE(irqbalance_->wait_for_banned(user_banned, 5s));
    FixtureTree tree;
    Journal journal(testing::real_fs(), tree.path("journal.json"));
    auto actuator = make(journal);
    CpuSet non_preferred = online_ - preferred_;

    ASSERT_TRUE(actuator->apply(preferred_, online_));
    EXPECT_EQ(actuator->status()["active"], "irqbalance");
    EXPECT_EQ(actuator->status()["irqbalance"]["pid"], irqbalance_->pid());
    EXPECT_TRUE(irqbalance_->wait_for_banned(user_banned | non_preferred, 10s));
    auto banned = irqbalance_->banned();
    ASSERT_TRUE(banned);
    EXPECT_TRUE(non_preferred.is_subset_of(*banned)) << format_cpulist(*banned);

    ASSERT_TRUE(actuator->apply(online_, online_));  // grow
    EXPECT_TRUE(irqbalance_->wait_for_banned(user_banned, 10s));

    ASSERT_TRUE(actuator->apply(preferred_, online_));
    EXPECT_TRUE(irqbalance_->wait_for_banned(user_banned | non_preferred, 10s));
    ASSERT_TRUE(actuator->restore());  // exit
    EXPECT_TRUE(irqbalance_->wait_for_banned(user_banned, 10s));
  }

  std::optional<std::string> binary_;
  bool created_run_dir_ = false;
  RealKernelFs fs_;
  std::optional<RealIrqbalance> irqbalance_;
};

TEST_F(RealIrqbalanceTest, BansNonPreferredCpusAndGivesBackAnEmptySet) {
  start();
  steer_and_give_back(CpuSet{});
}

TEST_F(RealIrqbalanceTest, KeepsTheUsersOwnBannedCpus) {
  // CPU 5 does not exist here; irqbalance reports it as banned all the same.
  start("5");
  steer_and_give_back(CpuSet{5});
}

TEST_F(RealIrqbalanceTest, RestartedIrqbalanceIsBannedAgain) {
  start();
  FixtureTree tree;
  Journal journal(testing::real_fs(), tree.path("journal.json"));
  auto actuator = make(journal);
  CpuSet non_preferred = online_ - preferred_;
  ASSERT_TRUE(actuator->apply(preferred_, online_));
  ASSERT_TRUE(irqbalance_->wait_for_banned(non_preferred, 10s));
  pid_t first = irqbalance_->pid();
  start();
  ASSERT_NE(irqbalance_->pid(), first);
  ASSERT_TRUE(irqbalance_->wait_for_banned(CpuSet{}, 5s));  // a new one starts unbanned
  ASSERT_TRUE(actuator->apply(preferred_, online_));
  EXPECT_EQ(actuator->status()["irqbalance"]["pid"], irqbalance_->pid());
  EXPECT_TRUE(irqbalance_->wait_for_banned(non_preferred, 10s));
  ASSERT_TRUE(actuator->restore());
  EXPECT_TRUE(irqbalance_->wait_for_banned(CpuSet{}, 10s));
}

}  // namespace
}  // namespace prefcpu
