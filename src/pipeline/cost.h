// What a pipeline's work costs on AWS (docs/COST.md): AWS's billing rules applied to the work of
// a run — Comprehend units, SQS requests, Lambda invocations and GB-seconds, S3 PUTs, DynamoDB
// request units, EventBridge Scheduler invocations — at the prices of the pipeline file
// (PipelineConfig::Prices: us-east-1 list prices unless its `cost` section sets others).
//
// The same work is priced whichever runner did it: a local run is priced as if it had run on
// AWS with the pipeline's settings (its table on DynamoDB, its queue on SQS, its consumer and
// producer on Lambda with lambda.memory, its sink on S3), which is what a user deciding where
// to run wants to know. Free tiers are not subtracted: they are the account's, not the run's.
//
// Pure functions over values; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/pipeline_config.h"
#include "core/time.h"
#include "state/run_state.h"

namespace sentiflow::pipeline {

// Comprehend bills a text in units of 100 characters (Unicode code points), at least 3 units a
// text (a request of BatchDetectSentiment is billed per document), of the text as the
// Comprehend engine sends it: cut to its 4,999 bytes (sentiment/comprehend.h); an empty text
// or one of invalid UTF-8, which it never sends, is 0.
int64_t comprehend_units(std::string_view text);
int64_t comprehend_units_of(int64_t characters);

// DynamoDB's read request units of one Scan or Query page that read `bytes` of items: their
// total rounded up to 4 KB, one unit per 4 KB strongly consistent (as DynamoDbTable scans), half
// a unit eventually consistent.
double dynamodb_read_units(int64_t bytes, bool strongly_consistent = true);

// SQS bills each 64 KiB chunk of a request's payload as one request, and at least one.
int64_t sqs_billed_requests(int64_t payload_bytes);

// The requests SQS bills to move messages of `sizes` bytes, in order, in batches of up to 10
// and 256 KiB (a SendMessageBatch as the producer sends it; a ReceiveMessage of 10): each
// batch's payload in 64 KiB chunks. 0 for no messages.
int64_t sqs_batched_requests(std::span<const int64_t> sizes);

// The requests of DeleteMessageBatch for `messages` messages, 10 a request.
int64_t sqs_delete_requests(int64_t messages);

// The work of one run (or of a month of runs) in what AWS bills by.
struct RunWork {
  int64_t items = 0;                  // items read from the table
  int64_t texts = 0;                  // texts analysed
  int64_t comprehend_units = 0;       // Σ comprehend_units(text) over the texts analysed
  double table_read_units = 0;        // the scan's DynamoDB read request units
  int64_t sqs_requests = 0;           // sends, receives and deletes, in billed requests
  int64_t lambda_invocations = 0;     // the producer's and the consumer's
  double lambda_gb_seconds = 0;       // their duration times lambda.memory
  int64_t s3_puts = 0;                // the sink's objects
  int64_t state_write_units = 0;      // the run state's DynamoDB writes: checkpoints, counts, fingerprints
  int64_t state_read_units = 0;       // its reads: an incremental scan's fingerprint lookups
  int64_t scheduler_invocations = 0;  // EventBridge Scheduler ticks

  RunWork& operator*=(int64_t runs);  // `runs` runs of this work
};

// What a table holds, per item, from a sample of it (or from a user's figures).
struct ItemProfile {
  double comprehend_units = 3;  // per text
  double item_bytes = 200;      // the item's JSON text
  double message_bytes = 300;   // its queue message (pipeline/message.h)
};

// The parts of a run's duration that a model has to assume before the run: Lambda's measured
// times replace them afterwards. Defaults in docs/COST.md ("Assumptions").
struct TimeAssumptions {
  double consumer_batch_seconds = -1;  // one consumer invocation; < 0: the engine's default
  double producer_seconds = -1;        // the producer's invocations together; < 0: from the items
};

// The default duration of one consumer batch of `batch_size` texts with the pipeline's engine.
double default_batch_seconds(const PipelineConfig& config, int batch_size);

// The work of one run over `items` items like `profile`, as the pipeline's settings would do it
// on AWS: pages of source.page_size (and at most 1 MB), SendMessageBatch of 10, the consumer's
// event source mapping receiving 10 a request and deleting in batches of 10, one consumer
// invocation and one S3 object per batch of consumer.batch_size, a checkpoint a page (a
// TransactWriteItems of a condition check and a put under the lease: 4 write units), a count
// write a batch, with source.incremental a fingerprint read per item and write per result (1
// unit each), one scheduler invocation when the pipeline has a schedule.
RunWork estimate_run_work(const PipelineConfig& config, int64_t items, const ItemProfile& profile,
                          const TimeAssumptions& times = {});

// The work a finished (or running) run did, from its counted BilledWork (state/run_state.h)
// and its measured times: one consumer invocation per batch for the batches' summed time, the
// producer's invocations (one per 15 minutes, Lambda's longest) for its pages' time (summed,
// over source.segments threads), one scheduler invocation for a scheduled run.
RunWork work_of(const RunRecord& run, const PipelineConfig& config);

// What an incremental scan saved a run: the work its unchanged items would have made had they
// been sent — their Comprehend units (as counted by the producer), a send, a receive and a
// delete of each (10 a request), their share of consumer invocations (default_batch_seconds
// each), result objects and count writes. A run without unchanged items saved nothing.
RunWork saved_by_incremental(const RunRecord& run, const PipelineConfig& config);

// One line of a bill.
struct CostLine {
  std::string service;  // "Comprehend", "SQS", "Lambda", "S3", "DynamoDB", "EventBridge Scheduler"
  std::string work;     // what is billed, e.g. "30,000 units"
  double dollars = 0;
  bool counted = true;  // false: shown for comparison, not part of the total (Comprehend with
                        // another engine: what it would cost)
};

struct Cost {
  std::vector<CostLine> lines;
  double total = 0;  // of the counted lines
};

// Prices `work` at config.cost. Comprehend's tiers are monthly: `units_before` are the month's
// units before this work (0: this work is the month's first). Comprehend is counted when the
// pipeline's engine is comprehend, and shown uncounted ("with engine comprehend") otherwise.
Cost price(const RunWork& work, const PipelineConfig& config, int64_t units_before = 0);

// Comprehend's monthly tiers: the dollars of `units` after `units_before` of the month.
double comprehend_dollars(int64_t units, int64_t units_before, const PipelineConfig::Prices& prices);

// The runs of the pipeline's schedule in 30 days from `from` (0 without a schedule).
int64_t runs_in_30_days(const PipelineConfig& config, Seconds from);

// "$1234.56" for sums from $100, "$0.0123" down to a cent, "$0.0000123" below.
std::string format_dollars(double dollars);

// One line for a run's summary: the total and each counted service's part, and what Comprehend
// would cost when it is not the engine.
std::string summary_line(const Cost& cost);

// The run as to_json(RunRecord) shows it (state/run_state.h), with "cost": its to_json(Cost)
// at the pipeline's settings and prices, and with source.incremental "saved": what its
// unchanged items would have cost: what status, the dashboard and reports show.
nlohmann::json run_json_with_cost(const RunRecord& run, const PipelineConfig& config);

// {"total": .., "lines": [{"service", "work", "dollars", "counted"}, ...]}.
nlohmann::json to_json(const Cost& cost);
nlohmann::json to_json(const RunWork& work);

}  // namespace sentiflow::pipeline
