// `sentiflow table import` (table/import.h): JSON Lines or CSV into a local table. The first byte
// picks the format, the rest is the file. The import answers or throws Error(invalid_input); what
// it reports adds up (imported and skipped lines within the file's lines); and in JSON Lines, a
// good line after the fuzzed ones is imported whatever came before — one bad line never fails
// the import.
#include <algorithm>
#include <sstream>

#include "fuzz/fuzz_target.h"
#include "support/temp_dir.h"
#include "table/import.h"
#include "table/local_table.h"

using namespace sentiflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  testing_support::TempDir& dir = fuzz::fixture<testing_support::TempDir>();
  if (size == 0) return 0;
  const bool csv = data[0] % 2 == 1;
  std::string file(fuzz::as_text(data + 1, size - 1));
  if (!csv) file += "\n{\"id\":\"good-line\",\"text\":\"a good line\"}\n";
  const size_t lines = static_cast<size_t>(std::count(file.begin(), file.end(), '\n')) + 1;

  std::filesystem::remove_all(dir.path() / "tables");
  LocalTable table({.file = LocalTable::file_in(dir.path() / "tables", "fuzz"),
                    .name = "fuzz",
                    .key_schema = KeySchema{"id", std::nullopt}});
  std::istringstream in(file);
  ImportReport report;
  try {
    report = import_items(table, "fuzz", in, csv ? ImportFormat::csv : ImportFormat::json_lines, false);
  } catch (const Error& e) {
    fuzz::require(csv && e.code() == ErrorCode::invalid_input, "only a CSV file may be refused whole (no header)");
    return 0;
  }
  fuzz::require(report.imported + report.skipped <= lines, "imported and skipped lines are lines of the file");
  fuzz::require(report.errors.size() <= ImportReport::kMaxReportedErrors, "the reported errors are bounded");
  if (!csv) fuzz::require(table.get(ItemKey{"good-line", std::nullopt}).has_value(), "the good line is imported");
  return 0;
}
