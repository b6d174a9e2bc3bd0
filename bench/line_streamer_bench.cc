// The line streamer (sentiment/line_streamer.h) that `sentiflow sentiment --file` runs: the four
// human-rated corpora (23,703 lines), repeated to about 10 MB, read from a file, analysed by
// VADER and written in input order to /dev/null, on 1 and 2 threads. items_per_second is lines/s;
// the gap to BM_VaderCorpora (the analyzer alone) is what reading, ordering and formatting cost.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "sentiment/evaluation.h"
#include "sentiment/format.h"
#include "sentiment/line_streamer.h"
#include "sentiment/vader.h"

namespace sentiflow::sentiment {
namespace {

// The corpora's texts, one a line, repeated to at least 10 MB, in a file of its own; its lines.
struct CorpusFile {
  std::filesystem::path path;
  int64_t lines = 0;

  CorpusFile() {
    path = std::filesystem::temp_directory_path() / ("sentiflow-line-streamer-bench-" + std::to_string(::getpid()));
    std::string one;
    int64_t per_copy = 0;
    for (const auto& corpus : paper_corpora())
      for (const auto& t :
           read_ground_truth(std::string(SENTIFLOW_SOURCE_DIR) + "/data/corpora/" + std::string(corpus.file))) {
        one += t.text;
        one += '\n';
        ++per_copy;
      }
    std::ofstream out(path, std::ios::binary);
    for (size_t size = 0; size < (10u << 20); size += one.size()) {
      out << one;
      lines += per_copy;
    }
  }
  ~CorpusFile() { std::filesystem::remove(path); }
};

const CorpusFile& corpus_file() {
  static const CorpusFile file;
  return file;
}

// JSON Lines as `sentiflow sentiment` writes them: {"line":N,"sentiment":…,"scores":…,"vader":…}.
void format_jsonl(std::string& out, size_t line, std::string_view, const Result& r) {
  out += "{\"line\":";
  out += std::to_string(line);
  out += ',';
  if (r.ok()) append_json_fields(out, r.sentiment);
  out += "}\n";
}

void BM_LineStreamer(benchmark::State& state) {
  const CorpusFile& file = corpus_file();
  const VaderAnalyzer analyzer;
  const LineStreamer streamer(analyzer, format_jsonl);
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(file.path.c_str(), "rb"), &std::fclose);
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen("/dev/null", "wb"), &std::fclose);
    if (!in || !out) {
      state.SkipWithError("cannot open the corpus file or /dev/null");
      return;
    }
    benchmark::DoNotOptimize(streamer.run(in.get(), out.get(), threads));
  }
  state.SetItemsProcessed(state.iterations() * file.lines);
}
BENCHMARK(BM_LineStreamer)->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace sentiflow::sentiment
