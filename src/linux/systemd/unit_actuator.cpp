#include "linux/systemd/unit_actuator.h"

namespace prefcpu {

namespace {

std::string describe(const CpuSet& cpus) {
  return cpus.empty() ? std::string("(unset)") : format_cpulist(cpus);
}

std::string join(const std::vector<std::string>& items) {
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : "; ") + item;
  return joined;
}

}  // namespace

std::string unit_of(const std::string& name) {
  auto slash = name.find_last_of('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

const std::vector<std::string>& UnitActuator::default_units() {
  static const std::vector<std::string> kUnits = {"system.slice", "user.slice", "machine.slice"};
  return kUnits;
}

UnitActuator::UnitActuator(std::unique_ptr<SystemdBus> bus, Journal& journal,
                           SystemdOptions options)
    : bus_(std::move(bus)), journal_(journal), options_(std::move(options)) {}

Result<std::unique_ptr<UnitActuator>> UnitActuator::create(std::unique_ptr<SystemdBus> bus,
                                                           Journal& journal,
                                                           SystemdOptions options) {
  std::vector<std::string> names = options.units.empty() ? default_units() : options.units;
  std::unique_ptr<UnitActuator> actuator(
      new UnitActuator(std::move(bus), journal, std::move(options)));
  for (const auto& configured : names) {
    std::string unit = unit_of(configured);
    if (actuator->units_.contains(unit)) continue;
    if (unit_cgroup_interface(unit).empty()) {
      actuator->rejected_.push_back(fmt::format(
          "{}: not a unit with cgroup settings: expected a .slice, .service, .scope, .socket, "
          ".mount or .swap unit",
          configured));
      continue;
    }
    if (auto status = actuator->bus_->check_unit(unit); !status) {
      actuator->rejected_.push_back(status.error().message);
      continue;
    }
    auto allowed = actuator->bus_->allowed_cpus(unit);
    if (!allowed) {
      actuator->rejected_.push_back(allowed.error().message);
      continue;
    }
    actuator->units_[unit] = Unit{*allowed, *allowed, false};
  }
  if (actuator->units_.empty()) {
    return make_error("systemd backend: no unit can be managed ({})", join(actuator->rejected_));
  }
  (void)actuator->bus_->reloaded();  // the first apply reads every unit anyway
  return actuator;
}

std::unique_ptr<UnitActuator> UnitActuator::for_recovery(std::unique_ptr<SystemdBus> bus,
                                                         Journal& journal, NoticeSink notice) {
  SystemdOptions options;
  options.notice = std::move(notice);
  return std::unique_ptr<UnitActuator>(new UnitActuator(std::move(bus), journal, options));
}

void UnitActuator::notify(NoticeLevel level, const std::string& message) const {
  if (options_.notice) options_.notice(level, message);
}

std::vector<std::string> UnitActuator::managed_units() const {
  std::vector<std::string> names;
  for (const auto& [name, unit] : units_) names.push_back(name);
  return names;
}

nlohmann::json UnitActuator::journal_section() const {
  nlohmann::json units = nlohmann::json::object();
  for (const auto& [name, unit] : units_) units[name] = format_cpulist(unit.original);
  return {{"units", units}, {"online", format_cpulist(online_)}};
}

CpuSet UnitActuator::target(const std::string& name, Unit& unit, const CpuSet& preferred,
                            const CpuSet& online) const {
  // Unsetting AllowedCPUs= lets systemd drop the cpuset controller, and the tasks then keep the
  // last CPUs it allowed: an unset unit gets every online CPU instead (again on hotplug).
  if (online.is_subset_of(preferred)) return unit.original.empty() ? online : unit.original;
  CpuSet want = (unit.original.empty() ? online : unit.original) & preferred;
  if (want.empty()) {
    if (!unit.empty_noted) {
      notify(NoticeLevel::kWarning,
             fmt::format("systemd: {} AllowedCPUs={} ∩ preferred {} is empty; leaving it as it was",
                         name, describe(unit.original), format_cpulist(preferred)));
      unit.empty_noted = true;
    }
    return unit.original;
  }
  unit.empty_noted = false;
  return want;
}

void UnitActuator::reconcile(const std::string& name, Unit& unit, const CpuSet& current) {
  if (unit.known && *unit.known == current) return;
  if (unit.known && current == unit.original) {
    // Our runtime setting is gone (its drop-in removed, a revert): put it back.
    ++counters_.reapplied;
    notify(NoticeLevel::kInfo,
           fmt::format("systemd: {} AllowedCPUs= is back at its original {}; re-applying", name,
                       describe(current)));
  } else if (unit.known) {
    ++counters_.adopted;
    notify(NoticeLevel::kWarning,
           fmt::format("systemd: {} AllowedCPUs= was set to {} by someone else (prefcpud set {}); "
                       "taking it as the unit's original",
                       name, describe(current), describe(*unit.known)));
    unit.original = current;
  }
  unit.known = current;
}

Status UnitActuator::apply(const CpuSet& preferred, const CpuSet& online) {
  std::int64_t now = options_.now_ns ? options_.now_ns() : 0;
  online_ = online;
  bool reloaded = bus_->reloaded();
  if (reloaded) ++counters_.reloads;
  bool verify = !options_.now_ns || reloaded || !verified_ns_ || now - *verified_ns_ >= kVerifyNs;
  std::vector<std::string> errors;
  for (auto& [name, unit] : units_) {
    if (verify || !unit.known) {
      auto current = bus_->allowed_cpus(name);
      if (!current) {
        unit.known.reset();  // unknown until read again
        errors.push_back(current.error().message);
        continue;
      }
      reconcile(name, unit, *current);
    }
    CpuSet want = target(name, unit, preferred, online);
    if (unit.known && *unit.known == want) {
      ++counters_.unchanged;
      continue;
    }
    if (auto status = journal_.record(kName, journal_section()); !status) return status;
    if (auto status = bus_->set_allowed_cpus(name, want); !status) {
      unit.known.reset();
      errors.push_back(status.error().message);
      continue;
    }
    unit.known = want;
    ++counters_.writes;
  }
  if (verify) ++counters_.verifies;
  if (!errors.empty()) return make_error("{}", join(errors));
  if (verify) verified_ns_ = now;
  return {};
}

Status UnitActuator::restore() {
  std::vector<std::string> errors;
  for (auto& [name, unit] : units_) {
    if (!unit.known) {
      // Unknown after an error: read it, and write the original unless it holds it already.
      auto current = bus_->allowed_cpus(name);
      if (current) unit.known = *current;
    }
    if (unit.known && *unit.known == unit.original) continue;
    if (auto status = set_original(name, unit); !status) errors.push_back(status.error().message);
  }
  if (!errors.empty()) return make_error("{}", join(errors));
  return journal_.record(kName, nlohmann::json::object());
}

Status UnitActuator::set_original(const std::string& name, Unit& unit) {
  // Widen to every online CPU first: the tasks keep what the cpuset last allowed once unset.
  if (unit.original.empty() && !online_.empty() && unit.known != online_) {
    if (auto status = bus_->set_allowed_cpus(name, online_); !status) return status;
    unit.known = online_;
  }
  if (auto status = bus_->set_allowed_cpus(name, unit.original); !status) return status;
  unit.known = unit.original;
  ++counters_.restores;
  return {};
}

Status UnitActuator::recover(const nlohmann::json& section) {
  if (!section.is_object() || !section.contains("units") || !section["units"].is_object()) {
    return make_error("journal section \"systemd\" has no \"units\" object: {}", section.dump());
  }
  units_.clear();
  if (section.contains("online") && section["online"].is_string()) {
    auto online = parse_cpulist(section["online"].get<std::string>());
    if (online) online_ = *online;
  }
  for (const auto& [name, value] : section["units"].items()) {
    if (!value.is_string()) {
      return make_error("journal section \"systemd\": unit {} has {}, expected a cpulist string",
                        name, value.dump());
    }
    auto cpus = parse_cpulist(value.get<std::string>());
    if (!cpus)
      return make_error("journal section \"systemd\", unit {}: {}", name, cpus.error().message);
    units_[name] = Unit{*cpus, std::nullopt, false};
  }
  return restore();
}

nlohmann::json UnitActuator::status() const {
  nlohmann::json units = nlohmann::json::object();
  for (const auto& [name, unit] : units_) {
    units[name] = {{"original", format_cpulist(unit.original)},
                   {"allowed_cpus", unit.known ? format_cpulist(*unit.known) : "unknown"}};
  }
  return {{"units", units},
          {"rejected", rejected_},
          {"writes", counters_.writes},
          {"unchanged", counters_.unchanged},
          {"verifies", counters_.verifies},
          {"reloads_seen", counters_.reloads},
          {"reapplied", counters_.reapplied},
          {"adopted", counters_.adopted},
          {"restores", counters_.restores}};
}

}  // namespace prefcpu
