#include "pipeline/producer.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "core/digest.h"
#include "core/json_text.h"
#include "net/url.h"
#include "observe/log.h"
#include "pipeline/cost.h"
#include "pipeline/message.h"
#include "pipeline/retry.h"
#include "queue/message_rules.h"

namespace sentiflow::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

// A message of one page, waiting to be sent.
struct Pending {
  std::string key;
  std::string body;
};

ErrorRecord producer_error(const std::string& run, std::string key, std::string_view code, std::string reason) {
  return ErrorRecord{run, std::move(key), "", 0, std::string(code), std::move(reason), now_millis()};
}

}  // namespace

Producer::Producer(ProducerOptions options, TableFactory tables, Queue& queue, Sink& sink, Metrics& metrics)
    : options_(std::move(options)),
      tables_(std::move(tables)),
      queue_(queue),
      sink_(sink),
      scanned_(metrics.counter("sentiflow_items_scanned_total", "Items read from the source table.")),
      sent_(metrics.counter("sentiflow_messages_sent_total", "Messages sent to the queue by the producer.")),
      metrics_(metrics),
      page_seconds_(metrics.histogram("sentiflow_producer_page_seconds",
                                      "Time to read one page of the table and send its messages.")) {
  if (options_.segments < 1) throw invalid_input("the producer needs at least one segment");
  if (options_.page_size < 1) throw invalid_input("the producer's page size must be at least 1");
}

std::string Producer::fingerprint_of(std::string_view item, const std::optional<std::string>& text) const {
  std::string basis;
  if (text) {
    // The consumer analyses the item's own text when it has one, enrich step or not.
    basis = "text\n" + *text;
  } else if (options_.enrich_url) {
    // Else what it fetches with: the URL made from the item, the template and the pointer into
    // the answer. An item the URL cannot be made from gets none: it is sent, and its fetch
    // fails as it would without an incremental scan.
    try {
      basis = "enrich\n" + *options_.enrich_url + "\n" + options_.enrich_text + "\n" +
              expand_url_template(*options_.enrich_url, [&](std::string_view name) -> std::optional<std::string> {
                const auto value = find_member_unchecked(item, name);
                return value ? json_scalar_text(*value) : std::nullopt;
              });
    } catch (const Error&) {
      return {};
    }
  } else {
    return {};
  }
  return sha256_hex(basis).substr(0, 32);
}

ProduceReport Producer::run(const std::string& run, const std::vector<ScanCheckpoint>& resume,
                            const PageCallback& on_page, const std::atomic<bool>& stop, int attempt) {
  const int n = options_.segments;
  std::vector<ScanCheckpoint> start(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) start[static_cast<size_t>(i)] = ScanCheckpoint{i, n, "", false, 0, 0, options_.table};
  for (const auto& c : resume) {
    // A token is a position in one table: after source.table changed, continuing from it
    // would skip or repeat items of the new table, so that segment starts over.
    if (!c.table.empty() && c.table != options_.table) {
      log::warn("a checkpoint of another table is ignored; its segment scans from the start",
                {{"run", run}, {"segment", c.segment}, {"checkpoint_table", c.table}, {"table", options_.table}});
      continue;
    }
    if (c.total_segments == n && c.segment >= 0 && c.segment < n) {
      auto& s = start[static_cast<size_t>(c.segment)];
      s = c;
      s.table = options_.table;
    }
  }

  std::vector<ProduceReport> reports(static_cast<size_t>(n));
  std::vector<std::exception_ptr> failures(static_cast<size_t>(n));
  {
    std::vector<std::jthread> threads;
    for (size_t i = 1; i < start.size(); ++i)
      threads.emplace_back([&, i] {
        try {
          reports[i] = run_segment(run, start[i], on_page, stop, attempt);
        } catch (...) {
          failures[i] = std::current_exception();
        }
      });
    try {  // segment 0 in the calling thread: the common single-segment case starts no thread
      reports[0] = run_segment(run, start[0], on_page, stop, attempt);
    } catch (...) {
      failures[0] = std::current_exception();
    }
  }
  for (const auto& f : failures)
    if (f) std::rethrow_exception(f);

  ProduceReport total;
  total.complete = true;
  for (const auto& r : reports) {
    total.scanned += r.scanned;
    total.sent += r.sent;
    total.errors += r.errors;
    total.unchanged += r.unchanged;
    total.work += r.work;
    total.complete = total.complete && r.complete;
  }
  return total;
}

