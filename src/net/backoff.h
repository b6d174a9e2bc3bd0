// Exponential backoff with full jitter (the "Full Jitter" of AWS's architecture blog and
// of the SDKs' standard retry mode): the n-th retry waits a uniformly random time in
// [0, min(cap, base * 2^n)]. Randomness spreads retries of many clients so that they do
// not hit a recovering server in waves. Not thread-safe: one per retrying loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace sentiflow {

class Backoff {
 public:
  using Duration = std::chrono::milliseconds;

  // `seed` fixes the sequence for tests; 0 draws one from std::random_device. Negative
  // durations count as 0.
  Backoff(Duration base, Duration cap, uint64_t seed = 0);

  // The wait before retry number `retry` (0 for the first retry).
  Duration delay(unsigned retry);

  // The upper bound delay(retry) draws from: min(cap, base * 2^retry).
  Duration ceiling(unsigned retry) const;

 private:
  Duration base_;
  Duration cap_;
  std::mt19937_64 random_;
};

}  // namespace sentiflow
