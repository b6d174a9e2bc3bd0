// Consumer: the handler of a batch of queue messages (DESIGN.md, "Consumer").
//
// It takes the event in exactly the shape Lambda gives an SQS-triggered function and returns
// the ReportBatchItemFailures answer, so the same handler runs in the local runner's worker
// threads and in the Lambda consumer (lambda/handlers.h). For each record: read the message
// body, take the text from the item (or fetch it with the enrich step when the item has none),
// analyse every text of the batch in one call, write the batch's results as one object per
// run, and write an error record for each failure. A record fails — and is listed in
// batchItemFailures, so the queue delivers it again and, after max_receive_count receives,
// dead-letters it — when its body is not a message, it has no text, the fetch fails or the
// engine refuses the text. The caller deletes the other messages (the runner; Lambda itself on
// AWS). Puts to the sink are retried (pipeline/retry.h); a sink that still fails is not any
// message's fault, so the whole batch fails (handle throws) and no error record is written.
//
// A Consumer is immutable after construction: one object may serve any number of threads.
// Metrics: sentiflow_records_processed_total{label}, sentiflow_records_failed_total{code},
// sentiflow_batch_seconds, sentiflow_sentiment_seconds, sentiflow_end_to_end_seconds (from the
// message's send to its results being stored).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "observe/metrics.h"
#include "pipeline/enrich.h"
#include "pipeline/sink.h"
#include "state/run_state.h"
#include "queue/queue.h"
#include "sentiment/analyzer.h"

namespace sentiflow::pipeline {

// One record of Lambda's SQS event ("Records"[i]).
struct SqsEventRecord {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  int64_t receive_count = 0;   // attributes.ApproximateReceiveCount
  Millis sent_at{};            // attributes.SentTimestamp
  Millis first_received_at{};  // attributes.ApproximateFirstReceiveTimestamp
  std::string sender_id;       // attributes.SenderId
  MessageAttributes message_attributes;
  std::string md5_of_body;       // hex MD5 of body; to_json computes it when empty (local events)
  std::string event_source_arn;  // arn:aws:sqs:REGION:ACCOUNT:QUEUE
  std::string aws_region;
};

struct SqsEvent {
  std::vector<SqsEventRecord> records;
};

// The event for messages received from `queue`: `queue_arn` and `region` name it as Lambda
// would ("arn:aws:sqs:local:000000000000:NAME" and "local" for a local queue).
SqsEvent make_sqs_event(std::vector<ReceivedMessage> messages, const std::string& queue_arn, const std::string& region);

// Lambda's JSON form of the event ({"Records": [...]}, attributes as strings, message
// attributes as {"stringValue"|"binaryValue" (base64), "dataType", ...}) and back. parse
// throws Error(invalid_input) for an event that is not that shape.
std::string to_json(const SqsEvent& event);
SqsEvent parse_sqs_event(std::string_view json);

// Counts of one run within a batch.
struct RunTally {
  int64_t processed = 0;
  int64_t failed = 0;
  int64_t dead_letters = 0;  // failures on their last receive: the queue dead-letters them next

  std::map<std::string, int64_t> labels;
  // The run's share of the batch in what AWS bills by: its texts' Comprehend units, its
  // messages' receives and deletes, its objects; the batch (one invocation for each run in
  // it) and its time in proportion to the run's messages.
  BilledWork work;

  // Adds every count and label of `other`.
  RunTally& operator+=(const RunTally& other);
};

struct BatchOutcome {
  std::vector<std::string> failures;           // message ids, in the event's order
  std::map<std::string, std::string> reasons;  // message id -> why it failed
  std::map<std::string, RunTally> runs;        // run -> counts
  // key -> fingerprint of each stored result whose message carried one (an incremental
  // scan's): what the caller records in the run state (assembly::record_batch).
  std::map<std::string, std::string> fingerprints;

  // Adds the outcome of a later part of the same event: its failures after these, its reasons
  // (a message id already here keeps its reason), its counts added run by run.
  BatchOutcome& operator+=(const BatchOutcome& other);
};

// {"batchItemFailures": [{"itemIdentifier": "<message id>"}, ...]}
std::string batch_response_json(const BatchOutcome& outcome);

struct ConsumerOptions {
  std::optional<std::string> text_attribute;  // source.text
  // The run under which a body that is not a message is recorded (it names no run).
  std::string unknown_run = "unknown";
  // The queue's max_receive_count: a failure on that receive is counted as a dead letter of
  // its run (the queue moves it on its next receive). 0: not known, not counted.
  int max_receive_count = 0;
};

class Consumer {
 public:
  // `enricher` may be null (no enrich step). Everything passed must outlive the consumer.
  Consumer(ConsumerOptions options, const sentiment::Analyzer& analyzer, Sink& sink, Enricher* enricher,
           Metrics& metrics = Metrics::global());

  // Handles one batch. Never throws for a record's failure; throws Error (the store's code,
  // the message naming the run) only when the sink cannot store the batch's results or error
  // records after retries: then nothing may be deleted, every message comes back.
  BatchOutcome handle(const SqsEvent& event) const;

 private:
  const ConsumerOptions options_;
  const sentiment::Analyzer& analyzer_;
  Sink& sink_;
  Enricher* enricher_;
  Metrics& metrics_;
  Histogram& batch_seconds_;
  Histogram& sentiment_seconds_;
  Histogram& end_to_end_seconds_;
};

}  // namespace sentiflow::pipeline
