// LocalTable: a Table (table/table.h) in a SQLite file, for running the pipeline on one
// machine; `local://NAME` in a pipeline file.
//
// Each table is one file, `<state_dir>/tables/<NAME>.sqlite`, which also records the table's
// key schema. Items are stored as the exact text they were put with (whitespace removed), so
// numbers never pass through floating point. Scans run in the order of a stable 32-bit hash
// of the partition key, then the key itself; segment i of n holds the hashes in
// [i * 2^32 / n, (i + 1) * 2^32 / n), so segments are disjoint and cover the table, and a
// continuation token is the last key returned. Several processes may open the same table
// (WAL journal, BEGIN IMMEDIATE, a busy timeout).
//
// A LocalTable is safe to share between threads: calls are serialised on one connection.
// For scans in parallel, open one LocalTable per thread (opening is cheap).
#pragma once

#include <chrono>
#include <filesystem>
#include <istream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "table/table.h"

namespace sentiflow {

struct LocalTableOptions {
  std::filesystem::path file;  // usually LocalTable::file_in(state_dir, name); created when missing
  std::string name;            // 1-255 of A-Z a-z 0-9 _ - .
  // Required to create the table; when the table exists, it must match the recorded schema
  // (or be nullopt to take whatever the table has).
  std::optional<KeySchema> key_schema{};
  std::chrono::milliseconds busy_timeout{10'000};
};

enum class ImportFormat { json_lines, csv };

struct ImportReport {
  struct LineError {
    size_t line = 0;       // from 1
    size_t last_line = 0;  // the last line lost with it: > line for a CSV record over several lines
    std::string message;
  };
  size_t imported = 0;               // items stored (a later line with the same key replaces an earlier one)
  size_t skipped = 0;                // malformed lines, not stored (every line of a malformed CSV record)
  std::vector<LineError> errors;     // the first kMaxReportedErrors of them
  bool table_was_not_empty = false;  // with only_if_empty: nothing was imported

  static constexpr size_t kMaxReportedErrors = 1000;
};

class LocalTable final : public Table {
 public:
  // Opens the table, creating its file (and folder) when missing. Throws Error(invalid_input)
  // for a bad name, a missing key schema for a new table, a schema that differs from the
  // table's, or a file that is not a sentiflow table; Error(transient) when the file stays busy.
  explicit LocalTable(LocalTableOptions options);
  ~LocalTable() override;
  LocalTable(const LocalTable&) = delete;
  LocalTable& operator=(const LocalTable&) = delete;

  // `<state_dir>/tables/<name>.sqlite`.
  static std::filesystem::path file_in(const std::filesystem::path& state_dir, const std::string& name);
  // The names of the tables of a state directory, sorted.
  static std::vector<std::string> list(const std::filesystem::path& state_dir);

  const KeySchema& key_schema() const override;
  TableLimits limits() const override;
  void put(std::string_view item) override;
  std::vector<std::string> put_batch(std::span<const std::string> items) override;
  std::optional<std::string> get(const ItemKey& key) override;
  bool remove(const ItemKey& key) override;
  int64_t count() override;
  ScanPage scan(const ScanRequest& request) override;

  // Loads items from JSON Lines (one object per line) or CSV (a header row naming the
  // attributes, then one item per row, every value a string) in one transaction: a crash or
  // an error of the stream leaves the table as it was. A malformed line is reported with its
  // number and skipped. With `only_if_empty`, imports nothing into a table that has items
  // (how a pipeline's seed is loaded once). Throws Error(invalid_input) for a CSV header
  // without the key attributes or with a repeated name, and when the stream cannot be read.
  ImportReport import(std::istream& in, ImportFormat format, bool only_if_empty = false);

 private:
  struct State;

  const LocalTableOptions options_;
  std::mutex mutex_;  // guards state_: one SQLite connection, used by one thread at a time
  std::unique_ptr<State> state_;
  KeySchema schema_;
};

}  // namespace sentiflow
