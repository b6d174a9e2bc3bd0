#include "pipeline/records.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <charconv>
#include <cmath>
#include <optional>

#include "core/error.h"
#include "core/json_text.h"
#include "core/utf8.h"
#include "sentiment/format.h"

namespace sentiflow::pipeline {
namespace {

using sentiment::Label;

// "attempt" came last, in a 13th column: files of the 12 before it still read (attempt 1).
constexpr std::array<std::string_view, 13> kCsvColumns = {"run",     "key",   "sentiment", "positive", "negative",
                                                          "neutral", "mixed", "compound",  "engine",   "processed_at",
                                                          "text",    "item",  "attempt"};
constexpr size_t kCsvColumnsBeforeAttempt = 12;

// An item may nest 32 levels (DynamoDB's limit); the record around it adds one.
constexpr int kMaxRecordDepth = 33;

constexpr std::array<Label, 4> kLabels = {Label::positive, Label::negative, Label::neutral, Label::mixed};

std::optional<Label> parse_label(std::string_view text) {
  for (const Label label : kLabels)
    if (sentiment::to_string(label) == text) return label;
  return std::nullopt;
}

// Restores `out` to its size on entry unless commit() is called: a record that cannot be
// written leaves no half line behind.
class AppendGuard {
 public:
  explicit AppendGuard(std::string& out) : out_(out), size_(out.size()) {}
  ~AppendGuard() {
    if (!committed_) out_.resize(size_);
  }
  AppendGuard(const AppendGuard&) = delete;
  AppendGuard& operator=(const AppendGuard&) = delete;
  void commit() { committed_ = true; }

 private:
  std::string& out_;
  size_t size_;
  bool committed_ = false;
};

// A result record's string field as JSON; names the field when it is not UTF-8.
void append_field(std::string& out, std::string_view field, std::string_view text) {
  if (const auto bad = find_invalid_utf8(text))
    throw invalid_input(fmt::format("the result record's {} is not valid UTF-8 (at byte {})", field, *bad + 1));
  append_json_quoted_unchecked(out, text);
}

// An error record must always be writable, whatever bytes its reason quotes: invalid UTF-8
// becomes U+FFFD instead of failing the write.
void append_lossy(std::string& out, std::string_view text) {
  if (is_valid_utf8(text)) return append_json_quoted_unchecked(out, text);
  std::string clean;
  clean.reserve(text.size() + 8);
  while (!text.empty()) {
    const auto bad = find_invalid_utf8(text);
    if (!bad) {
      clean.append(text);
      break;
    }
    clean.append(text.substr(0, *bad));
    append_utf8(clean, U'\uFFFD');
    text.remove_prefix(*bad + 1);
  }
  append_json_quoted_unchecked(out, clean);
}

void append_string_or_null(std::string& out, std::string_view text) {
  if (text.empty()) {
    out += "null";
  } else {
    append_lossy(out, text);
  }
}

void append_millis(std::string& out, Millis t) {
  out += '"';
  out += format_utc_millis(t);
  out += '"';
}

// The item as written into a record: compact JSON object text, never checked again here (it
// was checked when it entered the pipeline), but never empty either, which would break the line.
std::string_view item_text(const ResultRecord& record) {
  if (record.item.empty() || record.item.front() != '{')
    throw Error(ErrorCode::internal, fmt::format("the result record of key '{}' has no item object", record.key));
  return record.item;
}

// ---- Reading JSON Lines ----------------------------------------------------------------

// One JSON record being read; its accessors throw Error(invalid_input) naming the member,
// nested ones by their path ("scores.Positive").
class RecordReader {
 public:
  RecordReader(std::string_view line, std::string_view what)
      : what_(what), object_(parse_json_object(line, what, kMaxRecordDepth)) {}

  bool has(std::string_view name) const { return object_.find(name) != nullptr; }

  const JsonMember& member(std::string_view name, std::string_view kind) const {
    const JsonMember* m = object_.find(name);
    if (!m) throw invalid_input(fmt::format("{} has no \"{}{}\" {}", what_, path_, name, kind));
    return *m;
  }

  std::string string(std::string_view name) const {
    auto value = json_string_value(member(name, "string").value);
    if (!value) throw invalid_input(fmt::format("{} has no \"{}{}\" string", what_, path_, name));
    return std::move(*value);
  }

  // A string, or "" for null.
  std::string string_or_null(std::string_view name) const {
    const JsonMember& m = member(name, "string");
    if (m.value == "null") return "";
    auto value = json_string_value(m.value);
    if (!value) throw invalid_input(fmt::format("{}'s \"{}{}\" is neither a string nor null", what_, path_, name));
    return std::move(*value);
  }

