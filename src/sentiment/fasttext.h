// FastTextAnalyzer: the fastText engine (`engine: fasttext`), a linear classifier over word and
// word n-gram embeddings (Joulin et al., 2016) run by Facebook's fastText library, in Comprehend's
// shape (analyzer.h), with no VADER numbers.
//
// Contract:
// - The model is `builtin` (data/fasttext/sst2.ftz, trained by `sentiflow train` on SST-2's
//   training split and compiled into the binary; data/fasttext/MODEL_CARD.md) or a `.bin`/`.ftz`
//   file (fasttext_model.h checks it before fastText reads it).
// - A document is preprocessed by append_fasttext_tokens (fasttext_text.h), the one
//   preprocessing `sentiflow train` uses too, then given to fastText's own prediction.
// - Labels map to Comprehend's four classes (map_fasttext_labels); each class's score is the sum
//   of its labels' probabilities, normalised to 1 and rounded to 4 decimals. The label is the
//   class with the highest score, except that a model with no NEUTRAL label calls a document
//   NEUTRAL when the top score is under Options::neutral_threshold. A document without tokens
//   (empty, blank) is NEUTRAL with a Neutral score of 1: the model is not asked.
// - The only per-document error is invalid_input for text that is not UTF-8.
// Thread-safe: immutable once built; the model is shared by every thread and every copy.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sentiment/analyzer.h"
#include "sentiment/fasttext_model.h"

namespace sentiflow::sentiment {

// The NEUTRAL rule's default: a two-class model less than 3:2 sure of either class says NEUTRAL.
inline constexpr double kDefaultNeutralThreshold = 0.6;

// `sentiment.model`'s value for the model compiled into the binary.
inline constexpr std::string_view kBuiltinModel = "builtin";

// The Comprehend class of each of `labels` (fastText's names, "__label__positive"), in their
// order. `overrides` maps a label, with or without "__label__", to its class and wins. Otherwise,
// after the prefix and case-insensitively: positive/pos, negative/neg, neutral/neu, mixed; a
// model whose labels are exactly 0 and 1 (as `sentiflow train` maps 0/1 data) has 0 NEGATIVE and
// 1 POSITIVE; one whose labels are star ratings 1-5 has 1-2 NEGATIVE, 3 NEUTRAL, 4-5 POSITIVE.
// Throws Error(invalid_input) naming a label no rule maps, or an override naming no label.
std::vector<Label> map_fasttext_labels(const std::vector<std::string>& labels,
                                       const std::map<std::string, Label>& overrides);

// The built-in model, loaded once for the process.
std::shared_ptr<const FastTextModel> builtin_fasttext_model();

class FastTextAnalyzer final : public Analyzer {
 public:
  struct Options {
    std::string model = std::string(kBuiltinModel);       // "builtin" or a model file's path
    std::map<std::string, Label> labels{};                // overrides of map_fasttext_labels
    double neutral_threshold = kDefaultNeutralThreshold;  // 0.5 <= x <= 1 (0.5: never NEUTRAL)
  };

  // Loads the model (FastTextModel::load's errors) and maps its labels (map_fasttext_labels').
  // Throws Error(invalid_input) for a threshold outside 0.5-1.
  explicit FastTextAnalyzer(const Options& options);
  // The same over a model already loaded.
  FastTextAnalyzer(std::shared_ptr<const FastTextModel> model, const Options& options);

  std::string_view engine() const override { return "fasttext"; }

  void analyze(std::span<const std::string_view> documents, std::span<Result> results) const override;
  using Analyzer::analyze;

  // The sentiment of a line of tokens as append_fasttext_tokens writes them.
  Sentiment classify_tokens(std::string_view tokens) const;

  const FastTextModel& model() const { return *model_; }

 private:
  std::shared_ptr<const FastTextModel> model_;
  std::vector<Label> classes_;  // of each of the model's labels
  bool has_neutral_ = false;
  double neutral_threshold_;
};

}  // namespace sentiflow::sentiment
