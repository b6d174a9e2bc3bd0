// FileStore throughput (docs/PERFORMANCE.md, "Embedded parts"). A put is durable (fsync of
// the file and of its folder), so BM_StorePut measures the disk's fsync as much as our code.
//
//   build/bench/sentiflow_bench --benchmark_filter=Store
#include <benchmark/benchmark.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/file_store.h"

namespace sentiflow {
namespace {

namespace fs = std::filesystem;

class BenchStore {
 public:
  explicit BenchStore(const std::string& tag)
      : dir_(fs::temp_directory_path() / ("sentiflow-bench-store-" + tag + "-" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    store_ = std::make_unique<FileStore>(dir_);
  }
  ~BenchStore() {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  FileStore& store() { return *store_; }

 private:
  fs::path dir_;
  std::unique_ptr<FileStore> store_;
};

void BM_StorePut(benchmark::State& state) {
  BenchStore bench("put");
  const std::string data(static_cast<size_t>(state.range(0)), 'x');
  int64_t i = 0;
  for (auto _ : state) bench.store().put("run=1/" + std::to_string(i++ % 100) + ".jsonl", data);
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StorePut)->Arg(4 << 10)->Arg(1 << 20)->UseRealTime();

void BM_StoreGet(benchmark::State& state) {
  BenchStore bench("get");
  const std::string data(static_cast<size_t>(state.range(0)), 'x');
  for (int i = 0; i < 100; ++i) bench.store().put("run=1/" + std::to_string(i) + ".jsonl", data);
  int64_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(bench.store().get("run=1/" + std::to_string(i++ % 100) + ".jsonl"));
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreGet)->Arg(4 << 10)->Arg(1 << 20)->UseRealTime();

// Listing 10,000 objects in 100 folders, 1000 keys a page.
void BM_StoreList10k(benchmark::State& state) {
  BenchStore bench("list");
  // The files are written as put() leaves them (with the ETag attribute), but without put()'s
  // two fsyncs each, which would make the set-up take a minute.
  const std::string etag = "99914b932bd37a50b983c5e7c90ae93b";  // MD5 of "{}"
  for (int f = 0; f < 100; ++f) {
    const fs::path folder = bench.store().root() / ("run=" + std::to_string(f));
    fs::create_directories(folder);
    for (int i = 0; i < 100; ++i) {
      const fs::path file = folder / (std::to_string(i) + ".jsonl");
      std::ofstream(file) << "{}";
      struct stat st {};
      ::stat(file.c_str(), &st);
      const std::string record =
          etag + " 2 " + std::to_string(st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
      ::setxattr(file.c_str(), "user.sentiflow.etag", record.data(), record.size(), 0);
    }
  }
  int64_t objects = 0;
  for (auto _ : state) {
    ListRequest request{"", 1000, ""};
    do {
      const ListPage page = bench.store().list(request);
      objects += static_cast<int64_t>(page.objects.size());
      request.continuation_token = page.next_token;
    } while (!request.continuation_token.empty());
  }
  state.SetItemsProcessed(objects);
}
BENCHMARK(BM_StoreList10k)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sentiflow
