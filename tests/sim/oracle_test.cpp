// The oracle yardstick: its static partition, and a run held at that partition from t = 0.
#include "sim/oracle.h"

#include <gtest/gtest.h>

#include "sim/run.h"
#include "sim/scenario.h"

namespace prefcpu::sim::testing {
namespace {

using Shares = std::vector<std::uint32_t>;

TEST(OracleShares, ProportionalAtLeastOneAtMostTheVcpusSpareToLargestRemainder) {
  EXPECT_EQ(oracle_shares(2, {4, 4}), (Shares{1, 1}));
  EXPECT_EQ(oracle_shares(2, {6, 2}), (Shares{1, 1}));      // 1.5 and 0.5: the small VM gets its 1
  EXPECT_EQ(oracle_shares(16, {24, 16}), (Shares{10, 6}));  // 9.6 and 6.4: the spare to .6
  EXPECT_EQ(oracle_shares(4, {1, 8}), (Shares{1, 3}));
  EXPECT_EQ(oracle_shares(8, {2, 2}), (Shares{2, 2}));  // never more than a VM's vCPUs
  EXPECT_EQ(oracle_shares(3, {1, 1, 1, 1, 1}), (Shares{1, 1, 1, 1, 1}));  // overcommitted still
  EXPECT_EQ(oracle_shares(3, {2, 2, 2}), (Shares{1, 1, 1}));
  EXPECT_EQ(oracle_shares(5, {2, 2, 2}), (Shares{2, 2, 1}));  // ties: earlier VMs first
  EXPECT_EQ(oracle_shares(4, {}), Shares{});
}

TEST(OracleRun, HoldsTheShareFromTheStartAndRemovesTheSteal) {
  auto scenario = load_scenario("cpu-bound");  // 16 + 16 busy vCPUs on 16 pCPUs
  ASSERT_TRUE(scenario.ok());
  RunOptions options;
  options.governor = std::string(kOracle);
  options.scale = 0.02;
  options.check_invariants = false;
  auto report = run_scenario(*scenario, options);
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_EQ(report->results.size(), 2U);
  const CaseResult& none = report->results[0];
  const CaseResult& oracle = report->results[1];
  EXPECT_EQ(oracle.governor, kOracle);
  for (std::size_t i = 0; i < oracle.vms.size(); ++i) {
    EXPECT_DOUBLE_EQ(oracle.vms[i].mean_preferred, 8.0) << oracle.vms[i].name;
    EXPECT_EQ(oracle.vms[i].stats.shrinks, 0U) << "the oracle never decides";
    EXPECT_GT(none.vms[i].steal_pct, 40.0);
    EXPECT_LT(oracle.vms[i].steal_pct, none.vms[i].steal_pct / 4) << oracle.vms[i].name;
  }
}

TEST(OracleRun, AnUnknownGovernorNamesTheOracleToo) {
  auto scenario = load_scenario("cpu-bound");
  ASSERT_TRUE(scenario.ok());
  RunOptions options;
  options.governor = "oracel";
  auto report = run_scenario(*scenario, options);
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message.find("unknown governor \"oracel\""), std::string::npos);
  EXPECT_NE(report.error().message.find("\"oracle\""), std::string::npos) << report.error().message;
}

}  // namespace
}  // namespace prefcpu::sim::testing
