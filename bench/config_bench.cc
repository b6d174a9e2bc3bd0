// How long loading a pipeline file takes: it happens at every start of the binary, and
// once per cold start on Lambda, so it must stay far below a millisecond.
#include <benchmark/benchmark.h>

#include "config/loader.h"

namespace {

void BM_LoadDemoPipeline(benchmark::State& state) {
  const std::string file = std::string(SENTIFLOW_SOURCE_DIR) + "/examples/demo.yaml";
  for (auto _ : state) {
    auto result = sentiflow::load_pipeline(file);
    if (!result.ok()) state.SkipWithError("examples/demo.yaml does not validate");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(BM_LoadDemoPipeline);

}  // namespace
