// WorkerPool: elastic consumer threads on one queue (DESIGN.md, "Consumer"; issue: elastic
// concurrency between concurrency.min and .max).
//
// Each worker receives a batch (up to batch_size messages, filling it for up to batch_window),
// hands it to the Consumer as Lambda's SQS event, deletes the messages that succeeded and lets
// the failures go with their reason (they come back after the visibility timeout and, after
// max_receive_count receives, move to the dead-letter queue).
//
// Scaling policy (docs/RUNNING.md): every `scale_interval` the pool reads the queue's visible
// count and wants ceil(visible / (batch_size * backlog_per_worker)) workers, clamped to
// [min, max] (at least one while messages are visible and max > 0). Below that it starts one
// more worker, at most one per `scale_up_cooldown`. A worker whose receives have come back
// empty for `idle_timeout` stops, unless that would leave fewer than `min`. With min 0 the
// pool is empty between runs and starts a worker as soon as a message is visible.
//
// Heartbeat: while a batch is being handled, its messages' visibility is extended by the
// visibility timeout each time half of it has passed, so nothing is delivered twice while it
// is still being worked on (as Lambda's poller does not, but a long batch needs).
//
// start() and stop() are called by one thread; workers() may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "observe/metrics.h"
#include "pipeline/consumer.h"
#include "queue/queue.h"

namespace sentiflow::local {

struct WorkerPoolOptions {
  int min_workers = 1;
  int max_workers = 1;
  int batch_size = 10;
  std::chrono::milliseconds batch_window{0};
  std::chrono::milliseconds visibility_timeout{30'000};
  std::chrono::milliseconds scale_interval{100};
  std::chrono::milliseconds scale_up_cooldown{200};
  std::chrono::milliseconds idle_timeout{2'000};
  int backlog_per_worker = 2;  // batches of visible messages one worker is expected to keep up with
  // Long-poll wait of one receive: bounds how fast stop() is noticed (a receive cannot be
  // interrupted) and so the end of every run; an idle worker's receive is a cheap read.
  std::chrono::milliseconds poll_wait{100};
  std::string queue_arn;
  std::string region;
};

class WorkerPool {
 public:
  // Called after each batch with its outcome, from the worker's thread.
  using BatchCallback = std::function<void(const pipeline::BatchOutcome&)>;

  WorkerPool(WorkerPoolOptions options, Queue& queue, const pipeline::Consumer& consumer, BatchCallback on_batch,
             Metrics& metrics = Metrics::global());
  ~WorkerPool();  // stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts min workers, the scaler and the heartbeat.
  void start();
  // Stops receiving, lets every worker finish (and acknowledge) the batch in its hands, and
  // joins all threads. Idempotent.
  void stop();

  int workers() const { return workers_.load(); }
  // The most workers seen at once since start().
  int peak_workers() const { return peak_workers_.load(); }
  // How many receives have come back empty since start(): a cheap sign that the queue may be
  // drained, for callers that would otherwise poll the queue's counts (a query over it).
  uint64_t empty_receives() const { return empty_receives_.load(std::memory_order_relaxed); }
  // Batches received and not yet acknowledged and reported (on_batch returned): a run is not
  // finished while this is above 0, even when the queue's counts say it is empty. Read the
  // queue's counts first, then this.
  int batches_in_hand() const { return in_hand_.load(); }

 private:
  struct InFlight {
    const pipeline::SqsEvent* event;  // owned by the worker handling it; read-only meanwhile
    std::chrono::steady_clock::time_point extended_at;
  };

  void scale_loop();
  void heartbeat_loop();
  void worker_loop();
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void start_worker();  // with mutex_ held
  void reap_workers();  // joins workers that have stopped; with mutex_ held
  void handle_batch(std::vector<ReceivedMessage> messages);
  std::vector<ReceivedMessage> receive_batch();

  const WorkerPoolOptions options_;
  Queue& queue_;
  const pipeline::Consumer& consumer_;
  const BatchCallback on_batch_;
  Gauge& workers_gauge_;
  Counter& received_;
  Counter& deleted_;
  Counter& extended_;

  std::atomic<bool> stopping_{false};
  bool heartbeat_stop_ = false;  // set once the workers are joined; guarded by mutex_
  std::atomic<int> workers_{0};
  std::atomic<int> peak_workers_{0};
  std::atomic<uint64_t> empty_receives_{0};
  std::atomic<int> in_hand_{0};
  Counter& callback_failures_;
  std::mutex mutex_;  // guards threads_, in_flight_, next_batch_id_
  std::condition_variable wake_;
  std::list<Worker> threads_;  // workers; those that stopped are joined by the scaler
  std::map<uint64_t, InFlight> in_flight_;
  uint64_t next_batch_id_ = 0;
  std::thread scaler_;
  std::thread heartbeat_;
};

}  // namespace sentiflow::local
