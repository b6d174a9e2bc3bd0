#include "runtime/local_runner.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <thread>

#include "observe/log.h"
#include "observe/metrics.h"
#include "pipeline/consumer.h"
#include "pipeline/enrich.h"
#include "pipeline/producer.h"
#include "pipeline/retry.h"
#include "pipeline/sink.h"
#include "runtime/backends.h"
#include "runtime/observe_server.h"
#include "runtime/run_state.h"
#include "runtime/ticks.h"
#include "runtime/worker_pool.h"
#include "table/local_table.h"

namespace sentiflow::runtime {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How often the main loop looks at the queue, the producer and the clock.
constexpr milliseconds kTick{100};
constexpr milliseconds kFinishCheck{1000};

std::string manual_run_id(Millis now) {
  // manual-YYYYMMDDTHHMMSS.mmmZ from 2026-11-26T06:00:00.123Z
  std::string iso = format_utc_millis(now);
  std::string id = "manual-";
  for (char c : iso)
    if (c != '-' && c != ':') id += c;
  return id;
}

std::string thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

void seed_table(const PipelineConfig& c) {
  if (!c.source.seed || c.source.table.backend != TableLocation::Backend::local) return;
  const auto& path = *c.source.seed;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw invalid_input(fmt::format("source.seed: cannot read {}", path.string()));
  LocalTable table(LocalTableOptions{LocalTable::file_in(c.state_dir, c.source.table.name), c.source.table.name,
                                     KeySchema{c.source.key}});
  const ImportFormat format = path.extension() == ".csv" ? ImportFormat::csv : ImportFormat::json_lines;
  const ImportReport report = table.import(in, format, /*only_if_empty=*/true);
  if (report.table_was_not_empty) return;
  for (const auto& e : report.errors)
    log::warn(fmt::format("{}:{}: {}", path.string(), e.line, e.message), {{"skipped", "line"}});
  log::info("seeded the table", {{"table", c.source.table.uri},
                                 {"items", report.imported},
                                 {"skipped_lines", report.skipped},
                                 {"file", path.string()}});
}

}  // namespace

// Everything one run() call holds: the backends, the consumer side (shared by all runs of a
// daemon) and the run being produced now.
struct LocalRunner::Impl {
  LocalRunner& self;
  const PipelineConfig& config;
  SqliteRunState state;
  std::unique_ptr<SchedulerLock> lock;
  std::unique_ptr<Queue> queue;
  std::unique_ptr<Queue> dead_letters;
  SinkStore sink_store;
  pipeline::Sink sink;
  std::unique_ptr<sentiment::Analyzer> analyzer;
  std::unique_ptr<pipeline::Enricher> enricher;
  std::unique_ptr<pipeline::Consumer> consumer;
  std::unique_ptr<WorkerPool> pool;
  Metrics& metrics = Metrics::global();
  std::unique_ptr<ObserveServer> server;  // with --listen / observe.listen

  // The run being produced or drained by this process (scheduler only).
  std::string current;
  SteadyClock::time_point current_started{};
  int64_t dead_letters_at_start = 0;
  std::atomic<bool> produced{false};
  std::atomic<bool> producer_stop{false};
  std::exception_ptr producer_failure;  // written by the producer thread before producer_failed
  std::atomic<bool> producer_failed{false};
  std::thread producer;
  int64_t total_items = -1;
  int64_t dead_letters_total = 0;  // became dead letters while this process ran
  Seconds last_timeline{};
  SteadyClock::time_point last_progress{};
  SteadyClock::time_point last_finish_check{};
  uint64_t empty_receives_seen = 0;

