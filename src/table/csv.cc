#include "table/csv.h"

#include <algorithm>

namespace sentiflow::table_detail {

int CsvReader::get() {
  const int c = in_.get();
  if (c == '\n') ++line_;
  if (c != EOF) last_ = c;
  return c;
}

void CsvReader::skip_line() {
  for (int c = get(); c != EOF && c != '\n'; c = get()) {}
}

bool CsvReader::next(Record& record) {
  record.fields.clear();
  record.error.clear();
  // Blank lines (and a final line end) are not records.
  while (in_.peek() == '\n' || in_.peek() == '\r') get();
  if (in_.peek() == EOF) return false;
  record.line = line_;
  std::string field;
  // The last line the record took: the one before line_ when it ended with its line end.
  const auto end = [&] {
    record.last_line = std::max(record.line, last_ == '\n' ? line_ - 1 : line_);
    return true;
  };
  const auto fail = [&](const char* why) {
    record.fields.clear();
    record.error = why;
    return end();
  };
  while (true) {
    field.clear();
    if (in_.peek() == '"') {
      get();
      while (true) {
        const int c = get();
        if (c == EOF) return fail("a quoted field is not closed before the end of the input");
        if (c != '"') {
          field += static_cast<char>(c);
          continue;
        }
        if (in_.peek() == '"') {
          get();
          field += '"';
          continue;
        }
        break;
      }
      int after = in_.peek();
      // A CR ends the line only as the first half of CRLF (or at the end of the input). Before,
      // a lone CR was taken as the line end and the character after it swallowed, so the rest of
      // the line became a record of its own (found by fuzz/import_fuzz.cc).
      if (after == '\r') {
        get();
        after = in_.peek();
        if (after != '\n' && after != EOF) {
          skip_line();
          return fail("a carriage return after the closing quote of a field that does not end the line");
        }
      }
      if (after != ',' && after != '\n' && after != EOF) {
        skip_line();
        return fail("text after the closing quote of a field");
      }
    } else {
      while (true) {
        const int c = in_.peek();
        if (c == ',' || c == '\n' || c == EOF) break;
        get();
        if (c == '"') {
          skip_line();
          return fail("a quote inside an unquoted field (quote the field and double the quote)");
        }
        if (c == '\r' && (in_.peek() == '\n' || in_.peek() == EOF)) break;
        field += static_cast<char>(c);
      }
    }
    record.fields.push_back(std::move(field));
    const int c = get();
    if (c == ',') continue;
    return end();  // '\n' or the end of the input
  }
}

}  // namespace sentiflow::table_detail
