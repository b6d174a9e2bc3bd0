// Queue: a message queue with the semantics of an SQS standard queue (DESIGN.md, "Queue").
//
// Implementations: LocalQueue (SQLite, queue/local_queue.h) and SqsQueue (SQS's JSON
// protocol, queue/sqs_queue.h). Both run the conformance suite in tests/queue/.
//
// Delivery is at least once. A receive hides the messages it returns for a visibility
// timeout and gives each a new receipt handle; the consumer deletes a message with the
// handle of its latest receive, or it becomes visible again when the timeout ends. A message
// received more than the redrive policy's max_receive_count times moves to the dead-letter
// queue on its next receive.
//
// Implementations are safe to share between threads (one object per queue per process is the
// intended use: a long-poll receive waits without blocking the object's other callers).
//
// Failures of a whole call throw Error (core/error.h): invalid_input for a request that breaks
// a rule of limits(), transient or throttled for a temporary failure of the backend (retry),
// internal for anything else. Batch calls report what went wrong with each entry in that
// entry's result instead; their results come in the order of the entries.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace sentiflow {

// SQS's message attribute: data_type "String", "Number" or "Binary", optionally followed by
// ".label" ("Number.int"); value holds the text, or the raw bytes of a Binary attribute.
struct MessageAttribute {
  std::string data_type;
  std::string value;

  bool operator==(const MessageAttribute&) const = default;
};
using MessageAttributes = std::map<std::string, MessageAttribute>;

// What a backend allows. Callers chunk their batches by these numbers; a call beyond them
// throws Error(invalid_input).
struct QueueLimits {
  size_t max_batch_entries = 10;            // per send / delete / change_visibility call (SQS: 10)
  size_t max_receive_messages = 10;         // per receive (SQS: 10)
  uint64_t max_message_bytes = 256 * 1024;  // body + attribute names, types and values
  uint64_t max_batch_bytes = 256 * 1024;    // all bodies and attributes of one send call
  size_t max_attributes = 10;               // per message
  std::chrono::milliseconds max_delay{15 * 60 * 1000};
  std::chrono::milliseconds max_visibility_timeout{12 * 60 * 60 * 1000};
  std::chrono::milliseconds max_wait{20 * 1000};
  // The smallest step of a delay, visibility timeout or wait: 1 s on SQS. Finer durations
  // are rounded up to it.
  std::chrono::milliseconds time_granularity{1000};
};

struct SendEntry {
  std::string id;  // unique within the call; 1-80 of A-Z a-z 0-9 - _ (SQS's rule)
  std::string body;
  std::chrono::milliseconds delay{0};  // hidden this long after the send; 0 to limits().max_delay
  MessageAttributes attributes{};
};

// The outcome of one entry of a batch call. `service_code` is the backend's own name for a
// failure (SQS's "ReceiptHandleIsInvalid", ...), for messages and logs only: callers decide on
// error->code().
struct EntryResult {
  std::string id;
  std::optional<Error> error{};
  std::string service_code{};

  bool ok() const { return !error.has_value(); }
};

struct SendResult : EntryResult {
  std::string message_id{};  // set when ok()
};

struct ReceiveRequest {
  size_t max_messages = 1;  // 1 to limits().max_receive_messages
  // How long the returned messages stay hidden; nullopt: the queue's default.
  std::optional<std::chrono::milliseconds> visibility_timeout{};
  // Long poll: when no message is visible, wait up to this long for one (0 to
  // limits().max_wait). Returns as soon as at least one message can be returned.
  std::chrono::milliseconds wait{0};
};

// Why and from where a message came to a dead-letter queue.
struct DeadLetterInfo {
  std::string source_queue;   // the queue's name
  int64_t receive_count = 0;  // its receives in the source queue
  std::string last_error;     // the last reason given with change_visibility, or why it moved
  Millis moved_at{};
};