  Impl(LocalRunner& runner, const PipelineConfig& c)
      : self(runner),
        config(c),
        state(c.state_dir),
        lock(SchedulerLock::try_acquire(c.state_dir)),
        queue(open_queue(c)),
        dead_letters(open_dead_letter_queue(c)),
        sink_store(open_sink_store(c, true)),
        sink(*sink_store.store, sink_store.prefix, c.sink.format, c.sink.compression),
        analyzer(make_analyzer(c)) {
    if (lock) {
      seed_table(c);  // by the scheduler only, before anything reads the table
      // A table that cannot be opened (missing, or an AWS table that is not there) is refused
      // before any run is recorded: a run started on it would stay `producing` and be resumed by
      // the next --once. Opening checks it; counting it would scan a DynamoDB table.
      (void)open_table(c, false);
    }
    if (c.consumer.enrich) enricher = std::make_unique<pipeline::Enricher>(*c.consumer.enrich);
    consumer = std::make_unique<pipeline::Consumer>(pipeline::ConsumerOptions{c.source.text, "unknown", c.queue.max_receive_count}, *analyzer,
                                                    sink, enricher.get());
    WorkerPoolOptions o;
    o.min_workers = c.consumer.min_concurrency;
    o.max_workers = c.consumer.max_concurrency;
    o.batch_size = c.consumer.batch_size;
    o.batch_window = c.consumer.batch_window;
    o.visibility_timeout = c.queue.visibility_timeout;
    o.queue_arn = queue_arn(c);
    o.region = queue_region(c);
    pool = std::make_unique<WorkerPool>(o, *queue, *consumer, [this](const pipeline::BatchOutcome& outcome) {
      for (const auto& [run, tally] : outcome.runs) {
        try {
          state.add_counts(run, counts_of(tally));
        } catch (const Error& e) {
          if (e.code() != ErrorCode::not_found) throw;  // a message of a run this state never saw
        }
      }
    });
    if (runner.options_.listen) {
      server = std::make_unique<ObserveServer>(*runner.options_.listen, metrics, [this] { return status_json(); });
      server->start();
    }
  }

  // What the dashboard shows beside the live points; called from the server's threads (the
  // run state and the queues are safe to share).
  nlohmann::json status_json() {
    nlohmann::json runs = nlohmann::json::array();
    for (const RunRecord& r : state.recent_runs(10)) runs.push_back(to_json(r));
    return {{"pipeline", config.name},
            {"scheduler", scheduler()},
            {"queue", config.queue.url.uri},
            {"dead_letter_queue", config.queue.dead_letter},
            {"dead_letters", dead_letters->counts().total()},
            {"workers", {{"now", pool->workers()}, {"min", config.consumer.min_concurrency}, {"max", config.consumer.max_concurrency}}},
            {"runs", std::move(runs)}};
  }

  // Once a second: the run's timeline point and the server's live point.
  void each_second(bool force = false) {
    const Seconds now = now_seconds();
    if (!force && now <= last_timeline) return;
    last_timeline = now;
    if (current.empty() && !server) return;
    nlohmann::json point = live_point(now);
    if (!current.empty()) {
      try {
        state.record_timeline(current, TimelinePoint{now, point.dump()});
      } catch (const Error& e) {
        log::warn("could not record the timeline", {{"error", e.what()}});
      }
    }
    if (server) server->add_point(std::move(point));
  }

  ~Impl() {
    producer_stop = true;
    if (producer.joinable()) producer.join();
  }

  bool scheduler() const { return lock != nullptr; }

