// SQS's rules for messages and batch calls, checked on our side so that code which works
// against LocalQueue also works against SQS, and so that SqsQueue can refuse a bad entry
// without a round trip. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "queue/queue.h"

namespace sentiflow {

// What is wrong with one entry: SQS's error code and a sentence for the user.
struct RuleViolation {
  std::string service_code;  // "MessageTooLong", "InvalidMessageContents", ...
  std::string message;
};

// The size SQS counts for a message: the body plus every attribute's name, type and value.
uint64_t message_size(std::string_view body, const MessageAttributes& attributes);

// Characters SQS accepts in a body and in String attributes: #x9 #xA #xD, #x20 to #xD7FF,
// #xE000 to #xFFFD and #x10000 to #x10FFFF, as valid UTF-8. Returns what is wrong, or nullopt.
std::optional<std::string> find_invalid_message_text(std::string_view text);

// Checks one send entry against `limits`: a non-empty body of allowed characters, the size,
// the delay, and the attributes (name, data type, value). nullopt when the entry is fine.
std::optional<RuleViolation> check_send_entry(const SendEntry& entry, const QueueLimits& limits);

// The whole-call rules of a batch: 1 to max entries, ids well formed and distinct. Throws
// Error(invalid_input) naming the rule. `what` names the call in the message ("send").
void check_batch_ids(std::span<const std::string_view> ids, size_t max_entries, std::string_view what);

// A duration the queue takes (visibility timeout, delay, wait) rounded up to `granularity`;
// throws Error(invalid_input) naming `what` when it is negative or above `max`.
std::chrono::milliseconds check_duration(std::chrono::milliseconds value, std::chrono::milliseconds max,
                                         std::chrono::milliseconds granularity, std::string_view what);

}  // namespace sentiflow
