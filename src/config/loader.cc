#include "config/loader.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "config/keys.h"
#include "config/locations.h"
#include "core/error.h"
#include "core/secrets.h"
#include "core/strings.h"
#include "core/time.h"
#include "core/utf8.h"
#include "core/version.h"

namespace sentiflow {

std::string ConfigIssue::to_string() const {
  std::string out = file;
  if (line > 0) out += fmt::format(":{}:{}", line, column);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

nlohmann::ordered_json ConfigIssue::to_json() const {
  nlohmann::ordered_json j = {{"file", file}, {"line", line}, {"column", column}, {"key", key}};
  if (!value.empty()) j["value"] = value;
  j["message"] = message;
  return j;
}

std::string escape_environment(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

std::string substitute_environment(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$') {
      out += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {  // "$$" escapes a dollar
      out += '$';
      ++i;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      out += '$';
      continue;
    }
    const auto close = text.find('}', i + 2);
    if (close == std::string_view::npos)
      throw invalid_input(fmt::format("'{}': '${{' at offset {} is not closed with '}}'", text, i));
    const auto reference = text.substr(i + 2, close - i - 2);
    if (reference.find("${") != std::string_view::npos)
      throw invalid_input(fmt::format("'{}': a default cannot hold another ${{...}} reference", text));
    const auto marker = reference.find(":-");
    const auto name = reference.substr(0, marker);
    const bool name_ok = !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                         name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
                             std::string_view::npos;
    if (!name_ok)
      throw invalid_input(
          fmt::format("'{}': '${{{}}}' is not a variable reference; expected ${{NAME}} or "
                      "${{NAME:-default}} (write $$ for a literal $)",
                      text, reference));
    const char* env = std::getenv(std::string(name).c_str());
    if (env != nullptr && *env != '\0') {
      out += env;
      register_secret(name, env);  // never shown again: core/secrets.h
      // The resolved file writes it escaped, as a value of the file's own (build_resolved).
      register_secret(name, escape_environment(env));
    } else if (marker != std::string_view::npos) {
      out += reference.substr(marker + 2);  // shell semantics: unset or empty takes the default
    } else if (env != nullptr) {
      out += "";  // set but empty, and no default: the empty value is what the user set
    } else {
      throw invalid_input(
          fmt::format("environment variable {} is not set (write ${{{}:-default}} to give a default)", name, name));
    }
    i = close;
  }
  return out;
}

namespace {

// Where each YAML document of a text starts, as yaml-cpp's parser sees them, stopping at the
// second. Why not YAML::LoadAll: yaml-cpp 0.7 (Debian 12) never gets past a stray flow
// indicator at the top of a file (",name: x"): it answers an empty document at the same place
// for ever, and LoadAll collects them until memory runs out. `stuck` says the parser stopped
// advancing there (found by the fuzz target fuzz/pipeline_fuzz.cc). Throws YAML::Exception.
struct DocumentStarts final : YAML::EventHandler {
  std::vector<YAML::Mark> starts;
  bool stuck = false;

  explicit DocumentStarts(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    while (starts.size() < 2 && !stuck && parser.HandleNextDocument(*this)) {}
  }
  void OnDocumentStart(const YAML::Mark& mark) override {
    stuck = !starts.empty() && starts.back().pos == mark.pos;
    if (!stuck) starts.push_back(mark);
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Walks one YAML document against the key table. Collects every issue instead of
// stopping at the first, and keeps each key's position for the checks across keys.
// Some 350 lines, because every step of a load (the walk, the defaults, the computed
// defaults, the checks across keys, the resolved file) reads the positions and canonical
// values the walk collects.
class Loader {
 public:
  Loader(std::string display_name, const std::filesystem::path& file) : display_name_(std::move(display_name)) {
    const auto absolute = std::filesystem::absolute(file).lexically_normal();
    config_.file = absolute;
    context_.base_dir = absolute.parent_path();
  }

  LoadResult load(std::string_view text) {
    text_ = text;
    if (const auto bad = find_invalid_utf8(text)) {
      const auto [line, column] = position_of(text, *bad);
      add_error(line, column, "", "", fmt::format("invalid UTF-8 at byte {}; pipeline files are UTF-8", *bad));
      return finish();
    }
    // YAML allows no C0 control character but tab, LF and CR; yaml-cpp 0.7 reads some of them
    // into other bytes (a NUL before 'N' became a lone 0x85: a fuzz finding), so they are
    // refused before it sees them.
    for (size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        const auto [line, column] = position_of(text, i);
        add_error(line, column, "", "",
                  fmt::format("a control character (0x{:02x}) at byte {}; pipeline files are text", c, i));
        return finish();
      }
    }
    YAML::Node root;
    try {
      const std::string yaml(text);
      const DocumentStarts documents(yaml);
      if (documents.stuck) {
        const YAML::Mark& at = documents.starts.back();
        const size_t where = std::min(yaml.find_first_not_of(" \t\r\n", static_cast<size_t>(at.pos)), yaml.size() - 1);
        add_error(
            at, "", "",
            fmt::format("YAML syntax error: unexpected '{}' outside a [...] or {{...}} list", yaml.substr(where, 1)));
        return finish();
      }
      if (documents.starts.size() > 1) {
        add_error(documents.starts[1], "", "", "a pipeline file holds one YAML document; remove the second '---'");
        return finish();
      }
      if (!documents.starts.empty()) root = YAML::Load(yaml);
    } catch (const YAML::Exception& e) {
      add_error(e.mark, "", "", fmt::format("YAML syntax error: {}", e.msg));
      return finish();
    }
    if (!root || root.IsNull()) {
      add_error(0, 0, "", "",
                "the file is empty; a pipeline needs at least `name` and `source` (see docs/PIPELINE.md)");
      return finish();
    }
    if (!root.IsMap()) {
      add_error(root.Mark(), "", "", "the file must be a mapping of keys (name:, source:, ...)");
      return finish();
    }
    walk_section(root, "", root.Mark());
    config_.lambda.timeout_set = explicit_key("lambda.timeout");
    fill_computed_defaults();
    check_across_keys();
    return finish();
  }

 private:
  // Line and column (in bytes, from 1) of a byte offset.
  static std::pair<int, int> position_of(std::string_view text, size_t offset) {
    int line = 1, column = 1;
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
      if (text[i] == '\n')
        ++line, column = 1;
      else
        ++column;
    }
    return {line, column};
  }

  // yaml-cpp counts columns in bytes; editors count characters. Converts a 0-based byte
  // column of a 0-based line into a 1-based character column.
  int character_column(int line, int byte_column) const {
    size_t start = 0;
    for (int l = 0; l < line && start != std::string_view::npos; ++l) {
      start = text_.find('\n', start);
      if (start != std::string_view::npos) ++start;
    }
    if (start == std::string_view::npos) return byte_column + 1;
    int column = 1;
    for (size_t i = start; i < start + static_cast<size_t>(byte_column) && i < text_.size() && text_[i] != '\n'; ++i)
      if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) ++column;  // not a continuation byte
    return column;
  }
  void add_error(int line, int column, std::string key, std::string value, std::string message) {
    result_.errors.push_back({display_name_, line, column, std::move(key), std::move(value), std::move(message)});
  }
  void add_error(const YAML::Mark& mark, std::string key, std::string value, std::string message) {
    add_error(mark.is_null() ? 0 : mark.line + 1, mark.is_null() ? 0 : character_column(mark.line, mark.column),
              std::move(key), std::move(value), std::move(message));
  }
  // Issues about a key that may come from a default: point at the key when it is in the file.
  // A key left out (its default is at fault, or it is missing) is pointed at by its section.
  void issue_at(std::vector<ConfigIssue>& list, const std::string& key, std::string message) {
    std::string anchor = key;
    auto it = marks_.find(anchor);
    while (it == marks_.end() && anchor.find('.') != std::string::npos) {
      anchor = anchor.substr(0, anchor.rfind('.'));
      it = marks_.find(anchor);
    }
    const YAML::Mark mark = it != marks_.end() ? it->second : YAML::Mark::null_mark();
    list.push_back({display_name_, mark.is_null() ? 0 : mark.line + 1,
                    mark.is_null() ? 0 : character_column(mark.line, mark.column), key,
                    canonical_.count(key) ? canonical_[key] : "", std::move(message)});
  }

  // "?" and "!" are what yaml-cpp gives untagged plain and quoted nodes; a standard
  // scalar tag (!!str, !!int) changes nothing here, anything else would be ignored silently.
  static bool has_custom_tag(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    return !(tag.empty() || tag == "?" || tag == "!" || tag.starts_with("tag:yaml.org,2002:"));
  }

  static std::string node_kind(const YAML::Node& node) {
    if (node.IsSequence()) return "a list";
    if (node.IsMap()) return "a mapping";
    if (node.IsNull()) return "nothing";
    return "'" + node.Scalar() + "'";
  }

  static std::string join_path(const std::string& prefix, const std::string& leaf) {
    return prefix.empty() ? leaf : prefix + "." + leaf;
  }

  std::string unknown_key_message(const std::string& parent, const std::string& leaf) {
    std::vector<std::string> siblings;
    for (const auto& spec : pipeline_keys())
      if (spec.parent() == parent) siblings.emplace_back(spec.leaf());
    const std::string where = parent.empty() ? "at the top level" : "in " + parent;
    if (const auto guess = closest_match(leaf, siblings))
      return fmt::format("unknown key '{}' {}; did you mean '{}'?", leaf, where, *guess);
    for (const auto& spec : pipeline_keys())  // the right key in the wrong section
      if (spec.leaf() == leaf) return fmt::format("unknown key '{}' {}; did you mean '{}'?", leaf, where, spec.path);
    std::string known;
    for (const auto& s : siblings) known += (known.empty() ? "" : ", ") + s;
    return fmt::format("unknown key '{}' {}; known keys: {}", leaf, where, known);
  }

  void walk_section(const YAML::Node& map, const std::string& prefix, const YAML::Mark& section_mark) {
    std::set<std::string> seen;
    for (const auto& entry : map) {
      const YAML::Node& key_node = entry.first;
      const YAML::Node& value_node = entry.second;
      if (!key_node.IsScalar()) {
        add_error(key_node.Mark(), prefix, "", "a key must be a plain name");
        continue;
      }
      const std::string leaf = key_node.Scalar();
      const std::string path = join_path(prefix, leaf);
      if (leaf == "<<") {
        add_error(key_node.Mark(), prefix, "", "YAML merge keys (<<) are not supported; write the keys out");
        continue;
      }
      if (has_custom_tag(value_node)) {
        add_error(value_node.Mark(), path, "", fmt::format("YAML tags ({}) are not supported", value_node.Tag()));
        failed_.insert(path);
        continue;
      }
      if (!seen.insert(leaf).second) {
        add_error(key_node.Mark(), path, "", "duplicate key; each key may appear once");
        continue;
      }
      const KeySpec* spec = find_key(path);
      if (spec == nullptr) {
        add_error(key_node.Mark(), path, "", unknown_key_message(prefix, leaf));
        continue;
      }
      // Values are pointed at where they are; sections where their key is.
      const bool at_key = value_node.IsNull() || spec->kind == KeySpec::Kind::section;
      marks_[path] = at_key ? key_node.Mark() : value_node.Mark();
      if (spec->kind == KeySpec::Kind::section) {
        if (!value_node.IsMap() && !value_node.IsNull()) {
          add_error(value_node.Mark(), path, value_node.IsScalar() ? value_node.Scalar() : "",
                    fmt::format("expected a mapping of keys, got {}", node_kind(value_node)));
          failed_.insert(path);
          continue;
        }
        present_.insert(path);
        enter_section(*spec, value_node.IsMap() ? value_node : YAML::Node(YAML::NodeType::Map), key_node.Mark());
        continue;
      }
      apply_value(*spec, value_node);
    }
    apply_defaults(prefix, section_mark);
  }

  void enter_section(const KeySpec& spec, const YAML::Node& map, const YAML::Mark& mark) {
    if (spec.enter) spec.enter(config_);
    walk_section(map, spec.path, mark);
  }

  void apply_value(const KeySpec& spec, const YAML::Node& node) {
    const std::string expected = fmt::format("expected {} ({})", spec.type, spec.allowed);
    std::string raw;
    if (spec.type == kLabelMapType && node.IsMap()) {
      for (const auto& entry : node) {
        if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
          add_error(entry.first.Mark(), spec.path, "", fmt::format("{}, got a nested value", expected));
          failed_.insert(spec.path);
          return;
        }
        raw += fmt::format("{}{}={}", raw.empty() ? "" : ", ", entry.first.Scalar(), entry.second.Scalar());
      }
    } else if (node.IsScalar()) {
      raw = node.Scalar();
    } else {
      add_error(node.Mark(), spec.path, "", fmt::format("{}, got {}", expected, node_kind(node)));
      failed_.insert(spec.path);
      return;
    }
    try {
      const std::string text(trim(substitute_environment(raw)));
      if (const auto bad = find_invalid_utf8(text))  // a variable's value, or a YAML escape
        throw invalid_input(fmt::format("the value is not UTF-8 (invalid byte at {})", *bad));
      // A NUL would cut the value short for the operating system (paths) and for messages;
      // other control characters are always a mistake in a setting.
      for (const char c : text)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t')
          throw invalid_input(
              fmt::format("the value holds a control character (0x{:02x}); remove it", static_cast<int>(c)));
      canonical_[spec.path] = spec.apply(config_, text, context_);
      present_.insert(spec.path);
    } catch (const Error& e) {
      add_error(node.Mark(), spec.path, raw, e.what());
      failed_.insert(spec.path);
    }
  }

  // The defaults of the keys a section left out, and of the sections it left out.
  void apply_defaults(const std::string& prefix, const YAML::Mark& section_mark) {
    for (const auto& spec : pipeline_keys()) {
      if (spec.parent() != prefix || present_.count(spec.path) || failed_.count(spec.path)) continue;
      if (spec.kind == KeySpec::Kind::section) {
        if (spec.presence == KeySpec::Presence::required)
          add_error(section_mark, spec.path, "", fmt::format("required section is missing: {}", spec.doc));
        else if (spec.presence == KeySpec::Presence::defaulted)
          enter_section(spec, YAML::Node(YAML::NodeType::Map), section_mark);
        continue;
      }
      if (spec.required) {
        add_error(section_mark, spec.path, "", fmt::format("required key is missing: {}", spec.doc));
        failed_.insert(spec.path);
      } else if (!spec.default_text.empty() && !spec.default_computed) {
        canonical_[spec.path] = spec.apply(config_, spec.default_text, context_);
      }
    }
  }

  bool has(const std::string& path) const { return canonical_.count(path) > 0; }
  bool explicit_key(const std::string& path) const { return present_.count(path) > 0; }

  void set_computed(const std::string& path, const std::string& text) {
    try {
      canonical_[path] = find_key(path)->apply(config_, text, context_);
    } catch (const Error& e) {
      issue_at(result_.errors, path,
               fmt::format("the default '{}' does not work here: {}; set {} yourself", text, e.what(), path));
      failed_.insert(path);
    }
  }

  void fill_computed_defaults() {
    if (!has("queue.url") && !failed_.count("queue.url") && has("name"))
      set_computed("queue.url", "local://" + config_.name);
    if (!has("queue.dead_letter") && !failed_.count("queue.dead_letter") && has("queue.url"))
      set_computed("queue.dead_letter", config_.queue.url.name + "-dlq");
    if (!has("consumer.concurrency.max") && !failed_.count("consumer.concurrency.max")) {
      const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      set_computed("consumer.concurrency.max",
                   std::to_string(std::clamp(std::max(cores, config_.consumer.min_concurrency), 1, 1000)));
    }
    if (!has("lambda.timeout") && !failed_.count("lambda.timeout") && has("queue.visibility_timeout")) {
      // AWS advises a queue visibility of six times the function timeout for SQS triggers.
      const auto vt = std::chrono::duration_cast<std::chrono::seconds>(config_.queue.visibility_timeout).count();
      set_computed("lambda.timeout", fmt::format("{}s", std::clamp<int64_t>(vt / 6, 1, 900)));
    }
    if (config_.consumer.enrich && !has("consumer.enrich.user_agent"))
      set_computed("consumer.enrich.user_agent", fmt::format("sentiflow/{}", kVersion));
  }

  void check_across_keys() {
    auto& errors = result_.errors;
    auto& warnings = result_.warnings;
    if (!explicit_key("source.text") && !failed_.count("source.text") && !config_.consumer.enrich &&
        present_.count("source"))
      issue_at(errors, "source.text",
               "required unless consumer.enrich fetches the text: name the attribute holding the text");
    if (config_.source.seed && has("source.table")) {
      if (config_.source.table.backend != TableLocation::Backend::local)
        issue_at(errors, "source.seed", "a seed loads local tables only; load a DynamoDB table with its own tools");
      else if (!std::filesystem::is_regular_file(*config_.source.seed))
        issue_at(errors, "source.seed", fmt::format("file not found: {}", config_.source.seed->string()));
    }
    if (has("consumer.concurrency.min") && has("consumer.concurrency.max") &&
        config_.consumer.min_concurrency > config_.consumer.max_concurrency)
      issue_at(errors, "consumer.concurrency.min",
               fmt::format("min ({}) is greater than max ({})", config_.consumer.min_concurrency,
                           config_.consumer.max_concurrency));
    if (has("sentiment.engine") && has("sentiment.language") && config_.sentiment.engine == SentimentEngine::vader &&
        config_.sentiment.language != "en")
      issue_at(errors, "sentiment.language",
               fmt::format("the vader engine analyses English only; use engine: comprehend for '{}'",
                           config_.sentiment.language));
    if (has("sentiment.engine") && config_.sentiment.engine == SentimentEngine::fasttext) {
      if (has("sentiment.model") && config_.sentiment.model != "builtin" &&
          !std::filesystem::is_regular_file(config_.sentiment.model))
        issue_at(errors, "sentiment.model", fmt::format("file not found: {}", config_.sentiment.model));
      if (has("sentiment.language") && config_.sentiment.language != "en" && config_.sentiment.model == "builtin")
        issue_at(warnings, "sentiment.language",
                 fmt::format("the built-in fastText model was trained on English reviews; train one for '{}' "
                             "(sentiflow train) and name it in sentiment.model",
                             config_.sentiment.language));
    } else if (has("sentiment.engine")) {
      // Only a value other than the default: a resolved file writes every key.
      for (const char* key : {"sentiment.model", "sentiment.labels", "sentiment.neutral_threshold"})
        if (explicit_key(key) && canonical_.at(key) != find_key(key)->default_text)
          issue_at(warnings, key, "applies to engine: fasttext only; this pipeline's engine ignores it");
    }
    if (has("queue.url") && has("queue.dead_letter") && config_.queue.dead_letter == config_.queue.url.name)
      issue_at(errors, "queue.dead_letter", "the dead-letter queue must not be the queue itself");
    const bool on_sqs = has("queue.url") && config_.queue.url.backend == QueueLocation::Backend::sqs;
    if (on_sqs) {
      const std::pair<const char*, Duration> whole_seconds[] = {
          {"queue.visibility_timeout", config_.queue.visibility_timeout},
          {"queue.retention", config_.queue.retention},
          {"consumer.batch_window", config_.consumer.batch_window}};
      for (const auto& [key, d] : whole_seconds)
        if (has(key) && d.count() % 1000 != 0)
          issue_at(errors, key, fmt::format("{} is not whole seconds, as SQS and Lambda require", format_duration(d)));
      if (!explicit_key("lambda.timeout") && has("queue.visibility_timeout") &&
          config_.queue.visibility_timeout < std::chrono::seconds{1})
        issue_at(warnings, "queue.visibility_timeout",
                 "a visibility timeout under 1s is shorter than any Lambda timeout: AWS refuses an SQS trigger for it");
      if (config_.consumer.batch_size > 10 && config_.consumer.batch_window < std::chrono::seconds{1})
        issue_at(warnings, "consumer.batch_size",
                 "Lambda's SQS trigger takes more than 10 messages per batch only with a batch_window of at least 1s");
      if (explicit_key("queue.durability"))
        issue_at(warnings, "queue.durability",
                 "with an SQS queue, durability only decides whether a folder sink fsyncs its objects");
    }
    if (explicit_key("lambda.timeout") && has("queue.visibility_timeout") &&
        config_.lambda.timeout > config_.queue.visibility_timeout)
      issue_at(errors, "lambda.timeout",
               fmt::format("{}s is longer than queue.visibility_timeout ({}); AWS refuses an SQS trigger whose "
                           "function may outlive the visibility timeout",
                           config_.lambda.timeout.count(), format_duration(config_.queue.visibility_timeout)));
    // Messages gathered while a batch fills are in flight already: a window as long as the
    // visibility timeout would hand them to a second consumer before the first one starts
    // (AWS asks for a visibility timeout above the function timeout plus the window, too).
    if (has("consumer.batch_window") && has("queue.visibility_timeout") &&
        config_.queue.visibility_timeout > Duration{0} &&
        config_.consumer.batch_window * 2 >= config_.queue.visibility_timeout)
      issue_at(errors, "consumer.batch_window",
               fmt::format("{} is not less than half of queue.visibility_timeout ({}): messages would be delivered "
                           "again while their batch is still filling",
                           format_duration(config_.consumer.batch_window),
                           format_duration(config_.queue.visibility_timeout)));
    if (has("queue.visibility_timeout") && config_.queue.visibility_timeout == Duration{0})
      issue_at(warnings, "queue.visibility_timeout",
               "0s: a received message is visible again at once, so every message may be handled more than once "
               "(`sentiflow run` refuses it with more than one worker: consumer.concurrency.max above 1)");
    if (config_.schedule && !config_.schedule->next_fire_time(now_seconds()))
      issue_at(warnings, "schedule", "the schedule never fires again after now: runs start only by hand");
    if (config_.observe.listen) {
      const auto& host = config_.observe.listen->host;
      if (host != "localhost" && host != "::1" && host.rfind("127.", 0) != 0)
        issue_at(
            warnings, "observe.listen",
            fmt::format("{} serves metrics and the dashboard beyond this machine", config_.observe.listen->text()));
    }
  }

  nlohmann::ordered_json build_resolved() const {
    nlohmann::ordered_json root = nlohmann::ordered_json::object();
    for (const auto& spec : pipeline_keys()) {
      const auto it = canonical_.find(spec.path);
      if (spec.kind == KeySpec::Kind::section || it == canonical_.end()) continue;
      // Under 1s of visibility no Lambda timeout fits (a warning says so): the computed 1s is a
      // placeholder, and written out it would make the resolved file refuse itself.
      if (spec.path == "lambda.timeout" && !explicit_key(spec.path) &&
          config_.queue.visibility_timeout < std::chrono::seconds{1})
        continue;
      nlohmann::ordered_json* node = &root;
      for (const auto part : split(spec.parent(), '.'))
        if (!part.empty()) node = &(*node)[std::string(part)];
      auto& slot = (*node)[std::string(spec.leaf())];
      if (spec.type == "integer")
        slot = std::stoll(it->second);
      else if (spec.type == "number")
        slot = std::stod(it->second);
      else
        slot = escape_environment(it->second);  // read again, "$$" is the "$" it holds
    }
    return root;
  }

  LoadResult finish() {
    if (result_.errors.empty()) {
      result_.resolved = build_resolved();
      result_.config = std::move(config_);
    }
    std::stable_sort(result_.errors.begin(), result_.errors.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    return std::move(result_);
  }

  std::string display_name_;
  std::string_view text_;  // the file's text, for character columns
  LoadContext context_;
  PipelineConfig config_;
  LoadResult result_;
  std::map<std::string, YAML::Mark> marks_;       // where each key's value is in the file
  std::map<std::string, std::string> canonical_;  // every key with a value, canonical text
  std::set<std::string> present_;                 // keys and sections written in the file
  std::set<std::string> failed_;                  // keys whose value was refused
};

}  // namespace

LoadResult load_pipeline_text(std::string_view yaml, const std::filesystem::path& file) {
  return Loader(file.string(), file).load(yaml);
}

LoadResult load_pipeline(const std::filesystem::path& file) {
  // A pipeline file is a few KiB; a limit keeps /dev/zero or a wrong path from eating memory.
  constexpr uintmax_t kMaxFileBytes = 1 << 20;
  const auto refuse = [&](std::string message) {
    LoadResult result;
    result.errors.push_back({file.string(), 0, 0, "", "", std::move(message)});
    return result;
  };
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(status)) return refuse("no such file");
  if (!std::filesystem::is_regular_file(status)) return refuse("not a regular file");
  if (std::filesystem::file_size(file, ec) > kMaxFileBytes) return refuse("larger than 1 MiB: not a pipeline file");
  std::ifstream in(file, std::ios::binary);
  if (!in) return refuse("cannot read the file (check its permissions)");
  std::ostringstream text;
  text << in.rdbuf();
  return load_pipeline_text(text.str(), file);
}

PipelineConfig load_pipeline_or_throw(const std::filesystem::path& file) {
  LoadResult result = load_pipeline(file);
  if (!result.ok()) {
    std::string message;
    for (const auto& issue : result.errors) message += (message.empty() ? "" : "\n") + issue.to_string();
    throw invalid_input(message);
  }
  return std::move(*result.config);
}

}  // namespace sentiflow
