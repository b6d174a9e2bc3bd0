#include "assembly/parts.h"

#include "core/error.h"
#include "observe/log.h"
#include "observe/metrics.h"
#include "pipeline/retry.h"

namespace sentiflow::assembly {

pipeline::ProducerOptions producer_options(const PipelineConfig& config, FingerprintLog* fingerprints, bool full) {
  pipeline::ProducerOptions o;
  o.table = config.source.table.uri;
  o.key_attribute = config.source.key;
  o.text_attribute = config.source.text;
  o.text_required = !config.consumer.enrich.has_value();
  o.segments = config.source.segments;
  o.page_size = config.source.page_size;
  o.message_size_limit = config.queue.message_size_limit;
  if (config.source.incremental) {
    o.fingerprints = fingerprints;
    o.skip_unchanged = !full;
  }
  if (config.consumer.enrich) {
    o.enrich_url = config.consumer.enrich->url;
    o.enrich_text = config.consumer.enrich->text;
  }
  return o;
}

SinkParts::SinkParts(const PipelineConfig& config, bool create_store)
    : store_(open_sink_store(config, create_store)),
      sink_(*store_.store, store_.prefix, config.sink.format, config.sink.compression) {}

ConsumerParts::ConsumerParts(const PipelineConfig& config, bool create_store)
    : sink_(config, create_store), analyzer_(make_analyzer(config)) {
  if (config.consumer.enrich) enricher_ = std::make_unique<pipeline::Enricher>(*config.consumer.enrich);
  consumer_ = std::make_unique<pipeline::Consumer>(
      pipeline::ConsumerOptions{config.source.text, "unknown", config.queue.max_receive_count}, *analyzer_,
      sink_.sink(), enricher_.get());
}

ConsumerParts::~ConsumerParts() = default;

RunCounts counts_of(const pipeline::RunTally& tally) {
  RunCounts counts;
  counts.processed = tally.processed;
  counts.failed = tally.failed;
  counts.dead_letters = tally.dead_letters;
  counts.labels = tally.labels;
  counts.work = tally.work;
  return counts;
}

RunCounts counts_of(const pipeline::ProduceReport& page) {
  RunCounts counts;
  counts.scanned = page.scanned;
  counts.sent = page.sent;
  counts.producer_errors = page.errors;
  counts.unchanged = page.unchanged;
  counts.work = page.work;
  return counts;
}

void record_page(RunLog& runs, ProducerLease& lease, const std::string& id, const ScanCheckpoint& checkpoint,
                 const pipeline::ProduceReport& page, const std::optional<std::string>& lease_owner) {
  pipeline::with_retries([&] { runs.add_counts(id, counts_of(page)); });
  pipeline::with_retries([&] { lease.save_checkpoint(id, checkpoint, lease_owner); });
}

int record_batch(RunLog& runs, const pipeline::BatchOutcome& outcome, FingerprintLog* fingerprints) {
  int failures = 0;
  if (fingerprints != nullptr && !outcome.fingerprints.empty()) {
    try {
      pipeline::with_retries([&] { fingerprints->record_fingerprints(outcome.fingerprints); });
    } catch (const std::exception& e) {
      ++failures;
      log::error("could not record the results' fingerprints; the next incremental scan sends them again",
                 {{"results", outcome.fingerprints.size()}, {"error", e.what()}});
    }
  }
  for (const auto& [run, tally] : outcome.runs) {
    try {
      pipeline::with_retries([&] { runs.add_counts(run, counts_of(tally)); });
    } catch (const std::exception& e) {
      // Not an Error too (an answer that cannot be read is a JSON error): logged, counted.
      const auto* error = dynamic_cast<const Error*>(&e);
      if (error != nullptr && error->code() == ErrorCode::not_found) continue;
      ++failures;
      Metrics::global()
          .counter("sentiflow_batch_report_failures_total",
                   "Batches whose counts could not be recorded in the run state.")
          .add();
      log::error("could not add the run's counts", {{"run", run}, {"error", e.what()}});
    }
  }
  return failures;
}

bool queue_drained(const QueueCounts& counts, int64_t own_in_flight) {
  return counts.visible == 0 && counts.delayed == 0 && counts.in_flight <= own_in_flight;
}

bool finish_if_drained(RunLog& runs, Queue& queue, const std::string& id, Millis now, int64_t own_in_flight,
                       const std::function<bool()>& nothing_in_hand) {
  const auto run = runs.run(id);
  if (!run || run->phase != RunPhase::draining) return false;
  // Counts first, then the batches in hand: a batch received after the counts were read shows
  // in the second, one acknowledged before in neither.
  if (!queue_drained(queue.counts(), own_in_flight)) return false;
  if (nothing_in_hand && !nothing_in_hand()) return false;
  runs.mark_finished(id, now);
  return true;
}

}  // namespace sentiflow::assembly
