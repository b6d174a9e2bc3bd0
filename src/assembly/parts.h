// The pipeline's parts as both runners assemble them: the local runner (local/) and the Lambda
// handlers (lambda/) build the producer's options, the consumer's parts, record a producer's
// page and a consumer's batch, and decide that a run is drained, each through one function
// here, so that a new engine or a new source is wired in one place. The runners keep only
// their own policy: threads, progress and the daemon locally; deadline, lease and
// continuation on Lambda.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "assembly/backends.h"
#include "config/pipeline_config.h"
#include "core/time.h"
#include "pipeline/consumer.h"
#include "pipeline/enrich.h"
#include "pipeline/producer.h"
#include "pipeline/sink.h"
#include "queue/queue.h"
#include "sentiment/analyzer.h"
#include "state/run_state.h"

namespace sentiflow::assembly {

// The producer's options from the pipeline file: source.key, .text (required unless the
// consumer enriches), .segments, .page_size, queue.message_size_limit and, with
// source.incremental, `fingerprints` (the run state's) and the enrich inputs; `full`: send
// every item even so (`run --run ID --full`).
pipeline::ProducerOptions producer_options(const PipelineConfig& config, FingerprintLog* fingerprints = nullptr,
                                           bool full = false);

// The sink the pipeline stores results and error records in, with its store.
// Not copyable or movable (the sink refers to its store); safe to share between threads as
// pipeline::Sink is.
class SinkParts {
 public:
  // open_sink_store(config, create_store), and the sink's format and compression; throws what
  // open_sink_store throws.
  SinkParts(const PipelineConfig& config, bool create_store);
  SinkParts(const SinkParts&) = delete;
  SinkParts& operator=(const SinkParts&) = delete;

  pipeline::Sink& sink() { return sink_; }

 private:
  SinkStore store_;
  pipeline::Sink sink_;
};

// The consumer's side of the pipeline: the sink, the analyzer (make_analyzer), the enrich step
// when the file has one, and the pipeline::Consumer over them (its unknown-run name "unknown",
// the queue's max_receive_count). Built once per process (a daemon's runs, a Lambda's warm
// invocations share it). Not copyable or movable; consumer() is safe to share between threads,
// as pipeline::Consumer is.
class ConsumerParts {
 public:
  // Throws what open_sink_store and make_analyzer throw (a missing bucket, bad AWS settings).
  ConsumerParts(const PipelineConfig& config, bool create_store);
  ~ConsumerParts();
  ConsumerParts(const ConsumerParts&) = delete;
  ConsumerParts& operator=(const ConsumerParts&) = delete;

  pipeline::Sink& sink() { return sink_.sink(); }
  const pipeline::Consumer& consumer() const { return *consumer_; }

 private:
  SinkParts sink_;
  std::unique_ptr<sentiment::Analyzer> analyzer_;
  std::unique_ptr<pipeline::Enricher> enricher_;  // null without consumer.enrich
  std::unique_ptr<pipeline::Consumer> consumer_;
};

// The counts of one batch as a delta for RunLog::add_counts, the same in both runners: a
// consumer's tally of one run (processed, failed, dead letters, labels), or a producer's page
// (scanned, sent, producer errors); the other side's counts stay 0.
RunCounts counts_of(const pipeline::RunTally& tally);
RunCounts counts_of(const pipeline::ProduceReport& page);

// Records one page the producer of run `id` sent: its counts, then its checkpoint (with
// `lease_owner`, only while that owner holds the run's lease), each retried while the state
// is busy (pipeline::with_retries). The page is sent, so its checkpoint must be saved: throws
// the state's Error once the retries are spent, and Error(conflict) when the lease was taken
// over (the caller stops producing).
void record_page(RunLog& runs, ProducerLease& lease, const std::string& id, const ScanCheckpoint& checkpoint,
                 const pipeline::ProduceReport& page, const std::optional<std::string>& lease_owner = std::nullopt);

// Adds a consumer batch's counts to each of its runs, retried while the state is busy. A run
// the state never saw (a message sent by hand, "unknown" for a body that is not a message) is
// skipped; any other failure is logged and counted in sentiflow_batch_report_failures_total,
// never thrown: the results are stored either way, and failing the batch would only process it
// again and count it twice. Returns how many runs' counts could not be recorded.
// With `fingerprints`, the batch's stored results' fingerprints (BatchOutcome::fingerprints) are
// recorded too, the same way: a failure is logged, and the next incremental scan sends those
// items again.
int record_batch(RunLog& runs, const pipeline::BatchOutcome& outcome, FingerprintLog* fingerprints = nullptr);

// Whether a queue with `counts` holds nothing of a run beyond the caller's own messages: none
// visible, none delayed, at most `own_in_flight` in flight.
bool queue_drained(const QueueCounts& counts, int64_t own_in_flight = 0);

// Marks run `id` finished when it is drained: its producer is done (phase draining), the queue
// is drained (queue_drained with `own_in_flight`: the caller's records, which Lambda deletes
// once the answer is in), and `nothing_in_hand` (when given) says no batch is still being
// worked on — read after the counts, so that a batch received after them shows there. Returns
// true when this call marked it; false when it is not drained (or not draining). On SQS, whose
// counts are approximate and may lag, a run may be marked a little early: that changes what
// `status` shows, never what is processed. Throws the state's and the queue's Errors.
bool finish_if_drained(RunLog& runs, Queue& queue, const std::string& id, Millis now, int64_t own_in_flight = 0,
                       const std::function<bool()>& nothing_in_hand = {});

}  // namespace sentiflow::assembly
