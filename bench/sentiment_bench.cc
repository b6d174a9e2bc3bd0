// Sentiment: VADER's throughput on the four human-rated corpora (23,703 sentences of tweets,
// movie and Amazon reviews and NYT editorials), the cost of building an analyzer, and the
// linear cost of long texts.
//
// The goal (issue 3): at least 480,000 sentences/s on one thread, 50 times the Python
// reference; items_per_second is sentences/s. bench/sentiment.sh measures the whole command.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "sentiment/evaluation.h"
#include "sentiment/format.h"
#include "sentiment/vader.h"

namespace sentiflow::sentiment {
namespace {

const std::vector<std::string>& corpus_texts() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> all;
    for (const auto& corpus : paper_corpora())
      for (auto& t : read_ground_truth(std::string(SENTIFLOW_SOURCE_DIR) + "/data/corpora/" + std::string(corpus.file)))
        all.push_back(std::move(t.text));
    return all;
  }();
  return texts;
}

const VaderAnalyzer& analyzer() {
  static const VaderAnalyzer instance;
  return instance;
}

// The four corpora through the batch API in batches of 1,000, as the CLI and the pipeline call
// it; with ->Threads(2) both threads share one analyzer.
void BM_VaderCorpora(benchmark::State& state) {
  const auto& texts = corpus_texts();
  std::vector<std::string_view> documents(texts.begin(), texts.end());
  std::vector<Result> results(1000);
  for (auto _ : state) {
    for (size_t i = 0; i < documents.size(); i += 1000) {
      const size_t n = std::min<size_t>(1000, documents.size() - i);
      analyzer().analyze(std::span(documents).subspan(i, n), std::span(results).first(n));
      benchmark::DoNotOptimize(results.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * documents.size()));
}
BENCHMARK(BM_VaderCorpora)->Unit(benchmark::kMillisecond)->UseRealTime()->Threads(1)->Threads(2);

// polarity_scores(), one call per sentence (scratch buffers are set up on every call).
void BM_VaderPolarityScores(benchmark::State& state) {
  const auto& texts = corpus_texts();
  for (auto _ : state)
    for (const auto& t : texts) benchmark::DoNotOptimize(analyzer().polarity_scores(t));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * texts.size()));
}
BENCHMARK(BM_VaderPolarityScores)->Unit(benchmark::kMillisecond);

// The JSON Lines formatting of the CLI's output, per sentence.
void BM_FormatJson(benchmark::State& state) {
  const auto& texts = corpus_texts();
  std::vector<std::string_view> documents(texts.begin(), texts.begin() + 1000);
  const std::vector<Result> results = analyzer().analyze(documents);
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (const Result& r : results) append_json_fields(out, r.sentiment);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * results.size()));
}
BENCHMARK(BM_FormatJson);

// One text of N words: the time per word should stay flat (linear time), "but" included.
void BM_VaderLongText(benchmark::State& state) {
  const std::string words[] = {"The", "movie", "was", "not", "GREAT", "but", "the", "cast", "was", "very", "good", "!"};
  std::string text;
  for (int64_t i = 0; i < state.range(0); ++i) text += words[i % 12] + " ";
  for (auto _ : state) benchmark::DoNotOptimize(analyzer().polarity_scores(text));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * state.range(0)));
  state.SetLabel("items = words");
}
BENCHMARK(BM_VaderLongText)->RangeMultiplier(10)->Range(10, 100000);

// Building an analyzer: parsing the built-in lexicons (7,520 words, 3,570 emoji).
void BM_VaderBuild(benchmark::State& state) {
  for (auto _ : state) {
    VaderAnalyzer a;
    benchmark::DoNotOptimize(&a);
  }
}
BENCHMARK(BM_VaderBuild)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sentiflow::sentiment
