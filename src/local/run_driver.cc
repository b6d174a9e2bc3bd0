#include "local/run_driver.h"

#include <algorithm>

#include "assembly/backends.h"
#include "assembly/parts.h"
#include "config/values.h"
#include "observe/log.h"
#include "pipeline/producer.h"

namespace sentiflow::local {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kFinishCheck{1000};

}  // namespace

RunDriver::RunDriver(const PipelineConfig& config, RunState& state, Queue& queue, Queue& dead_letters,
                     pipeline::Sink& sink, WorkerPool& pool, LiveSampler& sampler, RunObserver* observer)
    : config_(config),
      state_(state),
      queue_(queue),
      dead_letters_(dead_letters),
      sink_(sink),
      pool_(pool),
      sampler_(sampler),
      observer_(observer) {}

RunDriver::~RunDriver() { stop(); }

void RunDriver::start(const RunRecord& run, bool full) {
  join_producer();
  current_ = run.id;
  started_ = SteadyClock::now();
  dead_letters_at_start_ = dead_letters_.counts().total();
  expired_at_start_ = queue_.expired_total().value_or(0);
  produced_ = run.phase != RunPhase::producing;
  producer_stop_ = false;
  producer_failure_ = nullptr;
  producer_failed_ = false;
  marked_finished_ = false;
  if (produced_) return;
  // The progress line's total: exact and cheap on a local table; on DynamoDB a count is a
  // full scan, so there the ETA goes by what has been sent.
  total_items_ = -1;
  if (config_.source.table.backend == TableLocation::Backend::local) {
    try {
      total_items_ = assembly::open_table(config_, false)->count();
    } catch (const Error&) {}
  }
  producer_ = std::thread([this, id = run.id, attempt = run.attempt, full] {
    try {
      pipeline::Producer p(
          assembly::producer_options(config_, &state_, full), [this] { return assembly::open_table(config_, false); },
          queue_, sink_);
      const auto report = p.run(
          id, state_.checkpoints(id),
          [&](const ScanCheckpoint& c, const pipeline::ProduceReport& page) {
            assembly::record_page(state_, state_, id, c, page);
          },
          producer_stop_, attempt);
      if (report.complete) {
        state_.mark_produced(id, now_millis());
        produced_ = true;
        log::info("produced", {{"run", id}, {"sent", report.sent}, {"error_records", report.errors}});
      }
    } catch (...) {
      producer_failure_ = std::current_exception();
      producer_failed_ = true;
    }
  });
}

bool RunDriver::finished() {
  if (current_.empty() || !produced_) return false;
  if (!marked_finished_) {
    const auto now = SteadyClock::now();
    const uint64_t empty = pool_.empty_receives();
    if (empty == empty_receives_seen_ && now - last_check_ < kFinishCheck) return false;
    empty_receives_seen_ = empty;
    last_check_ = now;
    if (!assembly::finish_if_drained(state_, queue_, current_, now_millis(), 0,
                                     [this] { return pool_.batches_in_hand() == 0; }))
      return false;
    // Marked: from here on the run's end is owed whatever fails below (a busy state file); the
    // next call does it again instead of waiting for a phase that will never be `draining`.
    marked_finished_ = true;
  }
  join_producer();
  // Dead letters of the run are counted by the consumers (a failure on its last receive);
  // the queue's own count also catches messages that ran out of receives in crashes, for the
  // exit status.
  const int64_t dead = std::max<int64_t>(0, dead_letters_.counts().total() - dead_letters_at_start_);
  try {
    sampler_.sample(current_, true);
  } catch (const std::exception& e) {  // the final point is worth a line in the log, not the run
    log::warn("could not sample the run's final point", {{"run", current_}, {"error", e.what()}});
  }
  const auto run = state_.run(current_);
  dead_letters_total_ += dead;
  // A message past the queue's retention is gone without a result or an error record: the run
  // says so (log, metric, summary, exit status) instead of finishing as if complete.
  int64_t expired = -1;
  if (const auto total = queue_.expired_total()) {
    expired = std::max<int64_t>(0, *total - expired_at_start_);
    expired_total_ += expired;
    if (expired > 0) {
      Metrics::global()
          .counter("sentiflow_messages_expired_total",
                   "Messages that passed the queue's retention before they were processed (local queue).")
          .add(static_cast<double>(expired));
      log::error("messages expired in the queue before they were processed: their items have no result",
                 {{"run", current_}, {"expired", expired}, {"retention", format_duration(config_.queue.retention)}});
    }
  }
  if (run) {
    if (observer_) {
      observer_->end();
      observer_->finished(
          *run, Metrics::global().histogram_snapshot("sentiflow_end_to_end_seconds").value_or(Histogram::Snapshot{}),
          expired);
    } else {
      const double seconds =
          run->finished_at ? std::chrono::duration<double>(*run->finished_at - run->started_at).count() : 0;
      log::info("run finished", {{"run", run->id},
                                 {"processed", run->counts.processed},
                                 {"failed", run->counts.failed},
                                 {"dead_letters", run->counts.dead_letters},
                                 {"seconds", seconds}});
    }
  }
  current_.clear();
  marked_finished_ = false;
  return true;
}

void RunDriver::check_producer() {
  if (!producer_failed_) return;
  join_producer();
  producer_failed_ = false;
  std::rethrow_exception(producer_failure_);
}

void RunDriver::abandon() {
  stop();
  current_.clear();
}

void RunDriver::stop() {
  producer_stop_ = true;
  join_producer();
}

void RunDriver::report_progress() {
  if (!observer_) return;
  const auto now = SteadyClock::now();
  if (now - last_progress_ < observer_->progress_interval()) return;
  last_progress_ = now;
  RunProgress p;
  p.run = current_;
  p.workers = pool_.workers();
  if (!current_.empty()) {
    p.total = total_items_;
    p.elapsed_seconds = std::chrono::duration<double>(now - started_).count();
    if (const auto run = state_.run(current_)) {
      p.sent = run->counts.sent;
      p.processed = run->counts.processed;
    }
  }
  observer_->progress(p);
}

void RunDriver::join_producer() {
  if (producer_.joinable()) producer_.join();
}

}  // namespace sentiflow::local
