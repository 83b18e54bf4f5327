// SystemdBus over sd-bus(3): the system bus, systemd's Manager and Unit objects.
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstring>

#include "linux/systemd/systemd_bus.h"

namespace prefcpu {

namespace {

constexpr const char* kDestination = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr std::uint64_t kCallTimeoutUs = 5'000'000;  // well inside WatchdogSec

// Errors that mean the connection is gone (dbus-daemon restarted, systemd re-executed).
bool connection_lost(int r) {
  return r == -ECONNRESET || r == -ENOTCONN || r == -EPIPE || r == -ESHUTDOWN ||
         r == -ECONNREFUSED || r == -ENOENT || r == -ETIMEDOUT;
}

class BusError {
 public:
  BusError() = default;
  BusError(const BusError&) = delete;
  BusError& operator=(const BusError&) = delete;
  ~BusError() { sd_bus_error_free(&error_); }
  sd_bus_error* get() { return &error_; }
  std::string text(int r) const {
    if (sd_bus_error_is_set(&error_) != 0 && error_.message != nullptr) return error_.message;
    return std::strerror(-r);
  }

 private:
  sd_bus_error error_ = SD_BUS_ERROR_NULL;
};

struct MessageRef {
  sd_bus_message* message = nullptr;
  MessageRef() = default;
  MessageRef(const MessageRef&) = delete;
  MessageRef& operator=(const MessageRef&) = delete;
  ~MessageRef() { sd_bus_message_unref(message); }
};

class SdBus final : public SystemdBus {
 public:
  SdBus() = default;
  SdBus(const SdBus&) = delete;
  SdBus& operator=(const SdBus&) = delete;
  ~SdBus() override { disconnect(); }

  Status check_unit(const std::string& unit) override {
    auto path = unit_path(unit);
    if (!path) return path.error();
    BusError error;
    char* state = nullptr;
    int r = sd_bus_get_property_string(bus_, kDestination, path->c_str(),
                                       "org.freedesktop.systemd1.Unit", "LoadState", error.get(),
                                       &state);
    if (r < 0) return failed(r, error, "reading LoadState of {}", unit);
    std::string load_state(state);
    std::free(state);  // NOLINT(cppcoreguidelines-no-malloc): sd-bus allocates with malloc
    if (load_state != "loaded") {
      return make_error(
          "unit {} has LoadState \"{}\": systemd only sets properties of a loaded unit", unit,
          load_state);
    }
    return {};
  }

  Result<CpuSet> allowed_cpus(const std::string& unit) override {
    auto path = unit_path(unit);
    if (!path) return path.error();
    std::string interface = unit_cgroup_interface(unit);
    if (interface.empty()) return make_error("unit {} has no cgroup settings", unit);
    BusError error;
    MessageRef reply;
    int r = sd_bus_get_property(bus_, kDestination, path->c_str(), interface.c_str(), "AllowedCPUs",
                                error.get(), &reply.message, "ay");
    if (r < 0) return failed(r, error, "reading AllowedCPUs of {}", unit);
    const void* bytes = nullptr;
    std::size_t size = 0;
    r = sd_bus_message_read_array(reply.message, 'y', &bytes, &size);
    if (r < 0) return make_errno_error(-r, "AllowedCPUs of {}: {}", unit, std::strerror(-r));
    return cpus_from_bytes(static_cast<const unsigned char*>(bytes), size);
  }

  Status set_allowed_cpus(const std::string& unit, const CpuSet& cpus) override {
    if (auto status = connect(); !status) return status;
    MessageRef call;
    int r = sd_bus_message_new_method_call(bus_, &call.message, kDestination, kManagerPath,
                                           kManager, "SetUnitProperties");
    std::string bytes = cpus_to_bytes(cpus);
    if (r >= 0) r = sd_bus_message_append(call.message, "sb", unit.c_str(), 1);
    if (r >= 0) r = sd_bus_message_open_container(call.message, 'a', "(sv)");
    if (r >= 0) r = sd_bus_message_open_container(call.message, 'r', "sv");
    if (r >= 0) r = sd_bus_message_append(call.message, "s", "AllowedCPUs");
    if (r >= 0) r = sd_bus_message_open_container(call.message, 'v', "ay");
    if (r >= 0) r = sd_bus_message_append_array(call.message, 'y', bytes.data(), bytes.size());
    for (int i = 0; i < 3 && r >= 0; ++i) r = sd_bus_message_close_container(call.message);
    if (r < 0) {
      return make_errno_error(-r, "building SetUnitProperties for {}: {}", unit, std::strerror(-r));
    }
    BusError error;
    r = sd_bus_call(bus_, call.message, kCallTimeoutUs, error.get(), nullptr);
    if (r < 0) {
      return failed(r, error, "SetUnitProperties {} AllowedCPUs={}", unit,
                    cpus.empty() ? std::string("(unset)") : format_cpulist(cpus));
    }
    return {};
  }

