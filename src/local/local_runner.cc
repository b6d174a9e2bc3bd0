#include "local/local_runner.h"

#include <fmt/format.h>

#include "assembly/backends.h"
#include "assembly/parts.h"
#include "observe/log.h"
#include "observe/metrics.h"
#include "observe_server/observe_server.h"
#include "local/live_sampler.h"
#include "local/run_driver.h"
#include "local/ticks.h"
#include "local/worker_pool.h"
#include "state/scheduler_lock.h"

namespace sentiflow::local {
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

void seed_table(const PipelineConfig& c) {
  if (!c.source.seed || c.source.table.backend != TableLocation::Backend::local) return;
  const auto& path = *c.source.seed;
  const auto table = assembly::open_local_table(c.state_dir, c.source.table.name, KeySchema{c.source.key});
  const ImportReport report = assembly::import_seed(c, *table, /*only_if_empty=*/true);
  if (report.table_was_not_empty) return;
  for (const auto& e : report.errors)
    log::warn(fmt::format("{}:{}: {}", path.string(), e.line, e.message), {{"skipped", "line"}});
  log::info("seeded the table", {{"table", c.source.table.uri},
                                 {"items", report.imported},
                                 {"skipped_lines", report.skipped},
                                 {"file", path.string()}});
}

WorkerPoolOptions pool_options(const PipelineConfig& c) {
  WorkerPoolOptions o;
  o.min_workers = c.consumer.min_concurrency;
  o.max_workers = c.consumer.max_concurrency;
  o.batch_size = c.consumer.batch_size;
  o.batch_window = c.consumer.batch_window;
  o.visibility_timeout = c.queue.visibility_timeout;
  o.queue_arn = assembly::queue_arn(c);
  o.region = assembly::queue_region(c);
  return o;
}

}  // namespace

// What one run() call holds: the parts (built by assembly/), the consumers, the sampler, the
// server and the driver of the current run; the loops of the three modes.
struct LocalRunner::Impl {
  LocalRunner& self;
  const PipelineConfig& config;
  std::unique_ptr<RunState> state;      // the local store in state_dir (assembly::open_run_state)
  std::unique_ptr<SchedulerLock> lock;  // null: another process schedules, this one consumes
  std::unique_ptr<Queue> queue;
  std::unique_ptr<Queue> dead_letters;
  assembly::ConsumerParts parts;
  WorkerPool pool;
  std::unique_ptr<ObserveServer> server;  // with --listen / observe.listen
  LiveSampler sampler;
  RunDriver driver;

  Impl(LocalRunner& runner, const PipelineConfig& c)
      : self(runner),
        config(c),
        state(assembly::open_run_state(c, assembly::RunStateStore::local)),
        lock(SchedulerLock::try_acquire(assembly::run_state_dir(c))),
        queue(assembly::open_queue(c)),
        dead_letters(assembly::open_dead_letter_queue(c)),
        parts(c, /*create_store=*/true),
        pool(pool_options(c), *queue, parts.consumer(),
             [this](const pipeline::BatchOutcome& outcome) { assembly::record_batch(*state, outcome, state.get()); }),
        server(runner.options_.listen ? std::make_unique<ObserveServer>(*runner.options_.listen, Metrics::global(),
                                                                        [this] { return sampler.status(scheduler()); })
                                      : nullptr),
        sampler(
            c, *state, *state, *queue, *dead_letters, [this] { return pool.workers(); }, server.get()),
        driver(c, *state, *queue, *dead_letters, parts.sink(), pool, sampler, runner.options_.observer) {
    // Before any message is taken: a sink that cannot be written would fail every batch.
    parts.sink().check_writable(c.sink.store.uri);
    if (lock) {
      seed_table(c);  // by the scheduler only, before anything reads the table
      // A table that cannot be opened (missing, or an AWS table that is not there) is refused
      // before any run is recorded: a run started on it would stay `producing` and be resumed by
      // the next --once. Opening checks it; counting it would scan a DynamoDB table.
      (void)assembly::open_table(c, false);
    }
    if (server) server->start();
  }

  // The server first: its threads call the sampler (the dashboard's status), which is destroyed
  // before it; then the consumers and the producer.
  ~Impl() {
    if (server) server->stop();
    pool.stop();
    driver.stop();
  }

  bool scheduler() const { return lock != nullptr; }

  void end_progress() {
    if (self.options_.observer) self.options_.observer->end();
  }

  // Sleeps one main-loop tick, or less when a stop is requested.
  void pause() {
    std::unique_lock guard(self.mutex_);
    self.wake_.wait_for(guard, kTick, [this] { return self.stop_.load(); });
  }

  void start_consumers() {
    pool.start();
    if (server) server->set_ready(true);
  }

