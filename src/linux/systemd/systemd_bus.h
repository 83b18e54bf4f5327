// The seam to systemd's D-Bus API (org.freedesktop.systemd1(5)): the few calls the systemd
// backend makes, so tests drive it with a fake bus and the real one stays a thin sd-bus wrapper.
#pragma once

#include <memory>
#include <string>

#include "core/cpu_set.h"
#include "core/result.h"

namespace prefcpu {

class SystemdBus {
 public:
  virtual ~SystemdBus() = default;
  // Loads the unit and checks that systemd knows it (LoadState "loaded"). An error names the
  // unit and its load state ("not-found", "masked", ...).
  virtual Status check_unit(const std::string& unit) = 0;
  // The unit's AllowedCPUs= (empty: unset, every CPU).
  virtual Result<CpuSet> allowed_cpus(const std::string& unit) = 0;
  // SetUnitProperties(unit, runtime=true, AllowedCPUs=cpus); empty resets it to unset.
  virtual Status set_allowed_cpus(const std::string& unit, const CpuSet& cpus) = 0;
  // True once after systemd finished a daemon-reload (its Reloading(false) signal) since the
  // last call. Never blocks.
  virtual bool reloaded() = 0;
};

// The system bus through sd-bus, connected lazily and again after the connection is lost.
std::unique_ptr<SystemdBus> make_sd_bus();

// The D-Bus interface that carries AllowedCPUs for a unit's type, or empty when a unit of that
// type has no cgroup settings (target, timer, path, device, automount).
std::string unit_cgroup_interface(const std::string& unit);

// AllowedCPUs travels as a byte array: bit j of byte i is CPU 8*i+j (systemd's cpu_set_to_dbus).
std::string cpus_to_bytes(const CpuSet& cpus);
CpuSet cpus_from_bytes(const unsigned char* bytes, std::size_t size);

}  // namespace prefcpu
