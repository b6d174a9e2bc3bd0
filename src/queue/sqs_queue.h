// SqsQueue: a Queue on an Amazon SQS standard queue, over SQS's JSON protocol
// (X-Amz-Target: AmazonSQS.<Action>, application/x-amz-json-1.0) and aws/'s signed AwsClient.
//
// What SQS decides, not us: durations are whole seconds (delays, visibility timeouts and waits
// are rounded up to the next second: limits().time_granularity is 1 s); counts() is SQS's
// approximate GetQueueAttributes; dead-lettering is SQS's own RedrivePolicy (a message is moved
// by the receive after its maxReceiveCount-th); a stale receipt handle may still delete.
//
// Batches: send() checks every entry on our side first (queue/message_rules.h) and sends the
// valid ones in as many SendMessageBatch requests as SQS's 256 KiB request payload needs
// (plan_send_requests); delete_messages() and change_visibility() are one
// DeleteMessageBatch / ChangeMessageVisibilityBatch each. Entries SQS refuses come back in their
// EntryResult with SQS's code as service_code: invalid_input for ReceiptHandleIsInvalid and the
// other sender faults, conflict for MessageNotInflight, transient for SQS's own faults. An entry
// that an answer names in neither Successful nor Failed is internal, for all three calls.
// When send()'s first request fails (after the client's retries), send() throws its Error:
// nothing was sent. When a later one fails, the earlier requests' messages are in the queue, so
// send() returns their message ids and gives that request's entries, and those of the requests
// not sent after it, the request's Error (throttled, transient, ...) with an empty service_code:
// a caller resends those entries only, never a message SQS took.
//
// Dead letters: a message received from a dead-letter queue carries DeadLetterInfo with the
// source queue from its DeadLetterQueueSourceArn; receive_count is its ApproximateReceiveCount
// less this receive. last_error is always empty: SQS has no place for a reason. On a custom
// endpoint (not *.amazonaws.com: moto, LocalStack), which may not send that attribute (moto
// does not), a message without it is labelled with the first queue ListDeadLetterSourceQueues
// names (looked up at most once a minute); on AWS's own endpoints SQS always sends it, so a
// message without it is no dead letter and no lookup is made (nor is its IAM permission needed).
//
// redrive_dead_letters() receives from the dead-letter queue, sends each message back with its
// body and attributes, then deletes it there (moto has no StartMessageMoveTask). The original
// message id travels in the message attribute "sentiflow.message_id", which receive() turns back
// into message_id and hides: the id stays stable across a redrive, as the Queue contract asks. A
// dead letter with 10 attributes already cannot take that attribute and keeps its new SQS id.
// Messages whose DeadLetterQueueSourceArn names another queue are made visible again, not moved.
//
// Thread-safe; long-poll receives hold one of the AwsClient's pooled connections each.
//
// Its implementation is some 300 lines because three methods are more than one SQS call each:
// send() (planned requests, partial failures), receive() (the dead letters' source lookup)
// and redrive_dead_letters() (receive, send, delete).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aws/client.h"
#include "queue/queue.h"

namespace sentiflow {

// The attributes SqsQueue gives a queue it creates (CreateQueue), or sets on one that exists
// with other attributes (SetQueueAttributes: the last one configured wins). Durations are
// rounded up to whole seconds.
struct SqsQueueAttributes {
  std::chrono::milliseconds visibility_timeout{30'000};         // 0 to 12 h
  std::chrono::milliseconds retention{4LL * 24 * 3600 * 1000};  // 60 s to 14 days
  uint64_t message_size_limit = 256 * 1024;                     // 1 KiB to 1 MiB: set it (moto's default is 1 MiB)
  // The dead-letter queue's name or URL, empty for none. Created when missing (14 days of
  // retention, the same size limit), then named in RedrivePolicy by its ARN.
  std::string dead_letter_queue{};
  int max_receive_count = 5;  // RedrivePolicy's maxReceiveCount, 1 to 1000
};

struct SqsQueueOptions {
  std::string queue;  // a queue name (looked up with GetQueueUrl) or an http(s) queue URL
  // Set: create the queue when missing, with these attributes (a queue given by URL is never
  // created: it must exist, and gets the attributes). nullopt: the queue must exist
  // (Error(not_found) otherwise); its MaximumMessageSize is read for limits().
  std::optional<SqsQueueAttributes> create{};
};

class SqsQueue final : public Queue {
 public:
  // Resolves (and, when asked, creates) the queue now. Throws the AwsClient's Errors:
  // not_found for a queue that does not exist (naming the queue, the region and the endpoint),
  // invalid_input for bad options or credentials.
  // `client` must be an SQS client (aws::kSqs); it is shared, e.g. with the dead-letter queue's
  // SqsQueue.
  SqsQueue(std::shared_ptr<const aws::AwsClient> client, SqsQueueOptions options);
  ~SqsQueue() override;
  SqsQueue(const SqsQueue&) = delete;
  SqsQueue& operator=(const SqsQueue&) = delete;

  const std::string& url() const { return url_; }

  const std::string& name() const override { return name_; }
  QueueLimits limits() const override { return limits_; }
  std::vector<SendResult> send(std::span<const SendEntry> entries) override;
  std::vector<ReceivedMessage> receive(const ReceiveRequest& request) override;
  std::vector<EntryResult> delete_messages(std::span<const DeleteEntry> entries) override;
  std::vector<EntryResult> change_visibility(std::span<const VisibilityChange> entries) override;
  QueueCounts counts() override;
  void purge() override;
  int64_t redrive_dead_letters(int64_t max_messages) override;

 private:
  struct DeadLetterSource {
    std::string name;  // empty: this queue is no dead-letter queue (as far as we know)
    std::chrono::steady_clock::time_point looked_at{};
  };

  void open(const SqsQueueOptions& options);  // the constructor's AWS calls
  std::string dead_letter_source(const std::string& source_arn);
  std::string dead_letter_queue_url();

  std::shared_ptr<const aws::AwsClient> client_;
  std::string url_;
  std::string name_;
  QueueLimits limits_;
  bool looks_up_dead_letter_sources_ = false;  // a custom endpoint (see the top of this file)
  std::mutex source_mutex_;
  std::optional<DeadLetterSource> source_;  // guarded by source_mutex_
};

// SQS's limit on the message sizes of one SendMessageBatch request.
inline constexpr uint64_t kSqsBatchRequestBytes = 256 * 1024;

// Groups messages of `sizes` (in order) into requests of at most 10 messages and at most
// `request_bytes` in all; a message larger than that goes alone. Returns each request's indices.
std::vector<std::vector<size_t>> plan_send_requests(std::span<const uint64_t> sizes,
                                                    uint64_t request_bytes = kSqsBatchRequestBytes);

// Whether `endpoint` is one of AWS's own (aws/endpoints.h). SqsQueue trusts
// DeadLetterQueueSourceArn there.
using aws::is_aws_endpoint;

// The name of an SQS queue URL or ARN: its last '/' or ':' segment.
std::string sqs_queue_name(std::string_view url_or_arn);

}  // namespace sentiflow
