#include "cli/labelled_texts.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "core/error.h"
#include "core/utf8.h"

namespace sentiflow::cli {

using sentiment::LabelledText;

// A label as the model holds it: 0 and 1 are NEGATIVE and POSITIVE (as SST-2 writes them), a
// name is lower-cased; a label must be a plain token, since fastText reads "__label__NAME".
std::string model_label(std::string_view raw, std::string_view where) {
  if (raw == "0") return "negative";
  if (raw == "1") return "positive";
  std::string label;
  for (const char c : raw) {
    const bool plain =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!plain)
      throw invalid_input(
          fmt::format("{}: label '{}' is not a plain name (letters, digits, _ and -) nor 0/1", where, raw));
    label.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (label.empty()) throw invalid_input(fmt::format("{}: the label is empty", where));
  return label;
}

namespace {

void check_text(std::string_view text, std::string_view where) {
  if (const auto bad = find_invalid_utf8(text))
    throw invalid_input(fmt::format("{}: invalid UTF-8 at byte {}", where, *bad));
}

// TEXT<TAB>LABEL lines (the last tab splits them), an optional header whose label is "label".
std::vector<LabelledText> read_tsv(const std::string& file, std::string_view contents) {
  std::vector<LabelledText> texts;
  size_t line_number = 0;
  for (size_t start = 0; start < contents.size();) {
    size_t end = contents.find('\n', start);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::string where = fmt::format("{}:{}", file, line_number);
    const auto tab = line.rfind('\t');
    if (tab == std::string_view::npos) throw invalid_input(fmt::format("{}: expected TEXT<TAB>LABEL", where));
    const std::string_view label = line.substr(tab + 1);
    if (line_number == 1 && (label == "label" || label == "LABEL")) continue;  // the header
    check_text(line, where);
    texts.push_back({std::string(line.substr(0, tab)), model_label(label, where), line_number});
  }
  return texts;
}

std::string attribute_text(const nlohmann::json& item, const std::string& name, std::string_view what,
                           std::string_view where) {
  const auto it = item.find(name);
  if (it == item.end()) throw invalid_input(fmt::format("{}: no attribute '{}' ({})", where, name, what));
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  throw invalid_input(fmt::format("{}: attribute '{}' ({}) is {}, not a string", where, name, what, it->type_name()));
}

}  // namespace

LabelledText labelled_item(std::string_view json, const std::string& text_attribute, const std::string& label_attribute,
                           std::string_view where, size_t line) {
  nlohmann::json item;
  try {
    item = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    throw invalid_input(fmt::format("{}: not JSON: {}", where, e.what()));
  }
  if (!item.is_object()) throw invalid_input(fmt::format("{}: not a JSON object", where));
  std::string text = attribute_text(item, text_attribute, "--text", where);
  check_text(text, where);
  return {std::move(text), model_label(attribute_text(item, label_attribute, "--label", where), where), line};
}

namespace {

std::vector<LabelledText> read_jsonl(const std::string& file, std::string_view contents,
                                     const std::string& text_attribute, const std::string& label_attribute) {
  if (text_attribute.empty() || label_attribute.empty())
    throw invalid_input(fmt::format("{}: JSON Lines need --text ATTR and --label ATTR", file));
  std::vector<LabelledText> texts;
  size_t line_number = 0;
  for (size_t start = 0; start < contents.size();) {
    size_t end = contents.find('\n', start);
    if (end == std::string_view::npos) end = contents.size();
    const std::string_view line = contents.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    texts.push_back(
        labelled_item(line, text_attribute, label_attribute, fmt::format("{}:{}", file, line_number), line_number));
  }
  return texts;
}

}  // namespace

std::vector<LabelledText> read_labelled_file(const std::string& file, const std::string& text_attribute,
                                             const std::string& label_attribute) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw invalid_input(fmt::format("cannot read '{}'", file));
  const std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const bool jsonl = file.ends_with(".jsonl") || file.ends_with(".json") || file.ends_with(".ndjson");
  auto texts = jsonl ? read_jsonl(file, contents, text_attribute, label_attribute) : read_tsv(file, contents);
  if (texts.empty()) throw invalid_input(fmt::format("{}: no labelled texts", file));
  return texts;
}

}  // namespace sentiflow::cli