  bool reloaded() override {
    if (bus_ != nullptr) {
      int r = 0;
      while ((r = sd_bus_process(bus_, nullptr)) > 0) {
      }
      if (r < 0 && connection_lost(r)) disconnect();
    }
    bool seen = reloaded_;
    reloaded_ = false;
    return seen;
  }

 private:
  Status connect() {
    if (bus_ != nullptr && sd_bus_is_open(bus_) > 0) return {};
    bool again = bus_ != nullptr || was_connected_;
    disconnect();
    int r = sd_bus_open_system(&bus_);
    if (r < 0) {
      bus_ = nullptr;
      return make_errno_error(-r, "connecting to the system bus: {}", std::strerror(-r));
    }
    // Reloading(false) ends a daemon-reload; systemd sends its signals to subscribers only.
    r = sd_bus_match_signal(bus_, &reload_slot_, kDestination, kManagerPath, kManager, "Reloading",
                            &SdBus::on_reloading, this);
    BusError error;
    if (r >= 0) {
      r = sd_bus_call_method(bus_, kDestination, kManagerPath, kManager, "Subscribe", error.get(),
                             nullptr, "");
    }
    if (r < 0) {
      Status status = make_errno_error(-r, "subscribing to systemd's signals: {}", error.text(r));
      disconnect();
      return status;
    }
    was_connected_ = true;
    // A reload may have happened while we were away: verify as after one.
    if (again) reloaded_ = true;
    return {};
  }

  void disconnect() {
    reload_slot_ = sd_bus_slot_unref(reload_slot_);
    if (bus_ != nullptr) bus_ = sd_bus_flush_close_unref(bus_);
  }

  static int on_reloading(sd_bus_message* message, void* data, sd_bus_error* /*error*/) {
    int active = 0;
    if (sd_bus_message_read(message, "b", &active) >= 0 && active == 0) {
      static_cast<SdBus*>(data)->reloaded_ = true;
    }
    return 0;
  }

  Result<std::string> unit_path(const std::string& unit) {
    if (auto status = connect(); !status) return status.error();
    BusError error;
    MessageRef reply;
    int r = sd_bus_call_method(bus_, kDestination, kManagerPath, kManager, "LoadUnit", error.get(),
                               &reply.message, "s", unit.c_str());
    if (r < 0) return failed(r, error, "loading unit {}", unit);
    const char* path = nullptr;
    r = sd_bus_message_read(reply.message, "o", &path);
    if (r < 0) return make_errno_error(-r, "LoadUnit {}: {}", unit, std::strerror(-r));
    return std::string(path);
  }

  template <typename... Args>
  Error failed(int r, const BusError& error, fmt::format_string<Args...> what, Args&&... args) {
    if (connection_lost(r) || (bus_ != nullptr && sd_bus_is_open(bus_) <= 0)) disconnect();
    return make_errno_error(-r, "{}: {}", fmt::format(what, std::forward<Args>(args)...),
                            error.text(r));
  }

  sd_bus* bus_ = nullptr;
  sd_bus_slot* reload_slot_ = nullptr;
  bool reloaded_ = false;
  bool was_connected_ = false;
};

}  // namespace

std::unique_ptr<SystemdBus> make_sd_bus() {
  return std::make_unique<SdBus>();
}

std::string unit_cgroup_interface(const std::string& unit) {
  static constexpr std::pair<std::string_view, std::string_view> kTypes[] = {
      {".slice", "Slice"},   {".service", "Service"}, {".scope", "Scope"},
      {".socket", "Socket"}, {".mount", "Mount"},     {".swap", "Swap"}};
  for (const auto& [suffix, name] : kTypes) {
    if (unit.size() > suffix.size() && unit.ends_with(suffix)) {
      return "org.freedesktop.systemd1." + std::string(name);
    }
  }
  return {};
}

std::string cpus_to_bytes(const CpuSet& cpus) {
  std::string bytes;
  if (auto last = cpus.last()) bytes.assign(*last / 8 + 1, '\0');
  for (unsigned cpu : cpus) {
    bytes[cpu / 8] =
        static_cast<char>(static_cast<unsigned char>(bytes[cpu / 8]) | (1U << (cpu % 8)));
  }
  return bytes;
}

CpuSet cpus_from_bytes(const unsigned char* bytes, std::size_t size) {
  CpuSet cpus;
  for (std::size_t i = 0; i < size && i * 8 < CpuSet::kMaxCpus; ++i) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      if ((bytes[i] & (1U << bit)) != 0) cpus.set(static_cast<unsigned>(i * 8 + bit));
    }
  }
  return cpus;
}

}  // namespace prefcpu
