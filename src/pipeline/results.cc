#include "pipeline/results.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "core/error.h"
#include "observe/log.h"
#include "pipeline/sink.h"

namespace sentiflow::pipeline {
namespace {

// Calls `visit` for every object under `prefix`, in key order, page by page.
template <typename Visit>
void list_all(ObjectStore& store, const std::string& prefix, Visit&& visit) {
  ListRequest request;
  request.prefix = prefix;
  request.max_keys = store.limits().max_keys_per_page;
  do {
    const ListPage page = store.list(request);
    for (const auto& object : page.objects) visit(object);
    request.continuation_token = page.next_token;
  } while (!request.continuation_token.empty());
}

// The run of a key "<folder>run=<run>/<name>" (folder = the listing's prefix up to "run="),
// or "" for a key of another shape, e.g. an object a user put beside the runs.
std::string_view run_of(std::string_view key, std::string_view runs_prefix) {
  if (!key.starts_with(runs_prefix)) return {};
  const std::string_view rest = key.substr(runs_prefix.size());
  const size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return {};
  return rest.substr(0, slash);
}

enum class Kind { jsonl, csv, unknown };

struct ObjectKind {
  Kind kind = Kind::unknown;
  bool gzipped = false;
};

ObjectKind kind_of(std::string_view key) {
  ObjectKind k;
  if (key.ends_with(".gz")) {
    k.gzipped = true;
    key.remove_suffix(3);
  }
  if (key.ends_with(".jsonl"))
    k.kind = Kind::jsonl;
  else if (key.ends_with(".csv"))
    k.kind = Kind::csv;
  return k;
}

// The object's text, gunzipped when its key says so. Throws Error(invalid_input) for gzip that
// cannot be read: damage of the object, not a failure of the store.
std::string decoded_text(const std::string& key, std::string data, bool gzipped) {
  if (!gzipped) return data;
  try {
    return gunzip(data);
  } catch (const Error& e) {
    throw invalid_input(fmt::format("object '{}': {}", key, e.what()));
  }
}

// Calls `line_fn(line, number)` for each non-empty line of JSON Lines text (numbers from 1).
template <typename LineFn>
void for_each_line(std::string_view text, LineFn&& line_fn) {
  int64_t number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    ++number;
    if (!line.empty()) line_fn(line, number);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

Error bad_line(const std::string& key, int64_t line, std::string_view why) {
  return invalid_input(fmt::format("object '{}' line {}: {}", key, line, why));
}

// Objects a user put beside the sink's own (a README, a marker file) are not records.
void skip_unknown(const std::string& key) {
  log::warn("results: skipping an object that is not one the sink writes", {{"key", key}});
}

// A run id the user asked for names one key segment.
void check_run(const std::optional<std::string>& run) {
  if (run && (run->empty() || run->find('/') != std::string::npos))
    throw invalid_input(fmt::format("'{}' is not a run id: run ids are not empty and hold no '/'", *run));
}

// One run's records, deduplicated, and how many raw records were read.
struct RunRecords {
  std::map<std::string, ResultRecord> by_key;
  int64_t raw = 0;
};

// Reads every result object of `run` under `prefix`. Objects come in key order and lines in
// file order. A record replaces the one kept when its (attempt, processed_at) is at least as
// high: a later attempt of the run wins whatever the clocks said (a re-run on a host whose clock
// is behind), and within an attempt the latest; on a tie the record seen later, the one with the
// larger object key (or the later line).
// A damaged object: logged once, remembered by key.
void note_damaged(std::map<std::string, std::string>& damaged, const std::string& key, const std::string& why) {
  if (!damaged.emplace(key, why).second) return;
  log::error("results: an object is damaged; the records before the damage are read, the rest of it is not",
             {{"key", key}, {"error", why}});
}

// Reads one object the sink wrote and hands its text to `read`. The store's own failures
// (access denied, a skewed clock, the network) are thrown as they are: they are not damage of
// the object. An object gone since the listing (a user removed it) is nothing to read. Damage —
// gzip that cannot be read, an empty object (the sink never writes one: it lost its records),
// or invalid_input from `read` (a bad line) — is noted in `damaged`, and the caller goes on.
template <typename Read>
void read_object(ObjectStore& store, const std::string& key, bool gzipped, std::map<std::string, std::string>& damaged,
                 Read&& read) {
  auto object = store.get(key);
  if (!object) return;
  try {
    const std::string text = decoded_text(key, std::move(object->data), gzipped);
    if (text.empty()) throw invalid_input(fmt::format("object '{}' is empty", key));
    read(text);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::invalid_input) throw;
    note_damaged(damaged, key, e.what());
  }
}

RunRecords read_run(ObjectStore& store, const std::string& prefix, const std::string& run,
                    std::map<std::string, std::string>& damaged) {
  RunRecords records;
  const std::string folder = fmt::format("{}run={}/", prefix, run);
  const auto keep = [&](ResultRecord&& record, const std::string& key, int64_t line) {
    if (record.run != run)
      throw bad_line(key, line, fmt::format("a record of run '{}' in the folder of run '{}'", record.run, run));
    ++records.raw;
    const auto found = records.by_key.find(record.key);
    if (found == records.by_key.end())
      records.by_key.emplace(record.key, std::move(record));
    else if (std::pair(record.attempt, record.processed_at) >=
             std::pair(found->second.attempt, found->second.processed_at))
      found->second = std::move(record);
  };
  list_all(store, folder, [&](const ObjectInfo& info) {
    const ObjectKind kind = kind_of(info.key);
    if (kind.kind == Kind::unknown) return skip_unknown(info.key);
    read_object(store, info.key, kind.gzipped, damaged, [&](const std::string& text) {
      if (kind.kind == Kind::jsonl) {
        for_each_line(text, [&](std::string_view line, int64_t number) {
          ResultRecord record;
          try {
            record = parse_result_jsonl(line);
          } catch (const Error& e) {
            throw bad_line(info.key, number, e.what());
          }
          keep(std::move(record), info.key, number);
        });
      } else {
        // parse_result_csv names the object and the line of a bad row itself.
        std::vector<ResultRecord> rows = parse_result_csv(text, info.key);
        int64_t row = 0;
        for (auto& record : rows) keep(std::move(record), info.key, ++row);
      }
    });
  });
  return records;
}

// The runs that have objects under `runs_prefix` ("<prefix>run=" or "<prefix>_errors/run=").
void collect_runs(ObjectStore& store, const std::string& runs_prefix, std::set<std::string>& runs) {
  list_all(store, runs_prefix, [&](const ObjectInfo& info) {
    const std::string_view run = run_of(info.key, runs_prefix);
    if (!run.empty()) runs.emplace(run);
  });
}

}  // namespace

ResultsReader::ResultsReader(ObjectStore& store, std::string prefix) : store_(store), prefix_(std::move(prefix)) {
  if (!prefix_.empty() && !prefix_.ends_with('/'))
    throw invalid_input(fmt::format("sink prefix '{}' must be empty or end in '/'", prefix_));
}

std::vector<std::string> ResultsReader::runs() {
  std::set<std::string> runs;
  collect_runs(store_, prefix_ + "run=", runs);
  collect_runs(store_, prefix_ + "_errors/run=", runs);
  return {runs.begin(), runs.end()};
}

void ResultsReader::for_each_result(const std::optional<std::string>& run,
                                    const std::function<void(const ResultRecord&)>& emit) {
  check_run(run);
  std::set<std::string> runs;
  if (run)
    runs.insert(*run);
  else
    collect_runs(store_, prefix_ + "run=", runs);
  for (const auto& r : runs) {
    const RunRecords records = read_run(store_, prefix_, r, damaged_);
    for (const auto& [key, record] : records.by_key) emit(record);
  }
}

std::vector<ErrorRecord> ResultsReader::errors(const std::optional<std::string>& run) {
  check_run(run);
  const std::string folder = prefix_ + "_errors/run=" + (run ? *run + "/" : "");
  std::vector<ErrorRecord> records;
  list_all(store_, folder, [&](const ObjectInfo& info) {
    const ObjectKind kind = kind_of(info.key);
    const std::string_view object_run = run_of(info.key, prefix_ + "_errors/run=");
    if (kind.kind != Kind::jsonl || object_run.empty()) return skip_unknown(info.key);
    read_object(store_, info.key, kind.gzipped, damaged_, [&](const std::string& text) {
      for_each_line(text, [&](std::string_view line, int64_t number) {
        ErrorRecord record;
        try {
          record = parse_error_jsonl(line);
        } catch (const Error& e) {
          throw bad_line(info.key, number, e.what());
        }
        if (record.run != object_run)
          throw bad_line(info.key, number,
                         fmt::format("an error record of run '{}' in the folder of run '{}'", record.run, object_run));
        records.push_back(std::move(record));
      });
    });
  });
  std::stable_sort(records.begin(), records.end(), [](const ErrorRecord& a, const ErrorRecord& b) {
    if (a.run != b.run) return a.run < b.run;
    if (a.at != b.at) return a.at < b.at;
    return a.key < b.key;
  });
  return records;
}

ResultsSummary ResultsReader::summary(const std::optional<std::string>& run) {
  ResultsSummary summary;
  check_run(run);
  std::set<std::string> runs;
  if (run)
    runs.insert(*run);
  else
    collect_runs(store_, prefix_ + "run=", runs);
  for (const auto& r : runs) {
    const RunRecords records = read_run(store_, prefix_, r, damaged_);
    if (records.by_key.empty()) continue;
    const auto distinct = static_cast<int64_t>(records.by_key.size());
    summary.records += distinct;
    summary.duplicates += records.raw - distinct;
    summary.by_run[r] = distinct;
    for (const auto& [key, record] : records.by_key) ++summary.labels[std::string(to_string(record.sentiment.label))];
  }
  for (const auto& error : errors(run)) {
    ++summary.errors;
    ++summary.errors_by_code[error.code];
  }
  return summary;
}

}  // namespace sentiflow::pipeline
