// The queue message body (DESIGN.md, "Message body"): what the producer sends and the
// consumer reads, on every backend.
//
//   {"v": 1, "run": "2026-11-26T06:00:00Z", "key": "Netflix", "item": {...}}
//   {"v": 1, "run": ..., "attempt": 2, "key": ..., "fp": "<32 hex>", "item": {...}}  (attempt 2 on,
//                                                          an incremental scan's fingerprint)
//
// The item is the table item's JSON text, embedded as it is, so its numbers keep their exact
// decimal text. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace sentiflow::pipeline {

inline constexpr int kMessageVersion = 1;

struct Message {
  std::string run;
  int attempt = 1;  // the run's attempt that sent it (RunRecord::attempt): the results' dedupe
  std::string key;
  std::string item;  // the item's JSON object, compact text
  // The fingerprint of what the result is made of (the text, or the enrich inputs) when the
  // producer scans incrementally ("fp"); empty otherwise. The consumer records it with the
  // stored result (state/run_state.h, FingerprintLog).
  std::string fingerprint{};
};

// The body for `item` (a JSON object's text, as a table returns it; not checked again).
// Throws Error(invalid_input) when run or key is not valid UTF-8.
// `attempt` is written as "attempt" from 2 on; a body without it is of attempt 1 (so that the
// messages of a first attempt, and those of an older producer, read the same).
// `fingerprint`, when not empty, is written as "fp" (32 hex digits, as the producer makes them).
std::string encode_message(std::string_view run, std::string_view key, std::string_view item, int attempt = 1,
                           std::string_view fingerprint = {});

// Reads a body. Throws Error(invalid_input) with a reason a user can act on when the body is
// not a JSON object, has another "v", has an "attempt" that is not a whole number from 1, or
// lacks a string "run" that is a run id (check_run_id,
// state/run_state.h: the rule the producer's ids follow), a non-empty string "key" or an
// object "item" (a poison message: the consumer turns it into an error record).
// An "fp" that is not a string of 1 to 64 hex digits is ignored (the result is stored, its
// fingerprint not recorded: the next incremental scan sends the item again). Other members are
// ignored. The item is returned as compact text, numbers as written.
Message decode_message(std::string_view body);

}  // namespace sentiflow::pipeline
