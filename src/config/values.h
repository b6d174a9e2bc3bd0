// Typed values of the pipeline file: durations, sizes, URLs and listen addresses.
//
// Each parse_* function accepts the text a user writes and throws Error(invalid_input)
// with a message saying what was expected; each format_* function gives the canonical text
// back, so that a resolved config can be written out and read in again. Pure, thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace sentiflow {

using Duration = std::chrono::milliseconds;

// "250ms", "30s", "5m", "1h", "4d", or "0". A number without a unit is refused: "30"
// could mean seconds or milliseconds, and guessing wrong is a silent bug.
Duration parse_duration(std::string_view text);
// The largest unit that represents `d` exactly: 30000ms -> "30s", 90s -> "90s".
std::string format_duration(Duration d);

// "256KiB", "1MiB", "1024" or "1024B". Binary units only: SQS counts KiB, and "KB"
// is refused with a hint rather than guessed.
uint64_t parse_size(std::string_view text);
std::string format_size(uint64_t bytes);

// An absolute http(s) URL, split into its parts. Parsing checks the shape, not the host.
struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;   // 0 when the URL names none
  std::string path;    // "/..." or empty
  std::string text;    // the URL as given
};
Url parse_http_url(std::string_view text);

// "127.0.0.1:9464", "localhost:9464", "[::1]:9464", "0.0.0.0:9464".
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
  std::string text() const;
};
ListenAddress parse_listen_address(std::string_view text);

// sentiment.labels: "LABEL=CLASS, LABEL=CLASS" -> LABEL -> CLASS, CLASS one of POSITIVE,
// NEGATIVE, NEUTRAL, MIXED (any case in, upper case out). A LABEL is a model's label, with or
// without fastText's "__label__". Throws Error(invalid_input) for a malformed item, an unknown
// class, a label mapped twice or an empty map.
std::map<std::string, std::string> parse_label_map(std::string_view text);
// The canonical text parse_label_map reads back: "LABEL=CLASS, ..." in the map's order.
std::string format_label_map(const std::map<std::string, std::string>& labels);

}  // namespace sentiflow
