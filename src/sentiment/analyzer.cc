#include "sentiment/analyzer.h"

#include <fmt/format.h>

#include <algorithm>

#include "sentiment/python_text.h"

namespace sentiflow::sentiment {

std::string_view to_string(Label label) {
  switch (label) {
    case Label::positive: return "POSITIVE";
    case Label::negative: return "NEGATIVE";
    case Label::neutral: return "NEUTRAL";
    case Label::mixed: return "MIXED";
  }
  return "NEUTRAL";
}

std::optional<Label> label_named(std::string_view name) {
  for (const Label label : {Label::positive, Label::negative, Label::neutral, Label::mixed}) {
    const std::string_view spelled = to_string(label);
    if (name.size() == spelled.size() && std::equal(name.begin(), name.end(), spelled.begin(), [](char a, char b) {
          return (a >= 'a' && a <= 'z' ? static_cast<char>(a - 'a' + 'A') : a) == b;
        }))
      return label;
  }
  return std::nullopt;
}

void check_mixed_threshold(double threshold) {
  if (!(threshold > 0 && threshold <= 1))
    throw invalid_input(fmt::format("mixed threshold {} is out of range 0 < x <= 1", threshold));
}

Sentiment to_comprehend_shape(const VaderScores& vader, double mixed_threshold) {
  Sentiment s;
  s.vader = vader;
  if (vader.pos >= mixed_threshold && vader.neg >= mixed_threshold) {
    const double m = std::min(vader.pos, vader.neg);
    s.label = Label::mixed;
    s.scores = {python_text::round(vader.pos - m, 4), python_text::round(vader.neg - m, 4),
                python_text::round(vader.neu, 4), python_text::round(2 * m, 4)};
    return s;
  }
  s.label = vader.compound >= 0.05 ? Label::positive : vader.compound <= -0.05 ? Label::negative : Label::neutral;
  s.scores = {python_text::round(vader.pos, 4), python_text::round(vader.neg, 4), python_text::round(vader.neu, 4),
              0.0};
  return s;
}

Result Analyzer::analyze(std::string_view document) const {
  Result result;
  analyze(std::span<const std::string_view>(&document, 1), std::span<Result>(&result, 1));
  return result;
}

std::vector<Result> Analyzer::analyze(std::span<const std::string_view> documents) const {
  std::vector<Result> results(documents.size());
  analyze(documents, results);
  return results;
}

}  // namespace sentiflow::sentiment
