// RFC 4180 CSV records, for importing tables; private to table/.
//
// Written here because none of our dependencies reads CSV and the format is small: fields
// separated by commas, quoted fields with "" for a quote and line breaks inside, LF or CRLF
// line ends. Not thread-safe: one reader per stream.
#pragma once

#include <cstdio>
#include <istream>
#include <string>
#include <vector>

namespace sentiflow::table_detail {

class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}

  struct Record {
    std::vector<std::string> fields;
    size_t line = 0;       // the line the record starts on, from 1
    size_t last_line = 0;  // the last line it (or, when malformed, the text skipped with it) takes
    std::string error;     // set for a malformed record (fields are then empty)
  };

  // Reads the next record, skipping blank lines; false at the end of the input. After a
  // malformed record, reading resumes on the line after the one where the error was found;
  // a quoted field that is never closed takes the rest of the input (through last_line).
  bool next(Record& record);

 private:
  int get();
  void skip_line();

  std::istream& in_;
  size_t line_ = 1;
  int last_ = EOF;  // the last character read
};

}  // namespace sentiflow::table_detail
