// Result and error objects as the results reader finds them in the sink (pipeline/results.h):
// JSON Lines, CSV, each gzipped or not, and error records. The first byte picks the object's
// kind, the rest is its content; beside it in the same run lies one good object. Every call of
// the reader answers (damage is noted, never thrown: the store works), the damaged object is the
// only one named in damaged(), and the good object's record is always read — one bad object
// never fails the run (issue 14, fault 8).
#include <array>
#include <filesystem>

#include "fuzz/fuzz_target.h"
#include "pipeline/results.h"
#include "pipeline/sink.h"
#include "store/file_store.h"
#include "support/temp_dir.h"

using namespace sentiflow;

namespace {

constexpr const char* kRun = "2026-12-07T06:00:00Z";

struct Kind {
  const char* key;  // under the prefix
  bool gzip_it;     // the content is the text inside a gzip object (else the object's bytes)
};
// Raw ".gz" content fuzzes the gzip reader; gzipped content fuzzes the text inside it.
constexpr std::array<Kind, 7> kKinds{{
    {"run=2026-12-07T06:00:00Z/part-fuzz.jsonl", false},
    {"run=2026-12-07T06:00:00Z/part-fuzz.csv", false},
    {"run=2026-12-07T06:00:00Z/part-fuzz.jsonl.gz", true},
    {"run=2026-12-07T06:00:00Z/part-fuzz.csv.gz", true},
    {"run=2026-12-07T06:00:00Z/part-fuzz.jsonl.gz", false},
    {"_errors/run=2026-12-07T06:00:00Z/part-fuzz.jsonl", false},
    {"_errors/run=2026-12-07T06:00:00Z/part-fuzz.jsonl.gz", true},
}};

std::string good_object() {
  pipeline::ResultRecord record;
  record.run = kRun;
  record.key = "good";
  record.text = "a good day";
  record.engine = "vader";
  record.item = "{\"id\":\"good\",\"text\":\"a good day\"}";
  record.processed_at = Millis(std::chrono::milliseconds(1'765'000'000'000));
  std::string out;
  pipeline::append_jsonl(out, record);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  testing_support::TempDir& dir = fuzz::fixture<testing_support::TempDir>();
  if (size == 0) return 0;
  const Kind& kind = kKinds[data[0] % kKinds.size()];
  const std::string_view content = fuzz::as_text(data + 1, size - 1);

  const std::filesystem::path root = dir.path() / "out";
  std::filesystem::remove_all(root);
  FileStore store(root, true, false);
  store.put(std::string("results/") + kind.key, kind.gzip_it ? pipeline::gzip(content) : std::string(content));
  store.put(std::string("results/run=") + kRun + "/part-good.jsonl", good_object());

  pipeline::ResultsReader reader(store, "results/");
  bool good_read = false;
  fuzz::require(fuzz::answered([&] {
                  (void)reader.runs();
                  reader.for_each_result(std::nullopt, [&](const pipeline::ResultRecord& r) {
                    if (r.key == "good") good_read = true;
                  });
                  (void)reader.errors(std::nullopt);
                  (void)reader.summary(std::nullopt);
                }),
                "the reader answers whatever an object holds");
  fuzz::require(good_read, "the good object's record is read beside a bad one");
  for (const auto& [key, why] : reader.damaged())
    fuzz::require(key.find("part-fuzz") != std::string::npos, "only the fuzzed object is damaged");
  return 0;
}
