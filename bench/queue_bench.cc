// LocalQueue throughput (docs/PERFORMANCE.md, "Embedded parts").
//
// BM_QueueCycle is the issue's target: 200-byte messages, one producer thread sending batches
// and two consumer threads receiving batches and deleting them, on one shared LocalQueue
// (one object per process is how sentiflow uses it). items_per_second is whole cycles
// (send + receive + delete) per second. Args: batch size, durability (0 normal, 1 full).
//
//   build/bench/sentiflow_bench --benchmark_filter=Queue
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "queue/local_queue.h"

namespace sentiflow {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// A queue file of its own, removed at the end.
class BenchQueue {
 public:
  BenchQueue(LocalQueueOptions::Durability durability, const std::string& tag) {
    dir_ = fs::temp_directory_path() / ("sentiflow-bench-queue-" + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    LocalQueueOptions options;
    options.file = LocalQueue::file_in(dir_);
    options.name = "bench";
    options.dead_letter_queue = "bench-dlq";
    options.durability = durability;
    queue_ = std::make_unique<LocalQueue>(options);
  }
  ~BenchQueue() {
    queue_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  LocalQueue& queue() { return *queue_; }

 private:
  fs::path dir_;
  std::unique_ptr<LocalQueue> queue_;
};

const std::string kBody = [] {
  std::string body =
      R"({"v":1,"run":"2026-01-01T10:00:00Z","key":"company-000000","item":{"name":"company-000000","text":")";
  body += std::string(200 - body.size() - 4, 'x');
  return body + "\"}}";
}();

std::vector<SendEntry> make_batch(size_t size) {
  std::vector<SendEntry> entries;
  for (size_t i = 0; i < size; ++i) entries.push_back({"e" + std::to_string(i), kBody});
  return entries;
}

void BM_QueueCycle(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  const bool full = state.range(1) == 1;
  BenchQueue bench(full ? LocalQueueOptions::Durability::full : LocalQueueOptions::Durability::normal, "cycle");
  LocalQueue& queue = bench.queue();
  const int64_t per_iteration = full ? 2'000 : (batch >= 100 ? 100'000 : 40'000);
  const auto entries = make_batch(batch);
  int64_t total = 0;
  for (auto _ : state) {
    std::atomic<int64_t> deleted{0};
    // The first failed send or delete: every thread stops, and the benchmark reports it (from
    // this thread: SkipWithError is not for the worker threads).
    std::atomic<bool> failed{false};
    std::mutex failure_mutex;
    std::string failure;
    const auto fail = [&](std::string_view what, const EntryResult& r) {
      std::lock_guard lock(failure_mutex);
      if (failure.empty()) failure = std::string(what) + " failed: " + (r.error ? r.error->what() : r.service_code);
      failed = true;
    };
    std::thread producer([&] {
      for (int64_t sent = 0; sent < per_iteration && !failed; sent += static_cast<int64_t>(batch))
        for (const auto& r : queue.send(entries))
          if (!r.ok()) return fail("send", r);
    });
    auto consume = [&] {
      std::vector<DeleteEntry> deletes;
      while (deleted.load() < per_iteration && !failed) {
        const auto got = queue.receive({batch, std::nullopt, milliseconds(50)});
        if (got.empty()) continue;
        deletes.clear();
        for (size_t i = 0; i < got.size(); ++i) deletes.push_back({"d" + std::to_string(i), got[i].receipt_handle});
        int64_t ok = 0;
        for (const auto& r : queue.delete_messages(deletes)) {
          if (!r.ok()) return fail("delete", r);
          ++ok;
        }
        deleted += ok;  // only the deletes that succeeded count
      }
    };
    std::thread consumer1(consume), consumer2(consume);
    producer.join();
    consumer1.join();
    consumer2.join();
    if (failed) {
      state.SkipWithError(failure.c_str());
      break;
    }
    total += deleted.load();
  }
  state.SetItemsProcessed(total);
  state.counters["msgs/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_QueueCycle)
    ->ArgNames({"batch", "full"})
    ->Args({10, 0})
    ->Args({100, 0})
    ->Args({10, 1})
    ->Args({100, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The parts of the cycle on their own, one thread, batches of `batch`.
void BM_QueueSendBatch(benchmark::State& state) {
  BenchQueue bench(LocalQueueOptions::Durability::normal, "send");
  const auto entries = make_batch(static_cast<size_t>(state.range(0)));
  for (auto _ : state) bench.queue().send(entries);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_QueueSendBatch)->Arg(10)->Arg(100)->UseRealTime();

void BM_QueueReceiveDeleteBatch(benchmark::State& state) {
  BenchQueue bench(LocalQueueOptions::Durability::normal, "receive");
  const auto batch = static_cast<size_t>(state.range(0));
  const auto entries = make_batch(batch);
  std::vector<DeleteEntry> deletes;
  for (auto _ : state) {
    state.PauseTiming();
    bench.queue().send(entries);
    state.ResumeTiming();
    const auto got = bench.queue().receive({batch, std::nullopt, milliseconds(0)});
    deletes.clear();
    for (size_t i = 0; i < got.size(); ++i) deletes.push_back({"d" + std::to_string(i), got[i].receipt_handle});
    bench.queue().delete_messages(deletes);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_QueueReceiveDeleteBatch)->Arg(10)->Arg(100)->UseRealTime();

// A receive and a delete of 10 with 200,000 messages waiting: the cost of a receive must not
// grow with the backlog.
void BM_QueueReceiveFromBacklog(benchmark::State& state) {
  BenchQueue bench(LocalQueueOptions::Durability::normal, "backlog");
  const auto entries = make_batch(1000);
  for (int i = 0; i < 200; ++i) bench.queue().send(entries);
  std::vector<DeleteEntry> deletes;
  for (auto _ : state) {
    const auto got = bench.queue().receive({10, std::nullopt, milliseconds(0)});
    deletes.clear();
    for (size_t i = 0; i < got.size(); ++i) deletes.push_back({"d" + std::to_string(i), got[i].receipt_handle});
    bench.queue().delete_messages(deletes);
    state.PauseTiming();
    bench.queue().send(std::span(entries).first(got.size()));  // keep the backlog at 200,000
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * 10);
}
BENCHMARK(BM_QueueReceiveFromBacklog)->UseRealTime();

}  // namespace
}  // namespace sentiflow