ProduceReport Producer::run_segment(const std::string& run, ScanCheckpoint checkpoint, const PageCallback& on_page,
                                    const std::atomic<bool>& stop, int attempt) {
  ProduceReport report;
  if (checkpoint.done) {
    report.complete = true;
    return report;
  }
  const std::unique_ptr<Table> table = tables_();
  const QueueLimits limits = queue_.limits();
  const uint64_t message_limit = std::min<uint64_t>(options_.message_size_limit, limits.max_message_bytes);

  while (!stop.load(std::memory_order_relaxed)) {
    const auto page_started = Clock::now();
    const ScanPage page = with_retries([&] {
      return table->scan(ScanRequest{checkpoint.segment, checkpoint.total_segments,
                                     static_cast<size_t>(options_.page_size), checkpoint.token});
    });

    ProduceReport counts;
    counts.scanned = static_cast<int64_t>(page.items.size());
    int64_t page_bytes = 0;
    for (const std::string& item : page.items) page_bytes += static_cast<int64_t>(item.size());
    counts.work.pages = 1;
    counts.work.scan_read_units = static_cast<int64_t>(dynamodb_read_units(page_bytes));
    std::vector<ErrorRecord> errors;
    // The page's items that can be sent, each with its fingerprint when the scan is incremental.
    struct Candidate {
      const std::string* item;
      std::string key;
      std::string fingerprint;
      int64_t units = 0;  // the text's Comprehend units, for what leaving it out saves
    };
    std::vector<Candidate> candidates;
    candidates.reserve(page.items.size());
    // Items come from a Table, which returns valid JSON objects (its contract): a quick walk
    // finds the key and the text without checking the whole item again.
    for (const std::string& item : page.items) {
      const auto member_string = [&](const std::optional<std::string>& name) -> std::optional<std::string> {
        if (!name) return std::nullopt;
        const auto value = find_member_unchecked(item, *name);
        return value ? json_string_value(*value) : std::nullopt;
      };
      std::optional<std::string> key = member_string(options_.key_attribute);
      if (!key || key->empty()) {
        errors.push_back(producer_error(
            run, "", error_codes::kMissingKey,
            fmt::format("the item has no string attribute '{}' (source.key): {:.200}", options_.key_attribute, item)));
        continue;
      }
      const std::optional<std::string> text = member_string(options_.text_attribute);
      if (options_.text_required && !text) {
        errors.push_back(producer_error(
            run, *key, error_codes::kMissingText,
            fmt::format("the item has no string attribute '{}' (source.text)", options_.text_attribute.value_or(""))));
        continue;
      }
      const bool incremental = options_.fingerprints != nullptr;
      candidates.push_back(Candidate{&item, std::move(*key), incremental ? fingerprint_of(item, text) : std::string(),
                                     incremental && text ? comprehend_units(*text) : 0});
    }

    // An incremental scan leaves out the items whose result was made from what they hold now.
    if (options_.fingerprints && options_.skip_unchanged && !candidates.empty()) {
      std::vector<std::string> keys;
      keys.reserve(candidates.size());
      for (const auto& c : candidates) keys.push_back(c.key);
      const auto recorded = with_retries([&] { return options_.fingerprints->fingerprints(keys); });
      std::erase_if(candidates, [&](const Candidate& c) {
        const auto it = recorded.find(c.key);
        const bool same = !c.fingerprint.empty() && it != recorded.end() && it->second == c.fingerprint;
        if (same) {
          ++counts.unchanged;
          counts.work.unchanged_comprehend_units += c.units;
        }
        return same;
      });
    }

    std::vector<Pending> pending;
    pending.reserve(candidates.size());
    for (Candidate& c : candidates) {
      std::string body = encode_message(run, c.key, *c.item, attempt, c.fingerprint);
      if (message_size(body, {}) > message_limit) {
        errors.push_back(producer_error(run, c.key, error_codes::kTooLarge,
                                        fmt::format("its message is {} bytes; the queue's message limit is {} bytes "
                                                    "(queue.message_size_limit)",
                                                    body.size(), message_limit)));
        continue;
      }
      pending.push_back(Pending{std::move(c.key), std::move(body)});
    }

    // Send in the largest batches the queue takes, by count and by bytes.
    std::vector<SendEntry> batch;
    std::vector<size_t> batch_index;  // pending index of each entry
    uint64_t batch_bytes = 0;
    auto flush = [&] {
      if (batch.empty()) return;
      std::vector<SendEntry> remaining = std::move(batch);
      std::vector<size_t> remaining_index = std::move(batch_index);
      batch.clear();
      batch_index.clear();
      batch_bytes = 0;
      // Entries that failed for a temporary reason are sent again; a refused one becomes an
      // error record.
      with_retries([&] {
        const std::vector<SendResult> results = queue_.send(remaining);
        std::vector<SendEntry> again;
        std::vector<size_t> again_index;
        for (size_t i = 0; i < results.size(); ++i) {
          if (results[i].ok()) {
            ++counts.sent;
          } else if (is_retryable(results[i].error->code())) {
            again.push_back(std::move(remaining[i]));
            again_index.push_back(remaining_index[i]);
          } else {
            const bool too_long = results[i].service_code == "MessageTooLong";
            errors.push_back(producer_error(
                run, pending[remaining_index[i]].key, too_long ? error_codes::kTooLarge : error_codes::kInvalidItem,
                fmt::format("the queue refused its message: {}", results[i].error->what())));
          }
        }
        remaining = std::move(again);
        remaining_index = std::move(again_index);
        if (!remaining.empty())
          throw Error(ErrorCode::transient, fmt::format("the queue could not take {} messages", remaining.size()));
      });
    };
    std::vector<int64_t> sizes;  // as SQS would bill their sends, whatever this queue's batches
    sizes.reserve(pending.size());
    for (const Pending& p : pending) sizes.push_back(static_cast<int64_t>(p.body.size()));
    counts.work.sqs_requests = sqs_batched_requests(sizes);
    for (size_t i = 0; i < pending.size(); ++i) {
      const uint64_t size = pending[i].body.size();
      if (batch.size() == limits.max_batch_entries || batch_bytes + size > limits.max_batch_bytes) flush();
      batch.push_back(SendEntry{std::to_string(batch.size()), std::move(pending[i].body)});
      batch_index.push_back(i);
      batch_bytes += size;
    }
    flush();

    if (!errors.empty()) {
      with_retries([&] { return sink_.put_errors(run, errors); });
      counts.work.objects = 1;
      for (const auto& e : errors)
        metrics_
            .counter("sentiflow_producer_errors_total", "Items the producer could not send (error records).",
                     {{"code", e.code}})
            .add();
    }
    counts.errors = static_cast<int64_t>(errors.size());
    scanned_.add(static_cast<double>(counts.scanned));
    sent_.add(static_cast<double>(counts.sent));
    report.scanned += counts.scanned;
    report.sent += counts.sent;
    report.errors += counts.errors;
    report.unchanged += counts.unchanged;
    // The page's time so far (its checkpoint's write is the caller's, after this).
    counts.work.producer_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - page_started).count();
    report.work += counts.work;

    checkpoint.token = page.next_token;
    checkpoint.done = page.next_token.empty();
    checkpoint.scanned += counts.scanned;
    checkpoint.sent += counts.sent;
    if (on_page) on_page(checkpoint, counts);
    page_seconds_.observe(std::chrono::duration<double>(Clock::now() - page_started).count());
    if (checkpoint.done) {
      report.complete = true;
      break;
    }
  }
  return report;
}

}  // namespace sentiflow::pipeline
