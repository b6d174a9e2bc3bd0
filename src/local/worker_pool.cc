#include "local/worker_pool.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/secrets.h"
#include "observe/log.h"
#include "pipeline/retry.h"

namespace sentiflow::local {
namespace {

using SteadyClock = std::chrono::steady_clock;

}  // namespace

WorkerPool::WorkerPool(WorkerPoolOptions options, Queue& queue, const pipeline::Consumer& consumer,
                       BatchCallback on_batch, Metrics& metrics)
    : options_(std::move(options)),
      queue_(queue),
      consumer_(consumer),
      on_batch_(std::move(on_batch)),
      workers_gauge_(metrics.gauge("sentiflow_workers", "Consumer worker threads running now.")),
      received_(metrics.counter("sentiflow_messages_received_total", "Messages received by consumers.")),
      deleted_(metrics.counter("sentiflow_messages_deleted_total", "Messages deleted after they were processed.")),
      extended_(metrics.counter("sentiflow_visibility_extensions_total",
                                "Visibility extensions of messages still being processed (heartbeats).")),
      callback_failures_(metrics.counter("sentiflow_batch_report_failures_total",
                                         "Batches whose counts could not be recorded in the run state.")),
      sink_down_gauge_(metrics.gauge("sentiflow_sink_down",
                                     "1 while the sink cannot be written and the consumers hold their batches.")),
      sink_retries_(metrics.counter("sentiflow_sink_retries_total",
                                    "Batches handled again because the sink could not store them.")) {
  if (options_.max_workers < options_.min_workers || options_.min_workers < 0)
    throw invalid_input("concurrency.min must be between 0 and concurrency.max");
  if (options_.batch_size < 1) throw invalid_input("consumer.batch_size must be at least 1");
  // With no visibility timeout a received message is visible again at once: a second worker
  // would take every batch the first is working on.
  if (options_.visibility_timeout <= std::chrono::milliseconds(0) && options_.max_workers > 1)
    throw invalid_input(
        fmt::format("queue.visibility_timeout 0s with consumer.concurrency.max {}: every message "
                    "would be received by several workers at once; give the queue a visibility "
                    "timeout longer than a batch takes (30s by default) or set concurrency.max to 1",
                    options_.max_workers));
}

WorkerPool::~WorkerPool() { stop(); }

void WorkerPool::start() {
  std::lock_guard lock(mutex_);
  stopping_ = false;
  heartbeat_stop_ = false;
  for (int i = 0; i < options_.min_workers; ++i) start_worker();
  scaler_ = std::thread([this] { scale_loop(); });
  heartbeat_ = std::thread([this] { heartbeat_loop(); });
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_.exchange(true) && !scaler_.joinable()) return;
  }
  wake_.notify_all();
  if (scaler_.joinable()) scaler_.join();
  // Workers first (their batches still need the heartbeat), then the heartbeat.
  std::list<Worker> workers;
  {
    std::lock_guard lock(mutex_);
    workers.splice(workers.end(), threads_);
  }
  for (Worker& w : workers) w.thread.join();
  {
    std::lock_guard lock(mutex_);
    heartbeat_stop_ = true;
  }
  wake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
}

void WorkerPool::start_worker() {
  const int now = ++workers_;
  int peak = peak_workers_.load();
  while (now > peak && !peak_workers_.compare_exchange_weak(peak, now)) {}
  workers_gauge_.set(now);
  Worker& w = threads_.emplace_back();
  w.thread = std::thread([this, &w] {
    worker_loop();
    w.done = true;
  });
  log::debug("worker started", {{"workers", now}});
}