  void start_producer(const RunRecord& run) {
    current = run.id;
    current_started = SteadyClock::now();
    dead_letters_at_start = dead_letters->counts().total();
    produced = run.phase != RunPhase::producing;
    producer_stop = false;
    if (producer.joinable()) producer.join();
    producer_failure = nullptr;
    producer_failed = false;
    if (produced) return;
    // The progress line's total: exact and cheap on a local table; on DynamoDB a count is a
    // full scan, so there the ETA goes by what has been sent.
    total_items = -1;
    if (config.source.table.backend == TableLocation::Backend::local) {
      try {
        total_items = open_table(config, false)->count();
      } catch (const Error&) {
      }
    }
    producer = std::thread([this, id = run.id] {
      try {
        pipeline::ProducerOptions o;
        o.key_attribute = config.source.key;
        o.text_attribute = config.source.text;
        o.text_required = !config.consumer.enrich.has_value();
        o.segments = config.source.segments;
        o.page_size = config.source.page_size;
        o.message_size_limit = config.queue.message_size_limit;
        pipeline::Producer p(o, [this] { return open_table(config, false); }, *queue, sink);
        const auto report = p.run(
            id, state.checkpoints(id),
            [&](const pipeline::ScanCheckpoint& c, const pipeline::ProduceReport& page) {
              // The page is sent: its checkpoint must be saved, through a busy state file too.
              pipeline::with_retries([&] { state.add_counts(id, counts_of(page)); });
              pipeline::with_retries([&] { state.save_checkpoint(id, c); });
            },
            producer_stop);
        if (report.complete) {
          state.mark_produced(id, now_millis());
          produced = true;
          log::info("produced", {{"run", id}, {"sent", report.sent}, {"error_records", report.errors}});
        }
      } catch (...) {
        producer_failure = std::current_exception();
        producer_failed = true;
      }
    });
  }

  // Whether the current run is done: produced and nothing of it left in the queue. The queue's
  // counts cost a query over its messages, so they are read only when a worker of ours has just
  // found the queue empty, or once a second (the work may be done by other processes).
  bool current_finished() {
    if (current.empty() || !produced) return false;
    const auto now = SteadyClock::now();
    const uint64_t empty = pool->empty_receives();
    if (empty == empty_receives_seen && now - last_finish_check < kFinishCheck) return false;
    empty_receives_seen = empty;
    last_finish_check = now;
    // Counts first, then the batches in hand (WorkerPool::batches_in_hand): a batch received
    // after the counts were read shows in the second, one acknowledged before in neither.
    if (queue->counts().total() != 0 || pool->batches_in_hand() != 0) return false;
    if (producer.joinable()) producer.join();
    // Dead letters of the run are counted by the consumers (a failure on its last receive);
    // the queue's own count also catches messages that ran out of receives in crashes, for the
    // exit status.
    dead_letters_total += std::max<int64_t>(0, dead_letters->counts().total() - dead_letters_at_start);
    state.mark_finished(current, now_millis());
    each_second(true);
    summarize(current);
    current.clear();
    return true;
  }

  void check_producer() {
    if (!producer_failed) return;
    if (producer.joinable()) producer.join();
    std::rethrow_exception(producer_failure);
  }