  Millis time(std::string_view name) const {
    const std::string text = string(name);
    try {
      return parse_utc_millis(text);
    } catch (const Error& e) {
      throw invalid_input(fmt::format("{}'s \"{}{}\": {}", what_, path_, name, e.what()));
    }
  }

  int64_t integer(std::string_view name) const {
    const std::string_view text = member(name, "number").value;
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
      throw invalid_input(fmt::format("{}'s \"{}{}\" is {}, not a whole number", what_, path_, name, text));
    return value;
  }

  // The writer prints the shortest text that reads back as the same double, so this is exact.
  double number(std::string_view name) const {
    const std::string_view text = member(name, "number").value;
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
      throw invalid_input(fmt::format("{}'s \"{}{}\" is {}, not a number", what_, path_, name, text));
    return value;
  }

  // The member's compact object text; nullopt for null when `null_ok`.
  std::optional<std::string_view> object_text(std::string_view name, bool null_ok = false) const {
    const std::string_view text = member(name, "object").value;
    if (null_ok && text == "null") return std::nullopt;
    if (text.front() != '{')
      throw invalid_input(null_ok ? fmt::format("{}'s \"{}{}\" is neither an object nor null", what_, path_, name)
                                  : fmt::format("{} has no \"{}{}\" object", what_, path_, name));
    return text;
  }

  // The member's object, read with the same rules.
  RecordReader object(std::string_view name, bool null_ok = false) const {
    return RecordReader(*object_text(name, null_ok), what_, fmt::format("{}{}.", path_, name));
  }

 private:
  RecordReader(std::string_view text, const std::string& what, std::string path)
      : what_(what), path_(std::move(path)), object_(parse_json_object(text, what, kMaxRecordDepth)) {}

