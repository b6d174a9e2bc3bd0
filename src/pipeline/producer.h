// Producer: reads every item of the source table and sends one message per item to the queue
// (DESIGN.md, "Producer").
//
// The table is scanned in `segments` parallel segments, one thread each, page by page. After
// a page's messages are sent and its error records stored, the producer reports a checkpoint
// (segment, token to continue from); a run that is interrupted resumes from the last
// checkpoint of each segment, so at most one page per segment is sent twice (the results
// reader keeps each (run, key) once). An item without a string key, without a string text
// (when the consumer has no enrich step) or whose message would be larger than the message
// limit is not sent: it becomes an error record and is counted.
//
// One Producer runs one run at a time; run() blocks until the run is produced or stopped.
// Metrics: sentiflow_items_scanned_total, sentiflow_messages_sent_total,
// sentiflow_producer_errors_total{code}, sentiflow_producer_page_seconds.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "observe/metrics.h"
#include "pipeline/sink.h"
#include "queue/queue.h"
#include "state/run_state.h"
#include "table/table.h"

namespace sentiflow::pipeline {

struct ProducerOptions {
  std::string table;                          // source.table's URI: recorded in each checkpoint
  std::string key_attribute;                  // source.key
  std::optional<std::string> text_attribute;  // source.text; nullopt when the consumer enriches
  bool text_required = true;                  // false when the consumer has an enrich step
  int segments = 1;                           // source.segments
  int page_size = 1000;                       // source.page_size
  uint64_t message_size_limit = 256 * 1024;   // queue.message_size_limit
  // source.incremental: each message carries its item's fingerprint (of the text, or of the
  // enrich URL made from the item), and with skip_unchanged an item whose fingerprint is the
  // one recorded with its key's stored result is not sent (counted unchanged). Null: a plain
  // scan. Must outlive the producer.
  FingerprintLog* fingerprints = nullptr;
  bool skip_unchanged = true;               // false: `run --run ID --full`, every item is sent
  std::optional<std::string> enrich_url{};  // consumer.enrich.url (the template), when it enriches
  std::string enrich_text{};                // consumer.enrich.text (the pointer into the answer)
};

struct ProduceReport {
  int64_t scanned = 0;  // items read in this call (a resumed run counts from its checkpoints)
  int64_t sent = 0;
  int64_t errors = 0;     // error records written
  int64_t unchanged = 0;  // items an incremental scan left out: their result is current
  bool complete = false;  // every segment read to its end (false when stopped)
  // The pages' read units (from the items' JSON text), the sends as SQS bills them
  // (pipeline/cost.h), the error objects written.
  BilledWork work;
};

class Producer {
 public:
  // One table object per segment thread (LocalTable serialises calls on one connection).
  using TableFactory = std::function<std::unique_ptr<Table>()>;
  // Called after each page, from the segment's thread (calls may come from several threads at
  // once), with the segment's new checkpoint and the page's counts.
  using PageCallback = std::function<void(const ScanCheckpoint& checkpoint, const ProduceReport& page)>;

  // The queue and the sink must outlive the producer.
  Producer(ProducerOptions options, TableFactory tables, Queue& queue, Sink& sink,
           Metrics& metrics = Metrics::global());

  // Produces run `run`. `resume` holds the checkpoints saved by an earlier call for this run
  // (those with another total_segments, or of another table than options.table, are ignored:
  // that segment's scan restarts). Returns when every
  // segment is done, or early, at a page boundary, once `stop` is set. Throws Error when the
  // table or the queue fails for good (after retries of transient failures); what was sent
  // before stays sent and checkpointed.
  // `attempt` (the run's RunRecord::attempt) goes into every message, for the results' dedupe.
  ProduceReport run(const std::string& run, const std::vector<ScanCheckpoint>& resume, const PageCallback& on_page,
                    const std::atomic<bool>& stop, int attempt = 1);

 private:
  // The item's fingerprint for an incremental scan: 32 hex digits of a SHA-256 of its text (or
  // of its enrich URL); "" when it has nothing to make one from.
  std::string fingerprint_of(std::string_view item, const std::optional<std::string>& text) const;
  ProduceReport run_segment(const std::string& run, ScanCheckpoint checkpoint, const PageCallback& on_page,
                            const std::atomic<bool>& stop, int attempt);

  const ProducerOptions options_;
  const TableFactory tables_;
  Queue& queue_;
  Sink& sink_;
  Counter& scanned_;
  Counter& sent_;
  Metrics& metrics_;
  Histogram& page_seconds_;
};

}  // namespace sentiflow::pipeline
