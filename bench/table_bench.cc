// LocalTable throughput (docs/PERFORMANCE.md, "Embedded parts").
//
// BM_TableScan1M reads a table of 1,000,000 items (about 160 bytes each) page by page, as
// the producer does; BM_TableScan1MSegments does it with one thread and one LocalTable per
// segment. The table is built once, by an import, under the system's temporary folder
// (sentiflow-bench-table-1M/, about 250 MB) and reused by later runs.
//
//   build/bench/sentiflow_bench --benchmark_filter=Table
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <streambuf>
#include <thread>

#include "table/local_table.h"

namespace sentiflow {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kScanItems = 1'000'000;

// Generates `count` items as JSON Lines without holding them all in memory.
class GeneratedItems : public std::streambuf {
 public:
  GeneratedItems(int64_t first, int64_t count) : next_(first), end_(first + count) {}

 protected:
  int_type underflow() override {
    if (next_ == end_) return traits_type::eof();
    line_ = "{\"name\":\"company-" + std::to_string(next_) + "\",\"ticker\":\"C" + std::to_string(next_) +
            "\",\"founded\":" + std::to_string(1900 + next_ % 120) + ",\"description\":\"Company number " +
            std::to_string(next_) + " makes things that people like, although some critics disagree.\"}\n";
    ++next_;
    setg(line_.data(), line_.data(), line_.data() + line_.size());
    return traits_type::to_int_type(line_[0]);
  }

 private:
  int64_t next_;
  int64_t end_;
  std::string line_;
};

LocalTableOptions million_item_table() {
  const fs::path state = fs::temp_directory_path() / "sentiflow-bench-table-1M";
  LocalTableOptions options{LocalTable::file_in(state, "bench"), "bench", KeySchema{"name"}};
  LocalTable table(options);
  if (table.count() != kScanItems) {
    fs::remove_all(state);
    LocalTable fresh(options);
    GeneratedItems items(0, kScanItems);
    std::istream in(&items);
    fresh.import(in, ImportFormat::json_lines);
  }
  return options;
}

int64_t scan_segment(LocalTable& table, int segment, int total) {
  int64_t items = 0;
  ScanRequest request{segment, total, 1000, ""};
  do {
    const ScanPage page = table.scan(request);
    items += static_cast<int64_t>(page.items.size());
    request.start_token = page.next_token;
  } while (!request.start_token.empty());
  return items;
}

void BM_TableScan1M(benchmark::State& state) {
  LocalTable table(million_item_table());
  int64_t items = 0;
  for (auto _ : state) items += scan_segment(table, 0, 1);
  state.SetItemsProcessed(items);
}
BENCHMARK(BM_TableScan1M)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_TableScan1MSegments(benchmark::State& state) {
  const auto options = million_item_table();
  const int segments = static_cast<int>(state.range(0));
  int64_t items = 0;
  for (auto _ : state) {
    std::vector<int64_t> counts(static_cast<size_t>(segments));
    std::vector<std::thread> threads;
    for (int s = 0; s < segments; ++s)
      threads.emplace_back([&, s] {
        LocalTable own(options);
        counts[static_cast<size_t>(s)] = scan_segment(own, s, segments);
      });
    for (auto& t : threads) t.join();
    for (auto c : counts) items += c;
  }
  state.SetItemsProcessed(items);
}
BENCHMARK(BM_TableScan1MSegments)->Arg(2)->Arg(4)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_TableImport(benchmark::State& state) {
  const fs::path dir = fs::temp_directory_path() / ("sentiflow-bench-import-" + std::to_string(::getpid()));
  const int64_t count = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    fs::remove_all(dir);
    LocalTable table(LocalTableOptions{LocalTable::file_in(dir, "import"), "import", KeySchema{"name"}});
    GeneratedItems items(0, count);
    std::istream in(&items);
    state.ResumeTiming();
    table.import(in, ImportFormat::json_lines);
  }
  state.SetItemsProcessed(state.iterations() * count);
  fs::remove_all(dir);
}
BENCHMARK(BM_TableImport)->Arg(100'000)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_TablePutBatch(benchmark::State& state) {
  const fs::path dir = fs::temp_directory_path() / ("sentiflow-bench-put-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  LocalTable table(LocalTableOptions{LocalTable::file_in(dir, "put"), "put", KeySchema{"name"}});
  int64_t next = 0;
  std::vector<std::string> batch(25);
  for (auto _ : state) {
    for (auto& item : batch) item = "{\"name\":\"company-" + std::to_string(next++) + "\",\"description\":\"text\"}";
    table.put_batch(batch);
  }
  state.SetItemsProcessed(state.iterations() * 25);
  fs::remove_all(dir);
}
BENCHMARK(BM_TablePutBatch)->UseRealTime();

void BM_TableGet(benchmark::State& state) {
  LocalTable table(million_item_table());
  int64_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(table.get({"company-" + std::to_string((i * 7919) % kScanItems)}));
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TableGet)->UseRealTime();

}  // namespace
}  // namespace sentiflow