void WorkerPool::reap_workers() {
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (it->done) {
      it->thread.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
}

void WorkerPool::scale_loop() {
  auto last_scale_up = SteadyClock::now() - options_.scale_up_cooldown;
  const int64_t per_worker = static_cast<int64_t>(options_.batch_size) * options_.backlog_per_worker;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.scale_interval, [this] { return stopping_.load(); });
    if (stopping_) break;
    reap_workers();
    // Reading the counts costs a query over the queue: skip it when there is nothing to decide.
    if (workers_.load() >= options_.max_workers) continue;
    lock.unlock();
    int64_t visible = 0;
    try {
      visible = queue_.counts().visible;
    } catch (const std::exception& e) {
      log::warn("the scaler could not read the queue's counts", {{"error", e.what()}});
    }
    lock.lock();
    if (stopping_) break;
    int wanted = static_cast<int>(std::min<int64_t>((visible + per_worker - 1) / per_worker, options_.max_workers));
    if (visible > 0) wanted = std::max(wanted, 1);
    wanted = std::clamp(wanted, options_.min_workers, options_.max_workers);
    const auto now = SteadyClock::now();
    if (wanted > workers_.load() && now - last_scale_up >= options_.scale_up_cooldown) {
      start_worker();
      last_scale_up = now;
      log::info("scaled up", {{"workers", workers_.load()}, {"visible", visible}});
    }
  }
}

void WorkerPool::heartbeat_loop() {
  const auto visibility = options_.visibility_timeout;
  if (visibility <= std::chrono::milliseconds(0)) return;  // nothing stays hidden: nothing to extend
  const auto half = visibility / 2;
  const auto tick = std::clamp<std::chrono::milliseconds>(visibility / 8, std::chrono::milliseconds(10),
                                                          std::chrono::milliseconds(1000));
  std::unique_lock lock(mutex_);
  while (true) {
    // Runs until stop() has joined the workers: their last batches still need extending.
    wake_.wait_for(lock, tick);
    if (heartbeat_stop_) break;
    const auto now = SteadyClock::now();
    std::vector<VisibilityChange> changes;
    std::vector<uint64_t> batch_of;  // the batch of each change
    for (auto& [id, batch] : in_flight_) {
      if (now - batch.extended_at < half) continue;
      for (const auto& handle : batch.receipt_handles) {
        changes.push_back(VisibilityChange{std::to_string(changes.size()), handle, visibility, ""});
        batch_of.push_back(id);
      }
    }
    if (changes.empty()) continue;
    lock.unlock();
    // Batches whose extension did not go through: due again at the next tick, not half a
    // visibility timeout later, which could be after their messages became visible.
    std::set<uint64_t> failed;
    const size_t chunk = queue_.limits().max_batch_entries;
    for (size_t i = 0; i < changes.size(); i += chunk) {
      const size_t end = std::min(changes.size(), i + chunk);
      std::vector<VisibilityChange> part(changes.begin() + static_cast<ptrdiff_t>(i),
                                         changes.begin() + static_cast<ptrdiff_t>(end));
      for (size_t k = 0; k < part.size(); ++k) part[k].id = std::to_string(k);
      try {
        const auto results = queue_.change_visibility(part);
        for (size_t k = 0; k < results.size() && k < part.size(); ++k)
          // A message deleted meanwhile fails its entry for good: fine. A busy queue: again.
          if (!results[k].ok() && is_retryable(results[k].error->code())) failed.insert(batch_of[i + k]);
        extended_.add(static_cast<double>(part.size()));
      } catch (const std::exception& e) {
        log::warn("could not extend the visibility of messages in progress; trying again", {{"error", e.what()}});
        for (size_t k = i; k < end; ++k) failed.insert(batch_of[k]);
      }
    }
    lock.lock();
    for (const uint64_t id : std::set<uint64_t>(batch_of.begin(), batch_of.end())) {
      const auto batch = in_flight_.find(id);
      if (batch != in_flight_.end() && !failed.count(id)) batch->second.extended_at = now;
    }
  }
}

uint64_t WorkerPool::track(std::optional<uint64_t> id, const std::vector<ReceivedMessage>& messages,
                           SteadyClock::time_point received_at) {
  std::lock_guard lock(mutex_);
  if (!id) {
    id = next_batch_id_++;
    in_flight_[*id] = InFlight{{}, received_at};
  }
  auto& handles = in_flight_[*id].receipt_handles;
  for (const auto& m : messages) handles.push_back(m.receipt_handle);
  return *id;
}

void WorkerPool::untrack(uint64_t id) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(id);
}

