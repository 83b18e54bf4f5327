// A deliberately simple second implementation of the policy, written straight from the spec with
// std::set and loops, to check the real one against on random inputs.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace prefcpu::reference {

using Cpus = std::set<unsigned>;

struct Machine {
  std::vector<Cpus> cores;
  Cpus nohz_full;
  Cpus isolated;
  Cpus siblings(unsigned cpu) const;
};

struct Outcome {
  std::string action;
  std::optional<std::uint64_t> steal_bp;
  Cpus preferred;
};

class Monitor {
 public:
  Monitor(Machine machine, bool direction_rule, std::uint32_t high, std::uint32_t low,
          std::uint64_t user_hz)
      : machine_(std::move(machine)),
        direction_rule_(direction_rule),
        high_(high),
        low_(low),
        user_hz_(user_hz) {}

  Outcome observe(std::int64_t t_ns, std::uint64_t steal_ticks, const Cpus& online);

 private:
  void shrink(const Cpus& online);
  void grow(const Cpus& online);

  Machine machine_;
  bool direction_rule_;
  std::uint32_t high_;
  std::uint32_t low_;
  std::uint64_t user_hz_;
  bool started_ = false;
  std::int64_t base_t_ = 0;
  std::uint64_t base_steal_ = 0;
  Cpus previous_online_;
  Cpus preferred_;
  int direction_ = 0;  // -1 grow, 0 none, +1 shrink
};

std::string format(const Cpus& cpus);

}  // namespace prefcpu::reference
