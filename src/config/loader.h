// Loading a pipeline file: YAML -> ${VAR} substitution -> checks against the key table
// (config/keys.h) -> a validated PipelineConfig.
//
// A file is checked whole: every problem is collected with its file, line, column and
// key path, so the user fixes them all in one go. Loading only reads; it is thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/pipeline_config.h"

namespace sentiflow {

// One problem in a pipeline file. Line and column count from 1; 0 when unknown.
struct ConfigIssue {
  std::string file;
  int line = 0;
  int column = 0;
  std::string key;      // dotted path, e.g. "queue.visibility_timeout"; "" for the document
  std::string value;    // the offending value as written, when there is one
  std::string message;  // what is wrong and what is expected

  // "pipeline.yaml:5:22: queue.visibility_timeout: '30x' is not a duration; ..."
  std::string to_string() const;
  nlohmann::ordered_json to_json() const;
};

struct LoadResult {
  std::optional<PipelineConfig> config;  // set exactly when errors is empty
  // The resolved config in the file's own shape (canonical values, defaults filled in,
  // absolute paths); itself a valid pipeline file. Empty when there are errors.
  nlohmann::ordered_json resolved;
  std::vector<ConfigIssue> errors;
  std::vector<ConfigIssue> warnings;  // valid, but probably not what the user meant

  bool ok() const { return errors.empty(); }
};

// Reads and checks `file`. Never throws for problems in the file: they are in errors.
LoadResult load_pipeline(const std::filesystem::path& file);

// Checks `yaml` as if it were the content of `file` (whose folder anchors relative paths).
LoadResult load_pipeline_text(std::string_view yaml, const std::filesystem::path& file);

// load_pipeline for callers that only go on with a valid file: throws Error(invalid_input)
// whose message lists every error, one per line.
PipelineConfig load_pipeline_or_throw(const std::filesystem::path& file);

// Replaces ${VAR} and ${VAR:-default} with the environment's values; "$$" is a literal "$".
// Throws Error(invalid_input) for an unset variable without a default or a malformed reference.
std::string substitute_environment(std::string_view text);

// The text as a pipeline value that substitutes back to itself: every "$" written "$$".
std::string escape_environment(std::string_view text);

}  // namespace sentiflow
