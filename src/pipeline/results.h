// Reading the sink back: `sentiflow results` and `sentiflow status` (DESIGN.md, "Sink and
// results").
//
// Raw result objects are at least once (a batch replayed after a crash may be stored again
// under another object when its messages came in another batch); the reader yields each
// (run, key) exactly once — the record with the latest processed_at wins, ties broken by the
// larger object key then the later line, so the choice is stable — sorted by run, then key
// (byte order). It reads .jsonl, .csv and their .gz forms whatever the sink's current format.
// Memory: one run's records at a time.
//
// Not thread-safe (a ResultsReader is a short-lived object of one command).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pipeline/records.h"
#include "store/object_store.h"

namespace sentiflow::pipeline {

struct ResultsSummary {
  int64_t records = 0;                    // distinct (run, key)
  int64_t duplicates = 0;                 // raw records beyond the first of their (run, key)
  std::map<std::string, int64_t> labels;  // "POSITIVE" -> count, over distinct records
  std::map<std::string, int64_t> by_run;  // run -> distinct records
  int64_t errors = 0;                     // error records
  std::map<std::string, int64_t> errors_by_code;
};

class ResultsReader {
 public:
  // `prefix` as the Sink's. The store must outlive the reader.
  ResultsReader(ObjectStore& store, std::string prefix);

  // The runs that have result or error objects, sorted.
  std::vector<std::string> runs();

  // Calls `emit` for every distinct record of `run` (all runs when nullopt), in order. An
  // object it cannot read whole (empty, truncated, not gzip, a line that is not a record, a
  // record of another run: what a power cut or a hand edit leaves) does not stop it: the
  // records of a JSON Lines object's lines before the damage count (a damaged gzip or CSV
  // object gives none), the object is logged and listed in damaged(), and the rest is read. The
  // store's own failures (access denied, a skewed clock) are thrown as they are.
  void for_each_result(const std::optional<std::string>& run, const std::function<void(const ResultRecord&)>& emit);

  // Every error record of `run` (all runs when nullopt), sorted by run, then at, then key.
  // Damaged error objects as for for_each_result.
  std::vector<ErrorRecord> errors(const std::optional<std::string>& run);

  ResultsSummary summary(const std::optional<std::string>& run);

  // The objects the calls so far found damaged: key -> what is wrong (the first line that is).
  const std::map<std::string, std::string>& damaged() const { return damaged_; }

 private:
  ObjectStore& store_;
  std::string prefix_;
  std::map<std::string, std::string> damaged_;
};

}  // namespace sentiflow::pipeline
