// AWS's "standard" retry mode: which failures to retry, how long to wait, and when to stop.
//
// A call is tried up to max_attempts times (3, or AWS_MAX_ATTEMPTS); it is retried when it
// failed with a retryable code (throttled, transient: throttling errors, 5xx, connection errors
// and timeouts, see aws/errors.h), after a full-jitter exponential backoff (net/backoff.h): retry
// n waits a random time up to min(cap, base * 2^n), with a larger base after throttling. A
// retry quota shared by all calls of a client stops retries while a service keeps failing: each
// retry takes 5 tokens of 500, a success gives back what its retries took (or 1 when it needed
// none), so a dead endpoint costs one attempt per call instead of three.
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

// The standard mode's retry quota (a token bucket). Thread-safe: one per client.
class RetryQuota {
 public:
  static constexpr int kCapacity = 500;
  static constexpr int kRetryCost = 5;
  static constexpr int kNoRetryIncrement = 1;

  // Takes the cost of one retry; false (taking nothing) when the bucket cannot pay for it.
  bool acquire();
  // A call succeeded after taking `retries` retries: gives their cost back (1 when none).
  void release(int retries);
  int available() const;

 private:
  mutable std::mutex mutex_;
  int tokens_ = kCapacity;
};

}  // namespace sentiflow::aws
