// The systemd backend of prefcpud: confines the managed units (slices by default) by setting
// their AllowedCPUs= to original ∩ preferred through systemd, so systemd itself writes
// cpuset.cpus and keeps it across `systemctl daemon-reload`. Originals go to the journal first.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "linux/actuator.h"
#include "linux/cgroup/cpuset_actuator.h"  // NoticeSink
#include "linux/journal.h"
#include "linux/systemd/systemd_bus.h"

namespace prefcpu {

struct SystemdOptions {
  // Unit names, or cgroup paths whose last component is the unit ("system.slice/foo.service").
  // Empty: kDefaultUnits.
  std::vector<std::string> units;
  NoticeSink notice;
  // CLOCK_MONOTONIC in ns. Units are re-read at most every kVerifyNs (and after a daemon-reload);
  // unset: every apply.
  std::function<std::int64_t()> now_ns;
};

class UnitActuator final : public Actuator {
 public:
  static constexpr std::string_view kName = "systemd";
  static constexpr std::int64_t kVerifyNs = 5'000'000'000;
  static const std::vector<std::string>& default_units();

  // Checks every unit (known to systemd, loaded, of a type with cgroup settings) and reads its
  // AllowedCPUs= as the original. A unit that fails is left out and named in rejected(); none
  // left is an error. Changes nothing.
  static Result<std::unique_ptr<UnitActuator>> create(std::unique_ptr<SystemdBus> bus,
                                                      Journal& journal, SystemdOptions options);
  // An actuator that only knows how to undo a journal section (recover).
  static std::unique_ptr<UnitActuator> for_recovery(std::unique_ptr<SystemdBus> bus,
                                                    Journal& journal, NoticeSink notice);

  std::string_view name() const override { return kName; }
  Status apply(const CpuSet& preferred, const CpuSet& online) override;
  Status restore() override;
  Status recover(const nlohmann::json& section) override;
  nlohmann::json status() const override;

  // "unit: why" for each unit that create() left out.
  const std::vector<std::string>& rejected() const { return rejected_; }
  std::vector<std::string> managed_units() const;
  nlohmann::json journal_section() const;

 private:
  struct Unit {
    CpuSet original;              // AllowedCPUs= before us (empty: unset)
    std::optional<CpuSet> known;  // what systemd held after our last read or write
    bool empty_noted = false;
  };
  struct Counters {
    std::uint64_t writes = 0;
    std::uint64_t unchanged = 0;
    std::uint64_t verifies = 0;
    std::uint64_t reloads = 0;
    std::uint64_t reapplied = 0;
    std::uint64_t adopted = 0;
    std::uint64_t restores = 0;
  };

  UnitActuator(std::unique_ptr<SystemdBus> bus, Journal& journal, SystemdOptions options);

  void notify(NoticeLevel level, const std::string& message) const;
  CpuSet target(const std::string& name, Unit& unit, const CpuSet& preferred,
                const CpuSet& online) const;
  Status set_original(const std::string& name, Unit& unit);
  void reconcile(const std::string& name, Unit& unit, const CpuSet& current);

  std::unique_ptr<SystemdBus> bus_;
  Journal& journal_;
  SystemdOptions options_;
  std::map<std::string, Unit> units_;
  std::vector<std::string> rejected_;
  std::optional<std::int64_t> verified_ns_;
  CpuSet online_;  // at the last apply: what an unset unit widens to before it is unset again
  Counters counters_;
};

// The unit a configured name stands for: the last component of a cgroup path.
std::string unit_of(const std::string& name);

}  // namespace prefcpu
