// One seed drives every random draw. xoshiro256** seeded through splitmix64, and our own
// exponential draw: std::*_distribution output differs between standard libraries.
#pragma once

#include <cmath>
#include <cstdint>

namespace prefcpu::sim {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  // stream separates independent users of one seed (one per VM).
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0) {
    std::uint64_t state = seed ^ (stream * 0xd1342543de82ef95ULL);
    for (auto& word : s_) word = splitmix64(state);
  }

  std::uint64_t next() {
    std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(((next() >> 32) * n) >> 32);
  }

  // Uniform in (0, 1].
  double unit() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }

  // Exponential with the given mean, at least 1 ns.
  std::int64_t exponential(std::int64_t mean) {
    if (mean <= 1) return 1;
    auto value = static_cast<std::int64_t>(-std::log(unit()) * static_cast<double>(mean));
    return value < 1 ? 1 : value;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace prefcpu::sim
