#include "sentiment/fasttext.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <set>

#include "core/error.h"
#include "core/strings.h"
#include "core/utf8.h"
#include "sentiment/embedded_model.h"
#include "sentiment/fasttext_text.h"
#include "sentiment/python_text.h"

namespace sentiflow::sentiment {
namespace {

constexpr std::string_view kLabelPrefix = "__label__";

std::string_view without_prefix(std::string_view label) {
  return label.starts_with(kLabelPrefix) ? label.substr(kLabelPrefix.size()) : label;
}

// label_named, or one of its common short forms.
std::optional<Label> class_named(std::string_view name) {
  if (const auto label = label_named(name)) return label;
  const std::string lower = to_lower_ascii(name);
  if (lower == "pos") return Label::positive;
  if (lower == "neg") return Label::negative;
  if (lower == "neu") return Label::neutral;
  return std::nullopt;
}

std::optional<int> small_number(std::string_view name) {
  int n = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
  if (ec != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return n;
}

}  // namespace

std::vector<Label> map_fasttext_labels(const std::vector<std::string>& labels,
                                       const std::map<std::string, Label>& overrides) {
  for (const auto& override_entry : overrides) {
    const std::string& name = override_entry.first;  // not a structured binding: clang 14 cannot capture one
    const bool known = std::any_of(labels.begin(), labels.end(),
                                   [&](const std::string& l) { return l == name || without_prefix(l) == name; });
    if (!known)
      throw invalid_input(fmt::format("sentiment.labels names '{}', which is not a label of the model (its labels: {})",
                                      name, fmt::join(labels, ", ")));
  }
  std::vector<std::optional<int>> numbers;
  for (const auto& l : labels) numbers.push_back(small_number(without_prefix(l)));
  const bool zero_one = labels.size() == 2 && std::set<std::optional<int>>(numbers.begin(), numbers.end()) ==
                                                  std::set<std::optional<int>>{0, 1};
  const bool stars = labels.size() >= 3 &&
                     std::all_of(numbers.begin(), numbers.end(), [](const auto& n) { return n && *n >= 1 && *n <= 5; });
  std::vector<Label> classes;
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string_view name = without_prefix(labels[i]);
    std::optional<Label> c;
    if (auto it = overrides.find(labels[i]); it != overrides.end())
      c = it->second;
    else if (auto bare = overrides.find(std::string(name)); bare != overrides.end())
      c = bare->second;
    else if (zero_one)
      c = *numbers[i] == 1 ? Label::positive : Label::negative;
    else if (stars)
      c = *numbers[i] <= 2 ? Label::negative : *numbers[i] == 3 ? Label::neutral : Label::positive;
    else
      c = class_named(name);
    if (!c)
      throw invalid_input(fmt::format(
          "the model's label '{}' is none of positive, negative, neutral, mixed (nor 0/1, nor stars 1-5): map it "
          "with sentiment.labels (e.g. \"{}=POSITIVE\")",
          labels[i], name));
    classes.push_back(*c);
  }
  return classes;
}

std::shared_ptr<const FastTextModel> builtin_fasttext_model() {
  static const std::shared_ptr<const FastTextModel> model =
      FastTextModel::from_bytes(std::string(builtin_fasttext_model_bytes()), "the built-in model");
  return model;
}

FastTextAnalyzer::FastTextAnalyzer(const Options& options)
    : FastTextAnalyzer(options.model == kBuiltinModel ? builtin_fasttext_model() : FastTextModel::load(options.model),
                       options) {}

FastTextAnalyzer::FastTextAnalyzer(std::shared_ptr<const FastTextModel> model, const Options& options)
    : model_(std::move(model)),
      classes_(map_fasttext_labels(model_->labels(), options.labels)),
      neutral_threshold_(options.neutral_threshold) {
  if (!(neutral_threshold_ >= 0.5 && neutral_threshold_ <= 1))
    throw invalid_input(
        fmt::format("the neutral threshold {} is outside 0.5-1 (0.5: never NEUTRAL by the rule)", neutral_threshold_));
  has_neutral_ = std::find(classes_.begin(), classes_.end(), Label::neutral) != classes_.end();
}

Sentiment FastTextAnalyzer::classify_tokens(std::string_view tokens) const {
  if (tokens.find_first_not_of(' ') == std::string_view::npos) {  // an empty or blank document says nothing
    Sentiment s;
    s.scores.neutral = 1;
    return s;
  }
  std::array<float, 64> small{};
  std::vector<float> large;
  std::span<float> p(small.data(), classes_.size());
  if (classes_.size() > small.size()) {
    large.resize(classes_.size());
    p = large;
  }
  model_->predict(tokens, p);
  std::array<double, 4> score{};  // positive, negative, neutral, mixed: Label's order
  double total = 0;
  for (size_t i = 0; i < classes_.size(); ++i) {
    score[static_cast<size_t>(classes_[i])] += p[i];
    total += p[i];
  }
  Sentiment s;
  if (!std::isfinite(total))  // finite weights whose sums overflow on this text
    throw invalid_input("the model's probabilities for this text are not numbers (its weights overflow)");
  if (!(total > 0)) {  // no prediction at all: nothing to say
    s.label = Label::neutral;
    s.scores.neutral = 1;
    return s;
  }
  for (double& x : score) x /= total;
  const auto top = static_cast<size_t>(std::max_element(score.begin(), score.end()) - score.begin());
  s.label = static_cast<Label>(top);
  if (!has_neutral_ && score[top] < neutral_threshold_) s.label = Label::neutral;
  s.scores = {python_text::round(score[0], 4), python_text::round(score[1], 4), python_text::round(score[2], 4),
              python_text::round(score[3], 4)};
  return s;
}

void FastTextAnalyzer::analyze(std::span<const std::string_view> documents, std::span<Result> results) const {
  if (documents.size() != results.size())
    throw Error(ErrorCode::internal, "FastTextAnalyzer::analyze: one result a document");
  std::string tokens;
  for (size_t i = 0; i < documents.size(); ++i) {
    results[i] = Result{};
    if (const auto bad = find_invalid_utf8(documents[i])) {
      results[i].error = invalid_input(fmt::format("invalid UTF-8 at byte {}", *bad));
      continue;
    }
    tokens.clear();
    append_fasttext_tokens(tokens, documents[i]);
    try {
      results[i].sentiment = classify_tokens(tokens);
    } catch (const Error& e) {  // this document only: a model whose numbers overflow on it
      results[i].error = e;
    }
  }
}

}  // namespace sentiflow::sentiment