  // What the process is doing now: cumulative counters (rates are differences between points),
  // queue depths, workers and latency. One a second goes to the run's timeline (for `sentiflow
  // report`); docs/RUNNING.md lists the fields.
  nlohmann::json live_point(Seconds at) {
    const auto counts = queue->counts();
    const auto e2e = metrics.histogram_snapshot("sentiflow_end_to_end_seconds").value_or(Histogram::Snapshot{});
    // Lookups that create nothing: a consumer-only process has no producer families to show.
    const auto counter = [&](std::string_view name, const Labels& labels = {}) { return metrics.value(name, labels); };
    nlohmann::json labels = nlohmann::json::object();
    for (std::string_view label : {"POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"})
      labels[std::string(label)] = counter("sentiflow_records_processed_total", {{"label", std::string(label)}});
    // The queue's depths as gauges too, for /metrics (read here once a second, not per scrape).
    const int64_t dead = dead_letters->counts().total();
    const auto depth = [&](const char* which, int64_t n) {
      metrics.gauge("sentiflow_queue_messages", "Messages in the queue now, by state (visible, in_flight, delayed).",
                    {{"state", which}})
          .set(static_cast<double>(n));
    };
    depth("visible", counts.visible);
    depth("in_flight", counts.in_flight);
    depth("delayed", counts.delayed);
    metrics.gauge("sentiflow_dead_letter_messages", "Messages in the dead-letter queue now.").set(static_cast<double>(dead));
    nlohmann::json point = {{"t", format_utc(at)},
                            {"run", current},
                            {"scanned", counter("sentiflow_items_scanned_total")},
                            {"sent", counter("sentiflow_messages_sent_total")},
                            {"received", counter("sentiflow_messages_received_total")},
                            {"deleted", counter("sentiflow_messages_deleted_total")},
                            {"processed", metrics.family_total("sentiflow_records_processed_total")},
                            {"failed", metrics.family_total("sentiflow_records_failed_total")},
                            {"labels", std::move(labels)},
                            {"visible", counts.visible},
                            {"in_flight", counts.in_flight},
                            {"delayed", counts.delayed},
                            {"dead_letters", dead},
                            {"workers", pool->workers()},
                            {"p50", e2e.quantile(0.5)},
                            {"p90", e2e.quantile(0.9)},
                            {"p99", e2e.quantile(0.99)}};
    // The counters above are this process's since it started (they span a daemon's runs and miss
    // other processes' work); the run's own counts, from the state every process adds to:
    if (!current.empty())
      if (const auto run = state.run(current))
        point["run_counts"] = {{"scanned", run->counts.scanned},
                               {"sent", run->counts.sent},
                               {"processed", run->counts.processed},
                               {"failed", run->counts.failed},
                               {"dead_letters", run->counts.dead_letters}};
    return point;
  }

  void show_progress() {
    const auto now = SteadyClock::now();
    const auto interval = self.options_.progress_bar ? milliseconds(200) : self.options_.log_interval;
    if (now - last_progress < interval) return;
    last_progress = now;
    std::optional<RunRecord> run = current.empty() ? std::nullopt : state.run(current);
    const double elapsed = std::chrono::duration<double>(now - current_started).count();
    const int64_t processed = run ? run->counts.processed : 0;
    const int64_t sent = run ? run->counts.sent : 0;
    const double rate = elapsed > 0 ? static_cast<double>(processed) / elapsed : 0;
    const int64_t total = total_items >= 0 ? total_items : sent;
    std::string eta = "-";
    if (rate > 0 && total > processed) {
      const auto s = static_cast<int64_t>(static_cast<double>(total - processed) / rate);
      eta = fmt::format("{}:{:02}", s / 60, s % 60);
    }
    if (self.options_.progress_bar) {
      std::cerr << fmt::format("\r\033[K{}  produced {}/{}  processed {}  {:.0f}/s  workers {}  ETA {}",
                               current.empty() ? "waiting" : current, thousands(sent),
                               total >= 0 ? thousands(total) : "?", thousands(processed), rate, pool->workers(), eta)
                << std::flush;
    } else if (!current.empty()) {
      log::info("progress", {{"run", current},
                             {"produced", sent},
                             {"processed", processed},
                             {"items_per_s", std::round(rate)},
                             {"workers", pool->workers()},
                             {"eta", eta}});
    }
  }

  void end_progress_line() {
    if (self.options_.progress_bar) std::cerr << "\r\033[K" << std::flush;
  }

