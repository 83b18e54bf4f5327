// prefcpuctl's human views of the daemon's replies, as pure functions: `status` and `history`.
#include "ctl/status_view.h"

#include <gtest/gtest.h>

namespace prefcpu {
namespace {

// The IRQ actuator's status as docs/irq.md documents it.
nlohmann::json irq_status() {
  return nlohmann::json::parse(R"({
    "mode": "auto", "active": "builtin", "irqs_total": 19, "irqs_managed": 17,
    "irqs_unmanaged": 1, "irqs_pending_retry": 0, "irqs_pinned": 3, "irqs_changed": 5,
    "unmanaged": [36], "pending_retry": [], "pinned": [24, 25, 130],
    "default_smp_affinity": {"original": "3", "current": "1", "state": "managed"},
    "interrupts_non_preferred": 12, "interrupts_total": 840,
    "interrupts_non_preferred_top": [{"irq": 36, "count": 12}],
    "irqbalance": {"reachable": false, "error": null},
    "last_event": "IRQ 36 refused a write with EPERM: left unmanaged", "last_error": null
  })");
}

TEST(StatusViewTest, IrqsAreReadableLinesNotJson) {
  auto lines = format_irq_status(irq_status());
  ASSERT_GE(lines.size(), 4U);
  EXPECT_EQ(lines[0],
            "irqs       builtin (irq_mode auto): 17 managed, 1 unmanaged (36), 0 retrying, 3 "
            "pinned (24 25 130), 5 changed from their original");
  EXPECT_EQ(lines[1], "  interrupts on non-preferred CPUs: 12 of 840 last period (IRQ 36: 12)");
  EXPECT_EQ(lines[2], "  default_smp_affinity: 1 (original 3, managed)");
  EXPECT_EQ(lines[3], "  irqbalance: not reachable");
  EXPECT_EQ(lines.back(), "  last event: IRQ 36 refused a write with EPERM: left unmanaged");
}

TEST(StatusViewTest, IrqbalanceAndNotYetMeasuredInterrupts) {
  auto irqs = irq_status();
  irqs["interrupts_non_preferred"] = nullptr;
  irqs["irqbalance"] = {{"reachable", true}, {"pid", 812},        {"socket", "@"},
                        {"banned", "2-3"},   {"user_banned", ""}, {"error", nullptr}};
  auto lines = format_irq_status(irqs);
  EXPECT_EQ(lines[1], "  interrupts on non-preferred CPUs: not measured yet");
  EXPECT_EQ(lines[3], "  irqbalance: pid 812 on @, banned 2-3 (the user's own: )");
}

TEST(StatusViewTest, StatusPrintsNoJsonForAnyActuator) {
  nlohmann::json status = {
      {"state", "running"},
      {"pid", 7},
      {"mode", "enforce"},
      {"mode_reason", "KVM guest"},
      {"preferred", "0-2"},
      {"online", "0-3"},
      {"steal_bp", 630},
      {"last_action", "shrink"},
      {"governor", "kernel"},
      {"automatic", true},
      {"knobs", {{"interval_ms", 1000}, {"high_threshold", 500}, {"low_threshold", 200}}},
      {"counters", {{"periods", 3}, {"shrinks", 1}}},
      {"actuators",
       {{"irqs", irq_status()},
        {"workqueues",
         {{"state", "following"},
          {"current", "08"},
          {"original", "f8"},
          {"writes", 3},
          {"refused_writes", 0},
          {"last_event", nullptr}}},
        {"kthreads",
         {{"state", "following"},
          {"confined", 12},
          {"movable", 14},
          {"moves", 12},
          {"left_alone", 1},
          {"last_event", "1 unbound kernel threads back on their original CPUs"}}},
        {"other", {{"applies", 3}, {"list", {1, 2}}}}}}};
  std::string out = format_status(status);
  EXPECT_NE(out.find("workqueues following: cpumask 08 (original f8), 3 writes, 0 refused\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("kthreads   following: 12 of 14 movable unbound kernel threads confined, 12 "
                     "moves, 1 left alone\n  last event: 1 unbound kernel threads back"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("preferred  0-2   (online 0-3)\n"), std::string::npos) << out;
  EXPECT_NE(out.find("irqs       builtin (irq_mode auto)"), std::string::npos) << out;
  EXPECT_NE(out.find("other      applies 3\n"), std::string::npos) << out;
  EXPECT_EQ(out.find('{'), std::string::npos) << "raw JSON belongs under --json:\n" << out;
  EXPECT_NE(out.find("periods    3: 1 shrink, - grow"), std::string::npos) << out;
}

TEST(StatusViewTest, OddRepliesNeverThrow) {
  for (const auto& odd : {nlohmann::json(), nlohmann::json(1), nlohmann::json::array(),
                          nlohmann::json{{"actuators", 5}, {"knobs", "x"}}}) {
    EXPECT_NO_THROW((void)format_status(odd));
    EXPECT_NO_THROW((void)format_irq_status(odd));
    EXPECT_NO_THROW((void)format_history(odd));
  }
}

TEST(StatusViewTest, HistoryIsATableOfAges) {
  nlohmann::json reply = {{"monotonic_ns", 3'000'000'000},
                          {"history",
                           {{{"monotonic_ns", 1'000'000'000},
                             {"steal_bp", 630},
                             {"action", "shrink"},
                             {"preferred", "0-2"},
                             {"online", "0-3"}}}}};
  EXPECT_EQ(format_history(reply),
            "   age_s  steal_bp  action    preferred        online\n"
            "    -2.0       630  shrink    0-2              0-3\n");
}

}  // namespace
}  // namespace prefcpu