struct ReceivedMessage {
  std::string message_id;      // stable for the message's life (a redrive keeps it)
  std::string receipt_handle;  // opaque; valid until the message is received again
  std::string body;
  MessageAttributes attributes;
  int64_t receive_count = 0;                    // ApproximateReceiveCount, this receive included
  Millis sent_at{};                             // SentTimestamp
  Millis first_received_at{};                   // ApproximateFirstReceiveTimestamp
  std::optional<DeadLetterInfo> dead_letter{};  // set for messages in a dead-letter queue
};

struct DeleteEntry {
  std::string id;  // unique within the call, as SendEntry::id
  std::string receipt_handle;
};

struct VisibilityChange {
  std::string id;  // unique within the call, as SendEntry::id
  std::string receipt_handle;
  std::chrono::milliseconds timeout{0};  // from now; 0 makes the message visible at once
  // Why the consumer lets the message go, kept as its last error and shown if it is
  // dead-lettered. Backends without a place for it (SQS) ignore it.
  std::string reason{};
};

// Approximate, as SQS's attributes: another process may change them at any moment.
struct QueueCounts {
  int64_t visible = 0;    // ApproximateNumberOfMessages
  int64_t in_flight = 0;  // ApproximateNumberOfMessagesNotVisible
  int64_t delayed = 0;    // ApproximateNumberOfMessagesDelayed

  int64_t total() const { return visible + in_flight + delayed; }
};

class Queue {
 public:
  virtual ~Queue() = default;

  // The queue's name (the last segment of its URL on SQS).
  virtual const std::string& name() const = 0;
  virtual QueueLimits limits() const = 0;

  // Sends every valid entry. A result per entry: its message id, or why it was refused
  // (invalid_input: too large, invalid characters, a bad attribute or delay). Throws
  // Error(invalid_input) without sending anything when the call itself breaks a rule: no
  // entries, more than limits().max_batch_entries, a repeated or malformed id, or more than
  // limits().max_batch_bytes in all.
  virtual std::vector<SendResult> send(std::span<const SendEntry> entries) = 0;

  // Up to request.max_messages visible messages, hidden from other receives for the
  // visibility timeout, each with a new receipt handle. Empty when none became visible within
  // request.wait. Messages past their receive limit move to the dead-letter queue instead of
  // being returned.
  virtual std::vector<ReceivedMessage> receive(const ReceiveRequest& request) = 0;

  // Deletes each message by the receipt handle of its latest receive. Deleting a message
  // that is already gone succeeds (as on SQS). Per-entry failures: invalid_input for a handle
  // this queue did not issue; conflict for a stale handle (the message was received again
  // since) where the backend can tell.
  virtual std::vector<EntryResult> delete_messages(std::span<const DeleteEntry> entries) = 0;

  // Sets each message's visibility timeout anew, counted from now; not a receive (the receive
  // count and the handle stay). Per-entry failures: invalid_input for a malformed handle or
  // timeout, conflict for a stale handle or a message no longer in flight, not_found for a
  // deleted message.
  virtual std::vector<EntryResult> change_visibility(std::span<const VisibilityChange> entries) = 0;

  virtual QueueCounts counts() = 0;
  // Messages the queue removed because they outlived its retention, since it was created (a
  // message that expires was never processed: the runner reports it, DESIGN.md "Runs"); nullopt
  // where the backend does not say (SQS deletes them without a trace or a count).
  virtual std::optional<int64_t> expired_total() { return std::nullopt; }

  // Deletes every message, in flight and delayed ones included.
  virtual void purge() = 0;

  // Moves up to `max_messages` messages that came from this queue back from its dead-letter
  // queue (only those visible now: a dead letter that a consumer holds stays), as new messages with the same id, body and attributes and a receive count of 0.
  // Returns how many moved. Throws Error(invalid_input) when the queue has no dead-letter
  // queue.
  virtual int64_t redrive_dead_letters(int64_t max_messages) = 0;

  // One message without batch bookkeeping: returns its message id; throws the entry's error.
  std::string send_one(std::string body, std::chrono::milliseconds delay = std::chrono::milliseconds{0},
                       MessageAttributes attributes = {});
};

}  // namespace sentiflow
