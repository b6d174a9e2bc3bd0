// The table of pipeline-file keys: the one place that says what a key means, its type,
// range and default. The validator (config/loader.h) walks a file against it and
// docs/PIPELINE.md is generated from it (`sentiflow validate --reference`), so the two
// cannot drift apart. The table is built once and read-only afterwards: thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "config/pipeline_config.h"

namespace sentiflow {

// What a key's apply function may need besides the value.
struct LoadContext {
  std::filesystem::path base_dir;  // the pipeline file's folder, for relative paths
};

struct KeySpec {
  enum class Kind { section, value };
  // For sections: whether the section must be there, is filled with defaults when absent,
  // or switches a feature on by its presence (consumer.enrich).
  enum class Presence { required, defaulted, optional };

  std::string path;  // "queue.visibility_timeout"
  Kind kind = Kind::value;
  Presence presence = Presence::defaulted;
  std::string type;               // shown in the docs: "duration", "integer", ...
  std::string default_text;       // written as in a file; empty: no default (the value stays unset)
  bool default_computed = false;  // default_text describes a rule applied after loading
  bool required = false;
  std::string allowed;  // "0s-12h", "latest | none", ...
  std::string doc;

  // Stores the value (already trimmed and ${VAR}-substituted) into the config and returns
  // its canonical text. Throws Error(invalid_input) saying what is wrong and expected.
  std::function<std::string(PipelineConfig&, std::string_view, const LoadContext&)> apply;
  // Sections: called when the section is present (or defaulted), before its keys.
  std::function<void(PipelineConfig&)> enter;

  // "visibility_timeout" for "queue.visibility_timeout".
  std::string_view leaf() const;
  // "queue" for "queue.visibility_timeout", "" for top-level keys.
  std::string_view parent() const;
};

// The type of a key whose value may be a YAML mapping (sentiment.labels): the loader gives its
// apply function the mapping as "KEY=VALUE, ..." text.
inline constexpr const char* kLabelMapType = "label map";

// Every key in document order, sections before their keys.
const std::vector<KeySpec>& pipeline_keys();
// The key with this dotted path, or nullptr.
const KeySpec* find_key(std::string_view path);

// The Markdown reference of every key: one table per section.
std::string render_reference_markdown();

}  // namespace sentiflow
