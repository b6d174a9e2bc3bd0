// WorkerPool: elastic consumer threads on one queue (DESIGN.md, "Consumer"; issue: elastic
// concurrency between concurrency.min and .max).
//
// Each worker receives a batch (up to batch_size messages, filling it for up to batch_window),
// hands it to the Consumer as Lambda's SQS event, deletes the messages that succeeded and lets
// the failures go with their reason (they come back after the visibility timeout and, after
// max_receive_count receives, move to the dead-letter queue). The pool scales between
// min_workers and max_workers on the queue's visible count, and a heartbeat extends the
// visibility of the batches in hand: docs/RUNNING.md, "Elastic concurrency" and "Heartbeat",
// give the policy (the numbers there are WorkerPoolOptions' defaults).
//
// Sink outages (docs/RUNNING.md, "Sink outages"): a batch the Consumer cannot store (it
// throws: the sink failed after its retries) is not let go, which would spend a receive of
// each of its messages and, with the outage lasting, dead-letter the backlog. The worker keeps
// it (the heartbeat keeps it hidden) and handles it again with backoff (sink_retry_min to
// sink_retry_max); meanwhile the sink is marked down and no worker takes a new batch. The first
// batch that is stored again marks it up, and the workers go on. stop() lets a held batch go:
// its messages come back after their visibility timeout.
//
// start() and stop() are called by one thread; workers() and the other counts may be read
// from any thread.
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
#include <optional>
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
  std::chrono::milliseconds scale_interval{100};     // how often the scaler reads the visible count
  std::chrono::milliseconds scale_up_cooldown{200};  // at most one worker started per cooldown
  // A worker whose receives have come back empty this long stops, unless fewer than
  // min_workers would be left.
  std::chrono::milliseconds idle_timeout{2'000};
  // Batches of visible messages one worker is expected to keep up with: the scaler wants
  // ceil(visible / (batch_size * backlog_per_worker)) workers, clamped to [min, max], at least
  // one while messages are visible and max_workers > 0.
  int backlog_per_worker = 2;
  // Long-poll wait of one receive: bounds how fast stop() is noticed (a receive cannot be
  // interrupted) and so the end of every run; an idle worker's receive is a cheap read.
  std::chrono::milliseconds poll_wait{100};
  // How long a worker that holds a batch the sink could not store waits before it tries
  // again: sink_retry_min, doubling up to sink_retry_max (the probe interval of an outage).
  std::chrono::milliseconds sink_retry_min{250};
  std::chrono::milliseconds sink_retry_max{5'000};
  std::string queue_arn;
  std::string region;
};

// Its members are the parts it works with (options, queue, consumer, callback, metrics), the
// counts its accessors read without a lock, and the three kinds of thread (workers, scaler,
// heartbeat) with what they share under mutex_: more than a dozen, one pool's state. Its
// implementation (worker_pool.cc, some 300 lines) is those three loops and the handling of
// one batch.
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
  // Whether the sink is down now: a batch could not be stored and none has been since.
  bool sink_down() const { return sink_down_.load(); }

 private:
  // A batch from its first receive until it is acknowledged: the heartbeat keeps its messages
  // hidden from then on, the window it spends filling included.
  struct InFlight {
    std::vector<std::string> receipt_handles;
    // When their visibility was last set (the receive, or an extension that succeeded): the
    // next extension is due half a visibility timeout later, or at once after one failed.
    std::chrono::steady_clock::time_point extended_at;
  };
  // Registers the messages of a new batch (returns its id) or adds to batch `id`; with mutex_.
  uint64_t track(std::optional<uint64_t> id, const std::vector<ReceivedMessage>& messages,
                 std::chrono::steady_clock::time_point received_at);
  void untrack(uint64_t id);

  void scale_loop();
  void heartbeat_loop();
  void worker_loop();
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };

  void start_worker();  // with mutex_ held
  void reap_workers();  // joins workers that have stopped; with mutex_ held
  // Handles batch `id` (received and tracked by receive_batch) and stops tracking it.
  void handle_batch(uint64_t id, std::vector<ReceivedMessage> messages);
  // The consumer's outcome of `event`; while the sink cannot store it, tries again with backoff
  // (the batch stays in hand) until it can or stop() is called (then every record is failed
  // with the reason, to come back after its visibility timeout).
  pipeline::BatchOutcome handle_until_stored(const pipeline::SqsEvent& event);
  void set_sink_down(bool down, const std::string& error = "");
  // Waits while the sink is down (returns at once otherwise); false once stopping.
  bool wait_for_sink();
  // A batch, tracked in in_flight_ from its first receive (`id` set when it is not empty).
  std::vector<ReceivedMessage> receive_batch(std::optional<uint64_t>& id);

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
  Gauge& sink_down_gauge_;
  Counter& sink_retries_;
  std::atomic<bool> sink_down_{false};
  std::chrono::steady_clock::time_point sink_down_since_{};  // guarded by mutex_
  std::mutex mutex_;                                         // guards threads_, in_flight_, next_batch_id_
  std::condition_variable wake_;
  std::list<Worker> threads_;  // workers; those that stopped are joined by the scaler
  std::map<uint64_t, InFlight> in_flight_;
  uint64_t next_batch_id_ = 0;
  std::thread scaler_;
  std::thread heartbeat_;
};

}  // namespace sentiflow::local