  std::string what_;
  std::string path_;  // "" at the top, else "name."
  JsonObject object_;
};

// ---- CSV -------------------------------------------------------------------------------

// A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
void append_csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (const char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

struct CsvRow {
  size_t line = 0;  // where the row starts, from 1
  std::vector<std::string> fields;
};

// RFC 4180 rows: quoted fields may hold commas, doubled quotes and line breaks; rows end with
// CRLF (a bare LF is accepted too). Blank lines are skipped.
std::vector<CsvRow> read_csv_rows(std::string_view in, std::string_view name) {
  std::vector<CsvRow> rows;
  size_t i = 0;
  size_t line = 1;
  auto fail = [&](std::string_view why) -> Error {
    return invalid_input(fmt::format("{}, line {}: {}", name, line, why));
  };
  while (i < in.size()) {
    CsvRow row{line, {}};
    while (true) {
      std::string field;
      if (i < in.size() && in[i] == '"') {
        ++i;
        while (true) {
          if (i >= in.size()) {
            line = row.line;
            throw fail("a quoted field is not closed");
          }
          const char c = in[i++];
          if (c == '"') {
            if (i < in.size() && in[i] == '"') {
              field += '"';
              ++i;
              continue;
            }
            break;
          }
          if (c == '\n') ++line;
          field += c;
        }
        if (i < in.size() && in[i] != ',' && in[i] != '\r' && in[i] != '\n')
          throw fail("text after a quoted field's closing quote");
      } else {
        const size_t end = std::min(in.find_first_of(",\r\n\"", i), in.size());
        if (end < in.size() && in[end] == '"') throw fail("a quote inside a field that does not start with one");
        field.assign(in.substr(i, end - i));
        i = end;
      }
      row.fields.push_back(std::move(field));
      if (i < in.size() && in[i] == ',') {
        ++i;
        continue;
      }
      if (i < in.size() && in[i] == '\r') {
        if (i + 1 >= in.size() || in[i + 1] != '\n') throw fail("a carriage return without its line feed");
        ++i;
      }
      if (i < in.size()) {
        ++i;  // the '\n'
        ++line;
      }
      break;
    }
    if (row.fields.size() == 1 && row.fields[0].empty()) continue;  // a blank line
    rows.push_back(std::move(row));
  }
  return rows;
}

double csv_number(const CsvRow& row, size_t column, std::string_view name) {
  const std::string& text = row.fields[column];
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value))
    throw invalid_input(
        fmt::format("{}, line {}: the {} column is '{}', not a number", name, row.line, kCsvColumns[column], text));
  return value;
}

// VADER's own neg, neu and pos to their 3 decimals.
double round3(double x) { return std::round(x * 1000) / 1000; }

// The CSV keeps VADER's compound only; neg, neu and pos follow from the scores by undoing
// DESIGN.md's "VADER -> Comprehend shape" (Positive = pos - m, Negative = neg - m, Mixed = 2m
// when MIXED; else Positive = pos, Negative = neg), Neutral being neu either way.
sentiment::VaderScores vader_from_scores(const sentiment::Sentiment& s, double compound) {
  const double m = s.label == Label::mixed ? s.scores.mixed / 2 : 0.0;
  return {round3(s.scores.negative + m), round3(s.scores.neutral), round3(s.scores.positive + m), compound};
}

// `columns`: 13, or 12 in files written before the attempt column.
ResultRecord result_from_csv(CsvRow& row, std::string_view name, size_t columns) {
  auto fail = [&](std::string_view why) { return invalid_input(fmt::format("{}, line {}: {}", name, row.line, why)); };
  if (row.fields.size() != columns) throw fail(fmt::format("expected {} fields, found {}", columns, row.fields.size()));
  ResultRecord r;
  r.run = std::move(row.fields[0]);
  r.key = std::move(row.fields[1]);
  const auto label = parse_label(row.fields[2]);
  if (!label) throw fail(fmt::format("the sentiment '{}' is not POSITIVE, NEGATIVE, NEUTRAL or MIXED", row.fields[2]));
  r.sentiment.label = *label;
  r.sentiment.scores = {csv_number(row, 3, name), csv_number(row, 4, name), csv_number(row, 5, name),
                        csv_number(row, 6, name)};
  if (!row.fields[7].empty()) r.sentiment.vader = vader_from_scores(r.sentiment, csv_number(row, 7, name));
  r.engine = std::move(row.fields[8]);
  try {
    r.processed_at = parse_utc_millis(row.fields[9]);
  } catch (const Error& e) {
    throw fail(fmt::format("processed_at: {}", e.what()));
  }
  r.text = std::move(row.fields[10]);
  try {
    r.item = parse_json_object(row.fields[11], "the item", kMaxRecordDepth - 1).text;
  } catch (const Error& e) {
    throw fail(e.what());
  }
  if (columns > kCsvColumnsBeforeAttempt) {
    const std::string& text = row.fields[12];
    int attempt = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), attempt);
    if (ec != std::errc() || end != text.data() + text.size() || attempt < 1)
      throw fail(fmt::format("the attempt column is '{}', not a whole number from 1", text));
    r.attempt = attempt;
  }
  return r;
}

}  // namespace

void append_jsonl(std::string& out, const ResultRecord& record) {
  AppendGuard guard(out);
  out += "{\"schema\":1,\"run\":";
  append_field(out, "run", record.run);
  out += ",\"key\":";
  append_field(out, "key", record.key);
  out += ",\"text\":";
  append_field(out, "text", record.text);
  out += ',';
  sentiment::append_json_fields(out, record.sentiment);
  out += ",\"engine\":";
  append_field(out, "engine", record.engine);
  out += ",\"item\":";
  out += item_text(record);
  out += ",\"processed_at\":";
  append_millis(out, record.processed_at);
  out += ",\"attempt\":";
  out += std::to_string(record.attempt);
  out += "}\n";
  guard.commit();
}

void append_jsonl(std::string& out, const ErrorRecord& record) {
  out += "{\"run\":";
  append_lossy(out, record.run);
  out += ",\"key\":";
  append_string_or_null(out, record.key);
  out += ",\"message_id\":";
  append_string_or_null(out, record.message_id);
  out += ",\"receive_count\":";
  out += std::to_string(record.receive_count);
  out += ",\"code\":";
  append_lossy(out, record.code);
  out += ",\"reason\":";
  append_lossy(out, record.reason);
  out += ",\"at\":";
  append_millis(out, record.at);
  out += "}\n";
}

void append_csv_header(std::string& out) {
  for (size_t i = 0; i < kCsvColumns.size(); ++i) {
    if (i) out += ',';
    out += kCsvColumns[i];
  }
  out += "\r\n";
}