std::vector<ReceivedMessage> WorkerPool::receive_batch(std::optional<uint64_t>& id) {
  const QueueLimits limits = queue_.limits();
  const size_t wanted = static_cast<size_t>(options_.batch_size);
  std::vector<ReceivedMessage> batch;
  const auto window_end = SteadyClock::now() + options_.batch_window;
  while (batch.size() < wanted && !stopping_) {
    auto wait = options_.poll_wait;
    if (!batch.empty()) {  // filling a batch: wait only for what is left of the window
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(window_end - SteadyClock::now());
      if (left <= std::chrono::milliseconds(0)) break;
      wait = std::min(wait, left);
    }
    wait = std::min(wait, limits.max_wait);
    std::vector<ReceivedMessage> got;
    // The queue hides a message from its receive on: the heartbeat's clock starts before it.
    const auto received_at = SteadyClock::now();
    try {
      got = queue_.receive(ReceiveRequest{std::min(wanted - batch.size(), limits.max_receive_messages),
                                          options_.visibility_timeout, wait});
    } catch (const std::exception& e) {
      if (batch.empty()) throw;
      log::warn("a receive failed while a batch was filling; handling what came", {{"error", e.what()}});
      break;
    }
    if (!got.empty() && batch.empty()) ++in_hand_;  // in flight from now on: see batches_in_hand()
    if (!got.empty()) id = track(id, got, received_at);
    if (got.empty()) {
      if (batch.empty()) break;  // nothing visible: let the caller count idle time
      continue;
    }
    std::move(got.begin(), got.end(), std::back_inserter(batch));
    if (options_.batch_window <= std::chrono::milliseconds(0) && got.size() < limits.max_receive_messages) break;
  }
  return batch;
}

void WorkerPool::set_sink_down(bool down, const std::string& error) {
  {
    std::lock_guard lock(mutex_);
    if (sink_down_.exchange(down) == down) return;
    if (down) {
      sink_down_since_ = SteadyClock::now();
      log::error("the sink cannot store results: the consumers hold their batches and take no new ones until it can",
                 {{"error", error}});
    } else {
      log::info("the sink stores results again: the consumers go on",
                {{"down_seconds", std::chrono::duration<double>(SteadyClock::now() - sink_down_since_).count()}});
    }
  }
  sink_down_gauge_.set(down ? 1 : 0);
  if (!down) wake_.notify_all();
}

bool WorkerPool::wait_for_sink() {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [this] { return stopping_.load() || !sink_down_.load(); });
  return !stopping_;
}

pipeline::BatchOutcome WorkerPool::handle_until_stored(const pipeline::SqsEvent& event) {
  auto wait = options_.sink_retry_min;
  while (true) {
    try {
      auto outcome = consumer_.handle(event);
      set_sink_down(false);
      return outcome;
    } catch (const std::exception& e) {
      set_sink_down(true, e.what());
      std::unique_lock lock(mutex_);
      if (!wake_.wait_for(lock, wait, [this] { return stopping_.load(); })) {
        wait = std::min(wait * 2, options_.sink_retry_max);
        sink_retries_.add();
        continue;
      }
      // Stopping: let the batch go. Nothing was acknowledged; every message comes back after
      // its visibility timeout, the reason kept (the dead-letter queue shows it if it ends there).
      pipeline::BatchOutcome outcome;
      const std::string reason = fmt::format("the sink could not store the batch: {}", e.what());
      for (const auto& r : event.records) outcome.reasons[r.message_id] = reason;
      return outcome;
    }
  }
}

