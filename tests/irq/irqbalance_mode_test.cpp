// irq_mode auto and irqbalance against a fake irqbalance socket in a fixture run directory: the
// banned set sent, restarts, fallback to builtin and back, crash recovery.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "fake_irqbalance.h"
#include "linux/irq/irq_actuator.h"
#include "support/faulty_fs.h"
#include "support/fixture_tree.h"

namespace prefcpu {
namespace {

using testing::FakeIrqbalance;
using testing::FaultyKernelFs;
using testing::FixtureTree;

const CpuSet kOnline = CpuSet::range(0, 3);
const CpuSet kShrunk{0, 1};

class IrqbalanceModeTest : public ::testing::Test {
 protected:
  IrqbalanceModeTest() : faulty_(real_), journal_(testing::real_fs(), tree_.path("journal.json")) {
    tree_.file("irq/24/smp_affinity_list", "0-3\n");
    tree_.file("irq/26/smp_affinity_list", "3\n");
    tree_.file("irq/default_smp_affinity", "f\n");
  }

  IrqOptions options(IrqMode mode = IrqMode::kAuto) {
    IrqOptions out;
    out.mode = mode;
    out.irq_root = tree_.path("irq");
    out.proc_interrupts = tree_.path("interrupts");
    out.irqbalance_run_dir = run_dir();
    out.irqbalance_abstract_socket = false;
    out.on_event = [this](std::string_view line) { events_.emplace_back(line); };
    return out;
  }
  std::filesystem::path run_dir() const { return tree_.path("run/irqbalance"); }
  std::unique_ptr<Actuator> make(IrqMode mode = IrqMode::kAuto) {
    return make_irq_actuator(faulty_, journal_, options(mode));
  }
  static std::vector<std::string> settings(const FakeIrqbalance& fake) {
    std::vector<std::string> out;
    for (const std::string& command : fake.commands()) {
      if (command.starts_with("settings")) out.push_back(command);
    }
    return out;
  }
  int events_starting(std::string_view prefix) const {
    return static_cast<int>(std::count_if(events_.begin(), events_.end(), [&](const auto& line) {
      return line.starts_with(prefix);
    }));
  }
  nlohmann::json journal_on_disk() const {
    auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
    if (!loaded || !loaded->has_value()) return nullptr;
    return (**loaded).value("irqs", nlohmann::json());  // none: nothing left to restore
  }
  int irq_writes() const {
    return faulty_.write_attempts(tree_.path("irq/24/smp_affinity_list")) +
           faulty_.write_attempts(tree_.path("irq/default_smp_affinity"));
  }

