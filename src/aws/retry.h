// AWS's "standard" retry mode: which failures to retry, how long to wait, and when to stop.
//
// A call is tried up to max_attempts times (3, or AWS_MAX_ATTEMPTS); it is retried when it
// failed with a retryable code (throttled, transient: throttling errors, 5xx, connection errors
// and timeouts, see aws/errors.h), after a full-jitter exponential backoff (net/backoff.h): retry
// n waits a random time up to min(cap, base * 2^n), with a larger base after throttling. A
// retry quota shared by all calls of a client stops retries while a service keeps failing: each
// retry takes 5 tokens of 500 (10 after a timeout), a success gives back what its last retry took
// (or 1 when it needed none), so a dead endpoint costs one attempt per call instead of three.
// The quota's numbers are botocore's (retries/standard.py RetryQuotaChecker, retries/quota.py).
#pragma once

#include <chrono>
#include <mutex>

#include "aws/settings.h"

namespace sentiflow::aws {

struct RetryPolicy {
  int max_attempts = 3;                // the first try included
  std::chrono::milliseconds base{50};  // the first retry waits up to this (5xx, connection errors)
  // The same after throttling: a service that sheds load is not ready again in 50 ms. (botocore
  // 1.43's newer backoff, still behind a flag, also scales throttling retries by 1 s, others by 50 ms.)
  std::chrono::milliseconds throttling_base{1'000};
  std::chrono::milliseconds cap{20'000};  // no retry waits longer
};

// The default policy with AWS_MAX_ATTEMPTS applied (a whole number from 1 to 20). Throws
// Error(invalid_input) naming the variable for any other value.
RetryPolicy retry_policy_from(const Environment& env);

// The standard mode's retry quota (a token bucket), as botocore keeps it. Thread-safe: one per
// client.
class RetryQuota {
 public:
  static constexpr int kCapacity = 500;
  static constexpr int kRetryCost = 5;
  // A retry after a timeout (connecting or reading): botocore's _TIMEOUT_RETRY_REQUEST. A
  // refused or cut connection costs kRetryCost, as in botocore.
  static constexpr int kTimeoutRetryCost = 10;
  static constexpr int kNoRetryIncrement = 1;

  // Takes `cost` tokens for one retry; false (taking nothing) when fewer are left.
  bool acquire(int cost = kRetryCost);
  // A call succeeded. `last_retry_cost` is what its last retry took (0: it needed none): that
  // much is given back, or kNoRetryIncrement for a call without retries. Not what all of its
  // retries took: a call that needed two retries leaves the bucket one retry poorer, so a
  // service that fails often drains it even when calls end well. Never above kCapacity.
  void release(int last_retry_cost);
  int available() const;

 private:
  mutable std::mutex mutex_;
  int tokens_ = kCapacity;
};

}  // namespace sentiflow::aws