void WorkerPool::worker_loop() {
  auto idle_since = SteadyClock::now();
  while (!stopping_) {
    // While the sink is down, a new batch would only wait beside the held ones (and spend a
    // receive of each message); the time waited is not idle time.
    if (sink_down_) {
      if (!wait_for_sink()) break;
      idle_since = SteadyClock::now();
    }
    std::vector<ReceivedMessage> batch;
    std::optional<uint64_t> id;
    try {
      batch = receive_batch(id);
    } catch (const std::exception& e) {
      log::warn("receive failed", {{"error", e.what()}});
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.poll_wait, [this] { return stopping_.load(); });
      continue;
    }
    if (batch.empty()) {
      empty_receives_.fetch_add(1, std::memory_order_relaxed);
      if (SteadyClock::now() - idle_since < options_.idle_timeout) continue;
      int n = workers_.load();
      bool leave = false;
      while (n > options_.min_workers && !(leave = workers_.compare_exchange_weak(n, n - 1))) {}
      if (leave) {
        workers_gauge_.set(workers_.load());
        log::info("scaled down", {{"workers", workers_.load()}});
        return;
      }
      idle_since = SteadyClock::now();
      continue;
    }
    try {
      handle_batch(*id, std::move(batch));
    } catch (const std::exception& e) {  // never end a worker thread with an exception
      log::error("a batch could not be handled; its messages will be delivered again", {{"error", e.what()}});
    }
    --in_hand_;
    idle_since = SteadyClock::now();
  }
  workers_gauge_.set(--workers_);
}

void WorkerPool::handle_batch(uint64_t id, std::vector<ReceivedMessage> messages) {
  struct Release {  // the heartbeat stops extending the batch however handle_batch ends
    WorkerPool& pool;
    uint64_t id;
    ~Release() { pool.untrack(id); }
  } release{*this, id};
  received_.add(static_cast<double>(messages.size()));
  const pipeline::SqsEvent event = pipeline::make_sqs_event(std::move(messages), options_.queue_arn, options_.region);

  const pipeline::BatchOutcome outcome = handle_until_stored(event);

  const QueueLimits limits = queue_.limits();
  std::vector<DeleteEntry> deletes;
  std::vector<VisibilityChange> releases;
  for (const auto& r : event.records) {
    const auto reason = outcome.reasons.find(r.message_id);
    if (reason == outcome.reasons.end())
      deletes.push_back(DeleteEntry{std::to_string(deletes.size() % limits.max_batch_entries), r.receipt_handle});
    else  // back after the visibility timeout, with the reason kept for the dead-letter queue
      releases.push_back(VisibilityChange{std::to_string(releases.size() % limits.max_batch_entries), r.receipt_handle,
                                          options_.visibility_timeout, redact_secrets(reason->second)});
  }
  const auto in_chunks = [&](auto& entries, auto&& call) {
    using Entry = typename std::decay_t<decltype(entries)>::value_type;
    for (size_t i = 0; i < entries.size(); i += limits.max_batch_entries) {
      const std::span<const Entry> part(entries.data() + i, std::min(limits.max_batch_entries, entries.size() - i));
      try {
        pipeline::with_retries([&] { return call(part); });
      } catch (const std::exception& e) {
        log::warn("could not acknowledge messages; they will be delivered again", {{"error", e.what()}});
      }
    }
  };
  const auto log_entry_failures = [](const char* what, const std::vector<EntryResult>& results) {
    for (const auto& r : results)
      if (!r.ok()) {
        // The message comes back after its visibility timeout and is handled again: at least once.
        log::warn(what, {{"error", r.error->what()}, {"code", r.service_code}});
        break;  // one line per call: a stale batch would repeat the same reason for every entry
      }
  };
  in_chunks(deletes, [&](std::span<const DeleteEntry> part) {
    const auto results = queue_.delete_messages(part);
    deleted_.add(static_cast<double>(std::count_if(results.begin(), results.end(), [](auto& r) { return r.ok(); })));
    log_entry_failures("could not delete a processed message; it will be delivered again", results);
    return results;
  });
  in_chunks(releases, [&](std::span<const VisibilityChange> part) {
    const auto results = queue_.change_visibility(part);
    log_entry_failures("could not release a failed message; it comes back after its visibility timeout", results);
    return results;
  });
  if (!on_batch_) return;
  try {
    pipeline::with_retries([&] { on_batch_(outcome); });
  } catch (const std::exception& e) {
    // The batch is stored and acknowledged; only its counts in the run state are missing.
    callback_failures_.add();
    log::error("could not record a batch's counts", {{"error", e.what()}});
  }
}

}  // namespace sentiflow::local