void append_csv(std::string& out, const ResultRecord& record) {
  AppendGuard guard(out);
  for (const auto& [field, text] : {std::pair<std::string_view, std::string_view>{"run", record.run},
                                    {"key", record.key},
                                    {"text", record.text},
                                    {"engine", record.engine}})
    if (const auto bad = find_invalid_utf8(text))
      throw invalid_input(fmt::format("the result record's {} is not valid UTF-8 (at byte {})", field, *bad + 1));
  const auto& s = record.sentiment;
  append_csv_field(out, record.run);
  out += ',';
  append_csv_field(out, record.key);
  out += ',';
  out += sentiment::to_string(s.label);
  for (const double score : {s.scores.positive, s.scores.negative, s.scores.neutral, s.scores.mixed}) {
    out += ',';
    sentiment::append_decimal(out, score);
  }
  out += ',';
  if (s.vader) sentiment::append_decimal(out, s.vader->compound);
  out += ',';
  append_csv_field(out, record.engine);
  out += ',';
  out += format_utc_millis(record.processed_at);
  out += ',';
  append_csv_field(out, record.text);
  out += ',';
  append_csv_field(out, item_text(record));
  out += ',';
  out += std::to_string(record.attempt);
  out += "\r\n";
  guard.commit();
}

ResultRecord parse_result_jsonl(std::string_view line) {
  const RecordReader in(line, "the result record");
  if (const std::string_view schema = in.member("schema", "number").value; schema != "1")
    throw invalid_input(fmt::format("the result record's \"schema\" is {}; this sentiflow reads schema 1", schema));
  ResultRecord r;
  r.run = in.string("run");
  r.key = in.string("key");
  r.text = in.string("text");
  const std::string label = in.string("sentiment");
  const auto parsed = parse_label(label);
  if (!parsed)
    throw invalid_input(
        fmt::format("the result record's \"sentiment\" is '{}', not POSITIVE, NEGATIVE, NEUTRAL or MIXED", label));
  r.sentiment.label = *parsed;
  const RecordReader scores = in.object("scores");
  r.sentiment.scores = {scores.number("Positive"), scores.number("Negative"), scores.number("Neutral"),
                        scores.number("Mixed")};
  if (in.object_text("vader", true)) {
    const RecordReader vader = in.object("vader", true);
    r.sentiment.vader =
        sentiment::VaderScores{vader.number("neg"), vader.number("neu"), vader.number("pos"), vader.number("compound")};
  }
  r.engine = in.string("engine");
  r.item.assign(*in.object_text("item"));
  r.processed_at = in.time("processed_at");
  if (in.has("attempt")) {
    const int64_t attempt = in.integer("attempt");
    if (attempt < 1 || attempt > std::numeric_limits<int>::max())
      throw invalid_input(fmt::format("the result record's \"attempt\" is {}, not a whole number from 1", attempt));
    r.attempt = static_cast<int>(attempt);
  }
  return r;
}

ErrorRecord parse_error_jsonl(std::string_view line) {
  const RecordReader in(line, "the error record");
  ErrorRecord r;
  r.run = in.string("run");
  r.key = in.string_or_null("key");
  r.message_id = in.string_or_null("message_id");
  r.receive_count = in.integer("receive_count");
  r.code = in.string("code");
  r.reason = in.string("reason");
  r.at = in.time("at");
  return r;
}

std::vector<ResultRecord> parse_result_csv(std::string_view contents, std::string_view name) {
  if (const auto bad = find_invalid_utf8(contents))
    throw invalid_input(fmt::format("{} is not valid UTF-8 (at byte {})", name, *bad + 1));
  if (contents.starts_with("\xEF\xBB\xBF")) contents.remove_prefix(3);  // a BOM from a spreadsheet
  std::vector<CsvRow> rows = read_csv_rows(contents, name);
  std::string expected;
  append_csv_header(expected);
  expected.resize(expected.size() - 2);
  if (rows.empty()) throw invalid_input(fmt::format("{} is empty; expected the header row '{}'", name, expected));
  const auto& head = rows[0].fields;
  const size_t columns = head.size() == kCsvColumnsBeforeAttempt ? kCsvColumnsBeforeAttempt : kCsvColumns.size();
  if (head.size() != columns || !std::equal(head.begin(), head.end(), kCsvColumns.begin())) {
    std::string header;
    for (size_t i = 0; i < rows[0].fields.size(); ++i) header += (i ? "," : "") + rows[0].fields[i];
    throw invalid_input(
        fmt::format("{} is not a sentiflow results CSV: its header is '{}'; expected '{}'", name, header, expected));
  }
  std::vector<ResultRecord> records;
  records.reserve(rows.size() - 1);
  for (size_t i = 1; i < rows.size(); ++i) records.push_back(result_from_csv(rows[i], name, columns));
  return records;
}

}  // namespace sentiflow::pipeline
