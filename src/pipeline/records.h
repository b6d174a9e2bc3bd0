// The records the pipeline writes to the object store (DESIGN.md, "Result record" and "Error
// records"), their text forms and how they are read back. Pure functions, thread-safe.
//
// Result record, JSON Lines (schema 1), one line each:
//   {"schema":1,"run":"…","key":"…","text":"…","sentiment":"POSITIVE","scores":{"Positive":…,
//    "Negative":…,"Neutral":…,"Mixed":…},"vader":{"neg":…,"neu":…,"pos":…,"compound":…}|null,
//    "engine":"vader","item":{…},"processed_at":"2026-11-26T06:00:00.123Z"}
// CSV (RFC 4180, CRLF line ends, header row): run,key,sentiment,positive,negative,neutral,
// mixed,compound,engine,processed_at,text,item — `compound` empty without VADER numbers,
// `item` as compact JSON text.
//
// Error record, JSON Lines only (whatever the sink format: they are for people and tools):
//   {"run":"…","key":"…"|null,"message_id":"…"|null,"receive_count":3,"code":"enrich_failed",
//    "reason":"…","at":"2026-11-26T06:00:00.123Z"}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "sentiment/analyzer.h"

namespace sentiflow::pipeline {

struct ResultRecord {
  std::string run;
  std::string key;
  std::string text;
  sentiment::Sentiment sentiment;
  std::string engine;  // "vader" | "fasttext" | "comprehend"
  std::string item;    // the item's JSON object, compact text, numbers exact
  Millis processed_at{};
  // The run's attempt whose message made it: the results reader keeps, per (run, key), the
  // record of the highest attempt, and only among those the latest processed_at, so that a
  // re-run on a host whose clock is behind still wins over the older attempt. 1 in records
  // written before sentiflow recorded it.
  int attempt = 1;
};

// Why an item or message failed; the `code` of an error record.
namespace error_codes {
inline constexpr std::string_view kMissingKey = "missing_key";          // producer: no string key attribute
inline constexpr std::string_view kMissingText = "missing_text";        // no string text attribute (and no enrich)
inline constexpr std::string_view kTooLarge = "too_large";              // producer: body over the message limit
inline constexpr std::string_view kInvalidItem = "invalid_item";        // producer: the table gave an unusable item
inline constexpr std::string_view kBadMessage = "bad_message";          // consumer: body is not our message
inline constexpr std::string_view kEnrichFailed = "enrich_failed";      // consumer: the fetch failed
inline constexpr std::string_view kAnalysisFailed = "analysis_failed";  // consumer: the engine refused the text
inline constexpr std::string_view kSinkFailed = "sink_failed";  // Lambda: handed back after a chunk could not be stored
}  // namespace error_codes

struct ErrorRecord {
  std::string run;
  std::string key;         // empty when unknown (a body that is not JSON): written as null
  std::string message_id;  // empty for the producer's records: written as null
  int64_t receive_count = 0;
  std::string code;  // one of error_codes
  std::string reason;
  Millis at{};
};

// Appends the record as one JSON Lines line, '\n' included. A result record's strings must be
// valid UTF-8 (else Error(invalid_input) naming the field, and `out` is left as it was) and its
// item a JSON object's compact text (not checked again; an empty item is Error(internal)).
// An error record is always written: invalid UTF-8 in its strings becomes U+FFFD.
void append_jsonl(std::string& out, const ResultRecord& record);
void append_jsonl(std::string& out, const ErrorRecord& record);

// The CSV header row and one record as a row, CRLF included; throws as append_jsonl does.
void append_csv_header(std::string& out);
void append_csv(std::string& out, const ResultRecord& record);

// Parses one line written by append_jsonl ('\n' optional; members in any order, unknown ones
// ignored). Throws Error(invalid_input) naming what is wrong.
ResultRecord parse_result_jsonl(std::string_view line);
ErrorRecord parse_error_jsonl(std::string_view line);

// Parses a whole CSV object written with append_csv_header/append_csv (multi-line quoted
// fields included; bare LF line ends and a leading BOM are accepted too). The CSV keeps only
// VADER's compound: neg, neu and pos are derived back from the scores (DESIGN.md's mapping
// undone, to 3 decimals). `name` is used in error messages ("NAME, line 7: ..."). Throws
// Error(invalid_input) for a missing or different header row, a row of another width or a
// field that does not read back.
std::vector<ResultRecord> parse_result_csv(std::string_view contents, std::string_view name);

}  // namespace sentiflow::pipeline