  void summarize(const std::string& id) {
    end_progress_line();
    const std::optional<RunRecord> run = state.run(id);
    if (!run) return;
    const RunCounts& c = run->counts;
    const double seconds =
        run->finished_at ? std::chrono::duration<double>(*run->finished_at - run->started_at).count() : 0;
    const auto e2e = metrics.histogram_snapshot("sentiflow_end_to_end_seconds").value_or(Histogram::Snapshot{});
    std::string labels;
    for (const auto& [label, n] : c.labels)
      labels += fmt::format("{}{} {} ({:.1f}%)", labels.empty() ? "" : " · ", label, thousands(n),
                            c.processed > 0 ? 100.0 * static_cast<double>(n) / static_cast<double>(c.processed) : 0);
    const std::string text = fmt::format(
        "run {} ({}, attempt {}) finished in {:.1f} s\n"
        "  items         {} scanned · {} sent · {} error records\n"
        "  processed     {} stored · {} failed receives\n"
        "  labels        {}\n"
        "  dead letters  {}\n"
        "  throughput    {} items/s\n"
        "  latency       p50 {:.3f} s · p99 {:.3f} s (send → stored)\n",
        id, to_string(run->kind), run->attempt, seconds, thousands(c.scanned), thousands(c.sent),
        thousands(c.producer_errors), thousands(c.processed), thousands(c.failed), labels.empty() ? "-" : labels,
        thousands(c.dead_letters),
        thousands(seconds > 0 ? static_cast<int64_t>(static_cast<double>(c.processed) / seconds) : 0),
        e2e.quantile(0.5), e2e.quantile(0.99));
    if (self.options_.summary)
      *self.options_.summary << text << std::flush;
    else
      log::info("run finished", {{"run", id},
                                 {"processed", c.processed},
                                 {"failed", c.failed},
                                 {"dead_letters", c.dead_letters},
                                 {"seconds", seconds}});
  }

  // Sleeps one main-loop tick, or less when a stop is requested.
  void pause() {
    std::unique_lock guard(self.mutex_);
    self.wake_.wait_for(guard, kTick, [this] { return self.stop_.load(); });
  }

  int run_once() {
    if (!scheduler()) return consume_only(false);
    RunRecord run;
    const Millis now = now_millis();
    if (self.options_.mode == RunnerOptions::Mode::run) {
      const auto existing = state.run(self.options_.run_id);
      const RunKind kind = existing ? existing->kind : is_tick_id(self.options_.run_id) ? RunKind::backfill : RunKind::manual;
      run = state.start_run(self.options_.run_id, kind, now);
    } else if (auto unfinished = state.newest_unfinished()) {
      run = *unfinished;
      log::info("resuming an unfinished run", {{"run", run.id}, {"phase", std::string(to_string(run.phase))}});
    } else {
      run = state.start_run(manual_run_id(now), RunKind::manual, now);
    }
    log::info("run started", {{"run", run.id}, {"attempt", run.attempt}});
    start_producer(run);
    pool->start();
    if (server) server->set_ready(true);
    while (!self.stop_) {
      check_producer();
      if (current_finished()) break;
      each_second();
      show_progress();
      pause();
    }
    pool->stop();
    producer_stop = true;
    if (producer.joinable()) producer.join();
    end_progress_line();
    check_producer();
    if (!current.empty()) {
      log::warn("stopped before the run finished; `sentiflow run --once` resumes it", {{"run", current}});
      return 1;
    }
    return dead_letters_total > 0 ? 1 : 0;
  }

  // Another process schedules: work until nothing is left (once) or until stopped (daemon).
  int consume_only(bool daemon) {
    log::info("another sentiflow process schedules this state directory; this one only consumes",
              {{"state_dir", config.state_dir.string()}});
    const int64_t dead_before = dead_letters->counts().total();
    pool->start();
    if (server) server->set_ready(true);
    while (!self.stop_) {
      const auto now = SteadyClock::now();
      if (!daemon && (pool->empty_receives() != empty_receives_seen || now - last_finish_check >= kFinishCheck)) {
        empty_receives_seen = pool->empty_receives();  // the same economy as current_finished()
        last_finish_check = now;
        const auto unfinished = state.newest_unfinished();
        const bool producing = unfinished && unfinished->phase == RunPhase::producing;
        if (!producing && queue->counts().total() == 0 && pool->batches_in_hand() == 0) break;
      }
      each_second();
      pause();
    }
    pool->stop();
    return dead_letters->counts().total() > dead_before ? 1 : 0;
  }

