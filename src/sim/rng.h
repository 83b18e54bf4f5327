// One seed drives every random draw. xoshiro256** seeded through splitmix64, and our own
// exponential draw in integer arithmetic: std::*_distribution output differs between standard
// libraries, and std::log between libms, so neither is used.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace prefcpu::sim {

__extension__ using U128 = unsigned __int128;  // GCC and Clang both have it

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// log2(x) for x in [1, 2^64), as Q32.32 fixed point, exactly by repeated squaring of the
// normalised mantissa (one result bit per squaring); the error is below 2^-31.
constexpr std::uint64_t log2_q32(std::uint64_t x) {
  auto top = static_cast<std::uint64_t>(63 - std::countl_zero(x));
  // y = x / 2^top in [1, 2) as Q62.
  std::uint64_t y = top <= 62 ? x << (62 - top) : x >> 1;
  std::uint64_t frac = 0;
  for (int bit = 31; bit >= 0; --bit) {
    y = static_cast<std::uint64_t>((static_cast<U128>(y) * y) >> 62);  // [1, 4)
    if (y >= (std::uint64_t{1} << 63)) {
      frac |= std::uint64_t{1} << bit;
      y >>= 1;
    }
  }
  return (top << 32) | frac;
}

// log2(1 + i/1024) in Q32.32 for i = 0..1024, computed at compile time by log2_q32().
inline constexpr std::array<std::uint64_t, 1025> kLog2Table = [] {
  std::array<std::uint64_t, 1025> table{};
  for (std::uint64_t i = 0; i <= 1024; ++i)
    table[i] = log2_q32(1024 + i) - (std::uint64_t{10} << 32);
  return table;
}();

// log2(x) in Q32.32 by linear interpolation in kLog2Table: integer only, like log2_q32(), and
// fast enough for every draw; its error is below 2^-22 (h^2 / 8 / ln 2 with h = 2^-10).
inline std::uint64_t log2_q32_fast(std::uint64_t x) {
  auto top = static_cast<std::uint64_t>(63 - std::countl_zero(x));
  std::uint64_t y = top <= 62 ? x << (62 - top) : x >> 1;  // [1, 2) as Q62
  std::uint64_t i = (y >> 52) & 1023;
  std::uint64_t rest = y & ((std::uint64_t{1} << 52) - 1);
  std::uint64_t step = kLog2Table[i + 1] - kLog2Table[i];
  return (top << 32) + kLog2Table[i] +
         static_cast<std::uint64_t>((static_cast<U128>(step) * rest) >> 52);
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
  std::uint64_t below64(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<U128>(next()) * n) >> 64);
  }

  // Exponential with the given mean, at least 1 ns, by inversion: mean x -ln(u) with u uniform in
  // (0, 1] on 53 bits, -ln(u) = ln 2 x (53 - log2(u x 2^53)), all in fixed point; within 120 ns
  // of the exact value at a mean of 1 s, within 0.01 ns at 53 us.
  std::int64_t exponential(std::int64_t mean) {
    if (mean <= 1) return 1;
    std::uint64_t scaled = (next() >> 11) + 1;  // u x 2^53, in [1, 2^53]
    std::uint64_t neg_log2 = (std::uint64_t{53} << 32) - log2_q32_fast(scaled);  // Q32, >= 0
    constexpr std::uint64_t kLn2Q64 = 0xb17217f7d1cf79abULL;  // ln 2 x 2^64, truncated
    auto neg_ln = static_cast<std::uint64_t>((static_cast<U128>(neg_log2) * kLn2Q64) >> 64);
    auto value = static_cast<std::int64_t>(
        (static_cast<U128>(neg_ln) * static_cast<std::uint64_t>(mean)) >> 32);
    return value < 1 ? 1 : value;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4]{};
};

}  // namespace prefcpu::sim
