// A SystemdBus stand-in: units with a load state and AllowedCPUs=, a switch that takes the bus
// away, and a pending daemon-reload. The test keeps a FakeSystemd and hands the actuator a bus
// that forwards to it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "linux/systemd/systemd_bus.h"

namespace prefcpu::testing {

struct FakeSystemd {
  struct Unit {
    std::string load_state = "loaded";
    CpuSet allowed;
  };
  std::map<std::string, Unit> units;
  bool down = false;            // every call fails as when dbus-daemon is gone
  bool reload_pending = false;  // a Reloading(false) signal waits to be read
  std::vector<std::pair<std::string, CpuSet>> sets;
  int reads = 0;
  std::function<void(const std::string&, const CpuSet&)> on_set;  // before a set lands

  void add(const std::string& name, CpuSet allowed = {}) { units[name] = Unit{"loaded", allowed}; }
  // A daemon-reload: runtime settings stay unless `drop` (their drop-ins were removed).
  void daemon_reload(const std::map<std::string, CpuSet>& drop = {}) {
    for (const auto& [name, value] : drop) units[name].allowed = value;
    reload_pending = true;
  }
};

class FakeBus final : public SystemdBus {
 public:
  explicit FakeBus(FakeSystemd& systemd) : systemd_(systemd) {}
  Status check_unit(const std::string& unit) override {
    if (systemd_.down) return make_error("connecting to the system bus: Connection refused");
    auto it = systemd_.units.find(unit);
    std::string state = it == systemd_.units.end() ? "not-found" : it->second.load_state;
    if (state != "loaded") return make_error("unit {} has LoadState \"{}\"", unit, state);
    return {};
  }
  Result<CpuSet> allowed_cpus(const std::string& unit) override {
    if (systemd_.down) return make_error("reading AllowedCPUs of {}: Connection reset", unit);
    ++systemd_.reads;
    return systemd_.units.at(unit).allowed;
  }
  Status set_allowed_cpus(const std::string& unit, const CpuSet& cpus) override {
    if (systemd_.down) return make_error("SetUnitProperties {}: Connection reset", unit);
    if (systemd_.on_set) systemd_.on_set(unit, cpus);
    systemd_.units.at(unit).allowed = cpus;
    systemd_.sets.emplace_back(unit, cpus);
    return {};
  }
  bool reloaded() override {
    if (systemd_.down) return false;
    bool seen = systemd_.reload_pending;
    systemd_.reload_pending = false;
    return seen;
  }

 private:
  FakeSystemd& systemd_;
};

}  // namespace prefcpu::testing
