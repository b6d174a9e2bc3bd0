// Waiting for a condition in a test: poll it with a deadline, never sleep and hope.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace sentiflow::testing_support {

// Polls `done` until it holds or `limit` passes; returns whether it held. The pause between
// looks is short: the condition, not the pause, decides when the wait ends.
inline bool poll_until(const std::function<bool()>& done,
                       std::chrono::steady_clock::duration limit = std::chrono::seconds(20),
                       std::chrono::milliseconds every = std::chrono::milliseconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace sentiflow::testing_support
