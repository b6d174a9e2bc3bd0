// Parsing of the URIs and names a pipeline file uses to pick backends (DESIGN.md, "Where
// it runs"). Each function throws Error(invalid_input) with what was expected. Thread-safe;
// resolve_path (and so parse_store_location) reads $HOME for "~/", nothing else is read.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "config/pipeline_config.h"

namespace sentiflow {

// The characters SQS allows in queue names, and sentiflow in pipeline names.
inline constexpr std::string_view kNameCharacters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

// `local://NAME` or `dynamodb://NAME`.
TableLocation parse_table_location(std::string_view text);
// `local://NAME`, `sqs://NAME` or `sqs://http(s)://HOST/ACCOUNT/NAME`.
QueueLocation parse_queue_location(std::string_view text);
// A path (relative to base_dir), `file:///absolute/path/` or `s3://BUCKET[/PREFIX/]`.
StoreLocation parse_store_location(std::string_view text, const std::filesystem::path& base_dir);

// SQS's rule for queue names: 1-80 of A-Z a-z 0-9 - _. FIFO queues are refused.
std::string check_queue_name(std::string_view name);
// An http(s) URL whose {attribute} placeholders are well formed.
std::string check_url_template(std::string_view text);
// An RFC 6901 JSON pointer ("" or "/a/b", with ~0 and ~1 escapes only).
std::string check_json_pointer(std::string_view text);

// `text` as an absolute, lexically normal path; relative paths are taken from base_dir.
// A leading "~/" is the user's home, as a shell would expand it.
std::filesystem::path resolve_path(std::string_view text, const std::filesystem::path& base_dir);

}  // namespace sentiflow
