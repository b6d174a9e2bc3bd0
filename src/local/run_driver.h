// RunDriver: drives one run at a time on this machine — its producer on a thread of its own,
// and the check that it is drained (assembly::finish_if_drained), then its end: marked
// finished, its final timeline point, the observer told. The consumers are the WorkerPool's,
// shared by every run of a daemon; the runner (local/local_runner.h) decides which run to
// drive and when.
//
// A run is finished when its producer is done and the queue holds no message (visible,
// delayed or in flight) and no worker holds a batch. The queue's counts cost a query over its
// messages, so they are read only when a worker has just found the queue empty, or once a
// second (the work may be done by other processes).
//
// Its members are the eight parts it drives (references) and the current run's own state (the
// producer thread and its flags, the finish check's economy): more than a dozen, one concern.
//
// Used from one thread (the runner's); the producer thread is the driver's own. Everything
// passed must outlive the driver.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <thread>

#include "config/pipeline_config.h"
#include "local/live_sampler.h"
#include "local/run_observer.h"
#include "local/worker_pool.h"
#include "pipeline/sink.h"
#include "queue/queue.h"
#include "state/run_state.h"

namespace sentiflow::local {

class RunDriver {
 public:
  // `observer` may be null.
  RunDriver(const PipelineConfig& config, RunState& state, Queue& queue, Queue& dead_letters, pipeline::Sink& sink,
            WorkerPool& pool, LiveSampler& sampler, RunObserver* observer);
  ~RunDriver();  // stop()
  RunDriver(const RunDriver&) = delete;
  RunDriver& operator=(const RunDriver&) = delete;

  // Makes `run` the current run and, unless it is produced already, starts its producer from
  // the run's checkpoints. The previous run's producer must have ended (finished() or stop()).
  // `full`: an incremental scan sends every item (`run --run ID --full`).
  void start(const RunRecord& run, bool full = false);
  // The current run's id; "" when none.
  const std::string& current() const { return current_; }

  // True once the current run is drained: then it is marked finished, its final timeline point
  // is recorded, the observer gets its summary and no run is current. False while it is not
  // (or none is current). Throws the state's and the queue's Errors.
  bool finished();

  // Rethrows what the producer thread failed with (after its retries), once; the run stays
  // current and unfinished. No-op while the producer is fine.
  void check_producer();
  // Whether the producer thread has failed (check_producer() would throw).
  bool producer_failed() const { return producer_failed_; }
  // Forgets the current run (after a failed producer: the daemon resumes it later).
  void abandon();

  // Stops the producer at a page boundary (its checkpoint saved) and joins it. Idempotent.
  void stop();

  // Tells the observer where the current run stands, at most every progress_interval() (a
  // no-op without an observer).
  void report_progress();

  // Messages that became dead letters during the runs this driver saw finish.
  int64_t dead_letters() const { return dead_letters_total_; }
  // Messages of the queue that passed its retention while runs of this driver went on (never
  // processed); 0 where the queue does not tell (SQS).
  int64_t expired() const { return expired_total_; }

 private:
  void join_producer();

  const PipelineConfig& config_;
  RunState& state_;
  Queue& queue_;
  Queue& dead_letters_;
  pipeline::Sink& sink_;
  WorkerPool& pool_;
  LiveSampler& sampler_;
  RunObserver* const observer_;

  std::string current_;
  std::chrono::steady_clock::time_point started_{};
  int64_t total_items_ = -1;  // the progress's total: a local table's count, else unknown
  int64_t dead_letters_at_start_ = 0;
  int64_t dead_letters_total_ = 0;
  int64_t expired_at_start_ = 0;
  int64_t expired_total_ = 0;
  std::atomic<bool> produced_{false};
  std::atomic<bool> producer_stop_{false};
  std::exception_ptr producer_failure_;  // written by the producer thread before producer_failed_
  std::atomic<bool> producer_failed_{false};
  std::thread producer_;
  std::chrono::steady_clock::time_point last_check_{};
  bool marked_finished_ = false;  // the current run is marked finished; its end is not done yet
  std::chrono::steady_clock::time_point last_progress_{};
  uint64_t empty_receives_seen_ = 0;
};

}  // namespace sentiflow::local