  int run_daemon() {
    if (!scheduler()) return consume_only(true);
    const Schedule* schedule = config.schedule ? &*config.schedule : nullptr;
    if (!schedule) log::info("no schedule: the daemon only resumes unfinished runs and consumes");
    pool->start();
    if (server) server->set_ready(true);
    std::optional<Seconds> next_logged;
    auto resume_not_before = SteadyClock::now();
    while (!self.stop_) {
      try {
        if (producer_failed) {
          // A producer that failed for good (after its retries) leaves its run unfinished: the
          // daemon logs it and tries again later instead of ending.
          producer.join();
          try {
            std::rethrow_exception(producer_failure);
          } catch (const std::exception& e) {
            log::error("the producer failed; the run will be resumed in 30 s", {{"run", current}, {"error", e.what()}});
          }
          producer_failed = false;
          current.clear();
          resume_not_before = SteadyClock::now() + std::chrono::seconds(30);
        }
        current_finished();
        // Unfinished runs (left by a crash, a signal, or a failure) are finished one after the
        // other before a new tick runs; while one is current, ticks are skipped.
        if (current.empty() && SteadyClock::now() >= resume_not_before)
          if (auto unfinished = state.newest_unfinished()) {
            log::info("resuming an unfinished run", {{"run", unfinished->id}});
            start_producer(*unfinished);
          }
        if (schedule) {
          const Seconds now = std::chrono::floor<std::chrono::seconds>(self.options_.clock());
          const TickPlan plan = plan_tick(*schedule, config.catch_up, state.last_tick(), now);
          if (plan.missed) {
            log::info("skipped a tick missed while no scheduler ran (catch_up: none)",
                      {{"tick", format_utc(*plan.missed)}});
            state.set_last_tick(*plan.missed);
          }
          if (plan.fire) {
            if (!current.empty() || state.newest_unfinished()) {
              state.add_skipped_tick();
              metrics.counter("sentiflow_ticks_skipped_total", "Schedule ticks skipped because a run was unfinished.")
                  .add();
              log::warn("tick skipped: a run is unfinished", {{"tick", format_utc(*plan.fire)}, {"run", current}});
            } else {
              // The run first, then the tick: a crash between the two fires the tick again,
              // which resumes the run instead of losing the tick.
              const RunRecord run = state.start_run(format_utc(*plan.fire), RunKind::scheduled, now_millis());
              log::info("run started", {{"run", run.id}, {"attempt", run.attempt}});
              start_producer(run);
            }
            state.set_last_tick(*plan.fire);
          }
          if (plan.next != next_logged) {
            next_logged = plan.next;
            if (plan.next) log::info("next tick", {{"at", format_utc(*plan.next)}});
          }
        }
        each_second();
        if (!current.empty()) show_progress();
      } catch (const Error& e) {
        // A state file held by another process for longer than its busy timeout: the daemon
        // outlives it; anything else is a bug or a broken pipeline and ends it.
        if (!is_retryable(e.code())) throw;
        log::warn("the daemon could not read or write its state; trying again", {{"error", e.what()}});
      }
      pause();
    }
    log::info("stopping: finishing the batches in progress");
    producer_stop = true;
    pool->stop();
    if (producer.joinable()) producer.join();
    end_progress_line();
    return 0;
  }
};

LocalRunner::LocalRunner(PipelineConfig config, RunnerOptions options)
    : config_(std::move(config)), options_(std::move(options)) {}

LocalRunner::~LocalRunner() = default;

void LocalRunner::request_stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
}

int LocalRunner::run() {
  if (options_.mode == RunnerOptions::Mode::run) check_run_id(options_.run_id);  // before anything is created
  std::filesystem::create_directories(config_.state_dir);
  Impl impl(*this, config_);
  switch (options_.mode) {
    case RunnerOptions::Mode::daemon: return impl.run_daemon();
    case RunnerOptions::Mode::once:
    case RunnerOptions::Mode::run: return impl.run_once();
  }
  return 0;
}

}  // namespace sentiflow::runtime
