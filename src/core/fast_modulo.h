// FastModulo: x % d for a divisor fixed once, without a division, by Lemire, Kaser and Kurz's
// direct computation ("Faster remainder by direct computation", Software: Practice and
// Experience, 2019): with a 128-bit multiplier it is exact for every 64-bit x and every d > 0,
// at three multiplications instead of a 64-bit division (tens of cycles on x86-64). For hot
// loops that reduce hashes by a size read at run time (fastText's n-gram buckets).
// Immutable after construction: safe to share between threads.
#pragma once

#include <cstdint>

#include "core/error.h"

namespace sentiflow {

class FastModulo {
  __extension__ using uint128 = unsigned __int128;  // GCC's and Clang's; __extension__: not ISO C++

 public:
  // Throws Error(internal) for d == 0.
  explicit FastModulo(uint64_t d) : d_(d), m_(d == 0 ? 0 : ~static_cast<uint128>(0) / d + 1) {
    if (d == 0) throw Error(ErrorCode::internal, "FastModulo: a divisor of 0");
  }

  // x % d.
  uint64_t operator()(uint64_t x) const {
    const uint128 low = m_ * x;  // the fraction x / d, in 128 bits
    const uint128 bottom = (static_cast<uint128>(static_cast<uint64_t>(low)) * d_) >> 64;
    const uint128 top = (low >> 64) * d_;
    return static_cast<uint64_t>((bottom + top) >> 64);
  }

 private:
  uint64_t d_;
  uint128 m_;  // ceil(2^128 / d), wrapped to 0 for d == 1 (whose remainders are all 0)
};

}  // namespace sentiflow
