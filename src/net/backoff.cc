#include "net/backoff.h"

#include <algorithm>

namespace sentiflow {

Backoff::Backoff(Duration base, Duration cap, uint64_t seed)
    : base_(std::max(base, Duration{0})),
      cap_(std::max(cap, Duration{0})),
      random_(seed != 0 ? seed : std::random_device{}()) {}

Backoff::Duration Backoff::ceiling(unsigned retry) const {
  // Doubling past 2^30 overflows long before it matters: the cap has won by then.
  const auto doubled = base_.count() << std::min(retry, 30u);
  return std::min(cap_, Duration{doubled});
}

Backoff::Duration Backoff::delay(unsigned retry) {
  std::uniform_int_distribution<int64_t> pick(0, ceiling(retry).count());
  return Duration{pick(random_)};
}

}  // namespace sentiflow