  int run_once() {
    // A backfill is produced by the scheduler; consuming instead would exit 0 without it.
    if (!scheduler() && self.options_.mode == RunnerOptions::Mode::run)
      throw invalid_input(fmt::format(
          "cannot run {}: another sentiflow process schedules {} (it holds {}); stop it "
          "first, or let it produce and join with `sentiflow run --once`",
          self.options_.run_id, config.name, (assembly::run_state_dir(config) / "scheduler.lock").string()));
    if (!scheduler()) return consume_only(false);
    RunRecord run;
    const Millis now = now_millis();
    if (self.options_.mode == RunnerOptions::Mode::run) {
      const auto existing = state->run(self.options_.run_id);
      const RunKind kind = existing                           ? existing->kind
                           : is_tick_id(self.options_.run_id) ? RunKind::backfill
                                                              : RunKind::manual;
      run = state->start_run(self.options_.run_id, kind, now);
    } else if (auto unfinished = state->newest_unfinished()) {
      run = *unfinished;
      log::info("resuming an unfinished run", {{"run", run.id}, {"phase", std::string(to_string(run.phase))}});
    } else {
      run = state->start_run(manual_run_id(now), RunKind::manual, now);
    }
    log::info("run started", {{"run", run.id}, {"attempt", run.attempt}});
    driver.start(run, self.options_.mode == RunnerOptions::Mode::run && self.options_.full);
    start_consumers();
    while (!self.stop_) {
      driver.check_producer();
      if (driver.finished()) break;
      sampler.sample(driver.current());
      driver.report_progress();
      pause();
    }
    pool.stop();
    driver.stop();
    end_progress();
    driver.check_producer();
    if (!driver.current().empty()) {
      log::warn("stopped before the run finished; `sentiflow run --once` resumes it", {{"run", driver.current()}});
      return 1;
    }
    return driver.dead_letters() > 0 || driver.expired() > 0 ? 1 : 0;
  }

  // Another process schedules: work until nothing is left (once) or until stopped (daemon).
  int consume_only(bool daemon) {
    log::info("another sentiflow process schedules this pipeline; this one only consumes",
              {{"pipeline", config.name}, {"state_dir", config.state_dir.string()}});
    const int64_t dead_before = dead_letters->counts().total();
    start_consumers();
    uint64_t empty_receives_seen = 0;
    auto last_check = SteadyClock::now() - kFinishCheck;
    while (!self.stop_) {
      const auto now = SteadyClock::now();
      // The same economy as RunDriver::finished(): the counts only after an empty receive or
      // once a second.
      if (!daemon && (pool.empty_receives() != empty_receives_seen || now - last_check >= kFinishCheck)) {
        empty_receives_seen = pool.empty_receives();
        last_check = now;
        const auto unfinished = state->newest_unfinished();
        const bool producing = unfinished && unfinished->phase == RunPhase::producing;
        if (!producing && assembly::queue_drained(queue->counts()) && pool.batches_in_hand() == 0) break;
      }
      sampler.sample("");
      pause();
    }
    pool.stop();
    return dead_letters->counts().total() > dead_before ? 1 : 0;
  }

  int run_daemon() {
    if (!scheduler()) return consume_only(true);
    const Schedule* schedule = config.schedule ? &*config.schedule : nullptr;
    if (!schedule) log::info("no schedule: the daemon only resumes unfinished runs and consumes");
    start_consumers();
    std::optional<Seconds> next_logged;
    auto resume_not_before = SteadyClock::now();
    while (!self.stop_) {
      try {
        if (driver.producer_failed()) {
          // A producer that failed for good (after its retries) leaves its run unfinished: the
          // daemon logs it and tries again later instead of ending.
          const std::string failed = driver.current();
          try {
            driver.check_producer();
          } catch (const std::exception& e) {
            log::error("the producer failed; the run will be resumed in 30 s", {{"run", failed}, {"error", e.what()}});
          }
          driver.abandon();
          resume_not_before = SteadyClock::now() + std::chrono::seconds(30);
        }
        driver.finished();
        // Unfinished runs (left by a crash, a signal, or a failure) are finished one after the
        // other before a new tick runs; while one is current, ticks are skipped.
        if (driver.current().empty() && SteadyClock::now() >= resume_not_before)
          if (auto unfinished = state->newest_unfinished()) {
            log::info("resuming an unfinished run", {{"run", unfinished->id}});
            driver.start(*unfinished);
          }
        if (schedule) fire_due_tick(*schedule, next_logged);
        sampler.sample(driver.current());
        if (!driver.current().empty()) driver.report_progress();
      } catch (const Error& e) {
        // A state file held by another process for longer than its busy timeout: the daemon
        // outlives it; anything else is a bug or a broken pipeline and ends it.
        if (!is_retryable(e.code())) throw;
        log::warn("the daemon could not read or write its state; trying again", {{"error", e.what()}});
      }
      pause();
    }
    log::info("stopping: finishing the batches in progress");
    pool.stop();
    driver.stop();
    end_progress();
    return 0;
  }

  // The scheduler's step: runs the due tick (plan_tick), or skips and counts it while a run is
  // unfinished.
  void fire_due_tick(const Schedule& schedule, std::optional<Seconds>& next_logged) {
    const Seconds now = std::chrono::floor<std::chrono::seconds>(self.options_.clock());
    const TickPlan plan = plan_tick(schedule, config.catch_up, state->last_tick(), now);
    if (plan.missed) {
      log::info("skipped a tick missed while no scheduler ran (catch_up: none)", {{"tick", format_utc(*plan.missed)}});
      state->set_last_tick(*plan.missed);
    }
    if (plan.fire) {
      if (!driver.current().empty() || state->newest_unfinished()) {
        state->add_skipped_tick();
        Metrics::global()
            .counter("sentiflow_ticks_skipped_total", "Schedule ticks skipped because a run was unfinished.")
            .add();
        log::warn("tick skipped: a run is unfinished", {{"tick", format_utc(*plan.fire)}, {"run", driver.current()}});
      } else {
        // The run first, then the tick: a crash between the two fires the tick again, which
        // resumes the run instead of losing the tick.
        const RunRecord run = state->start_run(format_utc(*plan.fire), RunKind::scheduled, now_millis());
        log::info("run started", {{"run", run.id}, {"attempt", run.attempt}});
        driver.start(run);
      }
      state->set_last_tick(*plan.fire);
    }
    if (plan.next != next_logged) {
      next_logged = plan.next;
      if (plan.next) log::info("next tick", {{"at", format_utc(*plan.next)}});
    }
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

}  // namespace sentiflow::local
