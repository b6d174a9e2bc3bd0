// Retrying a call that failed for a temporary reason (Error with a retryable code: throttled,
// transient), with full-jitter backoff: how the pipeline's steps ride out a busy SQLite file or
// a throttled AWS call without failing a whole run.
#pragma once

#include <chrono>
#include <thread>
#include <utility>

#include "core/error.h"
#include "net/backoff.h"

namespace sentiflow::pipeline {

inline constexpr int kDefaultAttempts = 5;

// Calls `fn` until it returns, at most `attempts` times; rethrows its last error, and at once
// an error that is not retryable.
template <typename Fn>
auto with_retries(Fn&& fn, int attempts = kDefaultAttempts) -> decltype(fn()) {
  Backoff backoff(std::chrono::milliseconds(50), std::chrono::milliseconds(2000));
  for (int attempt = 1;; ++attempt) {
    try {
      return fn();
    } catch (const Error& e) {
      if (!is_retryable(e.code()) || attempt >= attempts) throw;
      std::this_thread::sleep_for(backoff.delay(static_cast<unsigned>(attempt - 1)));
    }
  }
}

}  // namespace sentiflow::pipeline
