#include "table/import.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/strings.h"

namespace sentiflow {
namespace {

bool has_items(Table& table) {
  ScanRequest request;
  request.limit = 1;
  do {  // DynamoDB may answer a page with no items and a token: follow it
    const ScanPage page = table.scan(request);
    if (!page.items.empty()) return true;
    request.start_token = page.next_token;
  } while (!request.start_token.empty());
  return false;
}

// A JSON Lines import into a table without LocalTable's one transaction (import.h says how).
ImportReport import_in_batches(Table& table, std::istream& in, bool only_if_empty) {
  ImportReport report;
  if (only_if_empty && has_items(table)) {
    report.table_was_not_empty = true;
    return report;
  }
  const auto skip = [&](size_t line, std::string message) {
    ++report.skipped;
    if (report.errors.size() < ImportReport::kMaxReportedErrors)
      report.errors.push_back({line, line, std::move(message)});
  };
  const auto put_one = [&](size_t line, const std::string& item) {
    try {
      table.put(item);
      ++report.imported;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::invalid_input) throw;
      skip(line, e.what());
    }
  };
  std::vector<size_t> lines;
  std::vector<std::string> items;
  const auto flush = [&] {
    if (items.empty()) return;
    try {
      const std::vector<std::string> left = table.put_batch(items);
      report.imported += items.size() - left.size();
      for (const auto& item : left) {
        const auto at = std::find(items.begin(), items.end(), item);
        put_one(at == items.end() ? lines.front() : lines[static_cast<size_t>(at - items.begin())], item);
      }
    } catch (const Error& e) {
      if (e.code() != ErrorCode::invalid_input) throw;
      for (size_t i = 0; i < items.size(); ++i) put_one(lines[i], items[i]);
    }
    lines.clear();
    items.clear();
  };
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  const size_t batch = table.limits().max_batch_items;
  std::string line;
  size_t number = 1;
  try {
    for (; std::getline(in, line); ++number) {
      std::string_view text = line;
      if (number == 1 && text.starts_with(kBom)) text.remove_prefix(kBom.size());
      if (trim(text).empty()) continue;
      lines.push_back(number);
      items.emplace_back(text);
      if (items.size() == batch) flush();
    }
    flush();
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{} (near line {}; the {} items imported before it stay in the table)", e.what(),
                                      lines.empty() ? number : lines.front(), report.imported));
  }
  if (in.bad())
    throw invalid_input(
        fmt::format("the import input could not be read to its end; the {} items imported before "
                    "line {} stay in the table",
                    report.imported, number));
  return report;
}

}  // namespace

ImportReport import_items(Table& table, std::string_view uri, std::istream& in, ImportFormat format,
                          bool only_if_empty) {
  if (auto* local = dynamic_cast<LocalTable*>(&table)) return local->import(in, format, only_if_empty);
  if (format == ImportFormat::csv)
    throw invalid_input(
        fmt::format("table {}: only JSON Lines can be imported into DynamoDB; CSV only into local:// "
                    "tables",
                    uri));
  return import_in_batches(table, in, only_if_empty);
}

}  // namespace sentiflow
