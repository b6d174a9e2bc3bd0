// LocalRunner: `sentiflow run` on one machine — the scheduler, the producer and the elastic
// consumers in one process (DESIGN.md, "Runs" and "The command line"; docs/RUNNING.md). The
// runner is the daemon's loop and the choice of run; RunDriver (local/run_driver.h) drives one
// run, LiveSampler (local/live_sampler.h) samples the live timeline, a RunObserver
// (local/run_observer.h) presents progress and summaries, and assembly/ builds the parts.
//
// Roles: the process that holds the state directory's SchedulerLock schedules and produces; any
// other process on the same state only consumes (how extra processes join the work).
// Modes:
//   once   resume the newest unfinished run, or start a manual one; produce it, drain the queue,
//          mark it finished, print the summary, return.
//   run    the same for one run id (a re-run when that run is finished: backfill). Refused
//          (Error(invalid_input)) while another process holds the SchedulerLock: only the
//          scheduler produces.
//   daemon fire runs on the schedule until request_stop(); a tick that comes while a run is
//          unfinished is skipped and counted; catch_up decides what happens to ticks missed
//          while no daemon ran (local/ticks.h).
// A run is finished when its producer is done and the queue holds no message (visible,
// delayed or in flight). request_stop() (SIGINT/SIGTERM) stops receiving, lets the workers
// finish and acknowledge the batches in their hands, stops the producer at a page boundary
// (its checkpoint saved, so the next run resumes it) and returns.
//
// run() is called once, from one thread; request_stop() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/pipeline_config.h"
#include "core/time.h"
#include "local/run_observer.h"

namespace sentiflow::local {

struct RunnerOptions {
  enum class Mode { once, run, daemon };
  Mode mode = Mode::once;
  std::string run_id;                          // Mode::run
  bool full = false;                           // Mode::run: an incremental scan sends every item
  std::function<Millis()> clock = now_millis;  // the daemon's time (tests inject their own)
  // Shown progress and run summaries (cli/run_presenter.h in the CLI); null: a "run finished"
  // log line per run. Must outlive run().
  RunObserver* observer = nullptr;
  // Serve /metrics, /healthz, /readyz and the dashboard here for the life of run()
  // (observe_server/observe_server.h); nullopt: no server.
  std::optional<ListenAddress> listen{};
};

class LocalRunner {
 public:
  LocalRunner(PipelineConfig config, RunnerOptions options);
  ~LocalRunner();
  LocalRunner(const LocalRunner&) = delete;
  LocalRunner& operator=(const LocalRunner&) = delete;

  // Runs as the options say. Returns the exit status: 0 done; 1 when a message became a dead
  // letter or a once/run was stopped before it finished. Throws Error for a pipeline that
  // cannot start (a missing table, a bad seed file) or a producer that failed for good.
  int run();

  // Asks run() to stop gracefully; thread-safe, returns at once.
  void request_stop();

 private:
  struct Impl;
  PipelineConfig config_;
  RunnerOptions options_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace sentiflow::local