  FixtureTree tree_;
  RealKernelFs real_;
  FaultyKernelFs faulty_;
  Journal journal_;
  std::vector<std::string> events_;
};

TEST_F(IrqbalanceModeTest, BansUserSetPlusNonPreferredAndGivesTheUserSetBack) {
  FakeIrqbalance irqbalance(run_dir(), 4242, CpuSet{5});
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(settings(irqbalance), std::vector<std::string>{"settings cpus 2-3,5"});
  EXPECT_EQ(irq_writes(), 0);  // irqbalance owns placement
  nlohmann::json status = actuator->status();
  EXPECT_EQ(status["active"], "irqbalance");
  EXPECT_EQ(status["irqbalance"]["pid"], 4242);
  EXPECT_EQ(status["irqbalance"]["user_banned"], "5");
  EXPECT_EQ(status["irqbalance"]["banned"], "2-3,5");
  EXPECT_EQ(
      journal_on_disk()["irqbalance"],
      (nlohmann::json{
          {"socket", irqbalance.socket_path().string()}, {"pid", 4242}, {"user_banned", "5"}}));

  irqbalance.scan();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(settings(irqbalance).size(), 1u);  // unchanged: nothing sent

  ASSERT_TRUE(actuator->apply(kOnline, kOnline));  // grow: the user's own set
  EXPECT_EQ(settings(irqbalance).back(), "settings cpus 5");
  EXPECT_EQ(journal_on_disk(), nullptr) << "nothing left to restore: the section is dropped";

  ASSERT_TRUE(actuator->apply(CpuSet{0}, kOnline));
  EXPECT_EQ(settings(irqbalance).back(), "settings cpus 1-3,5");
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(settings(irqbalance).back(), "settings cpus 5");
  irqbalance.scan();
  EXPECT_EQ(irqbalance.banned(), CpuSet{5});
}

TEST_F(IrqbalanceModeTest, EmptyUserSetIsGivenBackAsNull) {
  FakeIrqbalance irqbalance(run_dir(), 4242, CpuSet{});
  auto actuator = make(IrqMode::kIrqbalance);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(settings(irqbalance),
            (std::vector<std::string>{"settings cpus 2-3", "settings cpus NULL"}));
}

TEST_F(IrqbalanceModeTest, RestartedIrqbalanceGetsTheBanAgain) {
  auto first = std::make_unique<FakeIrqbalance>(run_dir(), 100, CpuSet{});
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  first->scan();
  first->kill();  // its socket file stays, refusing connections
  FakeIrqbalance second(run_dir(), 99, CpuSet{});
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(settings(second), std::vector<std::string>{"settings cpus 2-3"});
  EXPECT_EQ(actuator->status()["irqbalance"]["pid"], 99);
  EXPECT_EQ(events_starting("irqbalance restarted (PID 100 -> 99)"), 1);
  // The journal names the new instance before it is banned.
  EXPECT_EQ(journal_on_disk()["irqbalance"]["pid"], 99);
  EXPECT_EQ(irq_writes(), 0);
}

TEST_F(IrqbalanceModeTest, RestoreAfterIrqbalanceDiedIsNotAnError) {
  auto irqbalance = std::make_unique<FakeIrqbalance>(run_dir(), 4242, CpuSet{});
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  ASSERT_TRUE(journal_on_disk().contains("irqbalance"));
  irqbalance->kill();  // SIGKILLed: the ban died with it, the socket file stays
  auto status = actuator->restore();
  EXPECT_TRUE(status) << status.error().message;
  EXPECT_EQ(journal_on_disk(), nullptr) << "nothing left to restore: the section is dropped";
  EXPECT_EQ(events_starting("irqbalance PID 4242 is gone"), 1);
}

TEST_F(IrqbalanceModeTest, UnreachableFallsBackToBuiltinAndHandsOverWhenItAppears) {
  auto actuator = make(IrqMode::kIrqbalance);
  for (int period = 0; period < 3; ++period) ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(actuator->status()["active"], "builtin");
  EXPECT_EQ(tree_.read("irq/24/smp_affinity_list"), "0-1");
  EXPECT_EQ(tree_.read("irq/26/smp_affinity_list"), "3\n");  // a pin, left alone
  EXPECT_EQ(events_starting("irq_mode=irqbalance but irqbalance not reachable"), 1);

  auto irqbalance = std::make_unique<FakeIrqbalance>(run_dir(), 4242, CpuSet{});
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  // builtin's changes are put back before irqbalance takes over.
  EXPECT_EQ(tree_.read("irq/24/smp_affinity_list"), "0-3");
  EXPECT_EQ(tree_.read("irq/default_smp_affinity"), "f");
  EXPECT_EQ(settings(*irqbalance), std::vector<std::string>{"settings cpus 2-3"});
  EXPECT_EQ(actuator->status()["active"], "irqbalance");
  EXPECT_EQ(actuator->status()["irqs_changed"], 0);
  EXPECT_EQ(journal_on_disk().size(), 1u);
  EXPECT_TRUE(journal_on_disk().contains("irqbalance"));

  irqbalance.reset();  // gone, socket removed
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(actuator->status()["active"], "builtin");
  EXPECT_EQ(events_starting("irqbalance PID 4242 is gone"), 1);
  EXPECT_EQ(events_starting("irq_mode=irqbalance but irqbalance not reachable"), 2);
  EXPECT_EQ(tree_.read("irq/24/smp_affinity_list"), "0-1");
  // Single-CPU masks may be irqbalance's placements now, so they are steered too.
  EXPECT_EQ(tree_.read("irq/26/smp_affinity_list"), "0-1");
  EXPECT_FALSE(journal_on_disk().contains("irqbalance"));
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(tree_.read("irq/26/smp_affinity_list"), "3");
}

TEST_F(IrqbalanceModeTest, AnIrqbalanceThatDoesNotAnswerIsNotUsed) {
  FakeIrqbalance irqbalance(run_dir(), 4242, CpuSet{});
  irqbalance.refuse_everyone();
  auto actuator = make();
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(actuator->status()["active"], "builtin");
  EXPECT_EQ(tree_.read("irq/24/smp_affinity_list"), "0-1");
  ASSERT_EQ(events_starting("irqbalance not reachable"), 1);
  auto line = std::find_if(events_.begin(), events_.end(),
                           [](const auto& event) { return event.starts_with("irqbalance not"); });
  EXPECT_NE(line->find("it answers only root"), std::string::npos) << *line;
  ASSERT_TRUE(actuator->restore());
}

TEST_F(IrqbalanceModeTest, BuiltinModeWarnsOnceThatIrqbalanceWillFightIt) {
  FakeIrqbalance irqbalance(run_dir(), 4242, CpuSet{});
  auto actuator = make(IrqMode::kBuiltin);
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(events_starting("irqbalance PID 4242 is running"), 1);
  EXPECT_EQ(tree_.read("irq/24/smp_affinity_list"), "0-1");
  EXPECT_TRUE(settings(irqbalance).empty());
  ASSERT_TRUE(actuator->restore());
}

TEST_F(IrqbalanceModeTest, CrashRecoveryGivesTheSameIrqbalanceItsSetBack) {
  FakeIrqbalance irqbalance(run_dir(), 4242, CpuSet{});
  {
    auto crashed = make();
    ASSERT_TRUE(crashed->apply(kShrunk, kOnline));
  }
  irqbalance.scan();  // its setup now shows prefcpu's ban
  ASSERT_EQ(irqbalance.banned(), (CpuSet{2, 3}));
  auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(loaded && loaded->has_value());
  Journal fresh(testing::real_fs(), tree_.path("journal.json"));
  auto actuator = make_irq_actuator(faulty_, fresh, options());
  ASSERT_TRUE(actuator->recover((**loaded)["irqs"]));
  EXPECT_EQ(settings(irqbalance).back(), "settings cpus NULL");
  // Before its next scan, setup still says 2-3: the user's set must come from the journal.
  ASSERT_TRUE(actuator->apply(kShrunk, kOnline));
  EXPECT_EQ(settings(irqbalance).back(), "settings cpus 2-3");
  EXPECT_EQ(actuator->status()["irqbalance"]["user_banned"], "");
  ASSERT_TRUE(actuator->restore());
  EXPECT_EQ(settings(irqbalance).back(), "settings cpus NULL");
}

TEST_F(IrqbalanceModeTest, CrashRecoveryLeavesANewIrqbalanceAlone) {
  {
    FakeIrqbalance old(run_dir(), 100, CpuSet{});
    auto crashed = make();
    ASSERT_TRUE(crashed->apply(kShrunk, kOnline));
  }
  FakeIrqbalance restarted(run_dir(), 200, CpuSet{});
  auto loaded = Journal::load(testing::real_fs(), tree_.path("journal.json"));
  ASSERT_TRUE(loaded && loaded->has_value());
  Journal fresh(testing::real_fs(), tree_.path("journal.json"));
  auto actuator = make_irq_actuator(faulty_, fresh, options());
  ASSERT_TRUE(actuator->recover((**loaded)["irqs"]));
  EXPECT_TRUE(settings(restarted).empty());
  EXPECT_EQ(events_starting("irqbalance PID 100 of the previous run is gone"), 1);
}

}  // namespace
}  // namespace prefcpu
