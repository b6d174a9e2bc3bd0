#include "aws/retry.h"

#include <algorithm>
#include <charconv>

#include "core/error.h"

namespace sentiflow::aws {

RetryPolicy retry_policy_from(const Environment& env) {
  RetryPolicy policy;
  if (const auto text = env("AWS_MAX_ATTEMPTS")) {
    int attempts = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), attempts);
    if (ec != std::errc() || end != text->data() + text->size() || attempts < 1 || attempts > 20)
      throw invalid_input("AWS_MAX_ATTEMPTS must be a whole number from 1 to 20, not '" + *text + "'");
    policy.max_attempts = attempts;
  }
  return policy;
}

bool RetryQuota::acquire(int cost) {
  std::lock_guard lock(mutex_);
  if (tokens_ < cost) return false;
  tokens_ -= cost;
  return true;
}

void RetryQuota::release(int last_retry_cost) {
  std::lock_guard lock(mutex_);
  tokens_ = std::min(kCapacity, tokens_ + (last_retry_cost > 0 ? last_retry_cost : kNoRetryIncrement));
}

int RetryQuota::available() const {
  std::lock_guard lock(mutex_);
  return tokens_;
}

}  // namespace sentiflow::aws
