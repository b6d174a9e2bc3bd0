// Sentiment analysis: the result shapes every engine produces and the Analyzer interface.
//
// An engine turns documents (UTF-8 text) into Amazon Comprehend's shape: a label POSITIVE,
// NEGATIVE, NEUTRAL or MIXED and four scores. The built-in engine, VADER (vader.h), also keeps
// its own four numbers. DESIGN.md's result record carries both: "sentiment", "scores" and
// "vader" (null for engines without VADER numbers).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sentiflow::sentiment {

// VADER's numbers as the reference implementation rounds them: neg, neu and pos to 3 decimals
// (they sum to about 1), compound, in [-1, 1], to 4.
struct VaderScores {
  double neg = 0;
  double neu = 0;
  double pos = 0;
  double compound = 0;
};

enum class Label { positive, negative, neutral, mixed };

// "POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED": Comprehend's spelling.
std::string_view to_string(Label label);

// The label of to_string's name, in any case ("positive", "Mixed"); nullopt for any other text.
std::optional<Label> label_named(std::string_view name);

// Comprehend's SentimentScore: four numbers in [0, 1], 4 decimals.
struct Scores {
  double positive = 0;
  double negative = 0;
  double neutral = 0;
  double mixed = 0;
};

// One document's sentiment in Comprehend's shape, with VADER's own numbers when the engine has
// them.
struct Sentiment {
  Label label = Label::neutral;
  Scores scores;
  std::optional<VaderScores> vader;
};

// pos and neg at least this make a document MIXED (the pipeline's sentiment.mixed_threshold).
inline constexpr double kDefaultMixedThreshold = 0.2;

// DESIGN.md's "VADER → Comprehend shape": the label is POSITIVE when compound >= 0.05, NEGATIVE
// when compound <= -0.05, else NEUTRAL, except MIXED when pos and neg are both at least
// `mixed_threshold`. Scores: Positive = pos, Negative = neg, Neutral = neu, Mixed = 0; when
// MIXED, with m = min(pos, neg): Positive = pos - m, Negative = neg - m, Mixed = 2m. Each score
// is rounded to 4 decimals. `vader` is kept in the result.
Sentiment to_comprehend_shape(const VaderScores& vader, double mixed_threshold = kDefaultMixedThreshold);

// Throws Error(invalid_input) unless 0 < threshold <= 1 (a threshold of 0 would call an empty
// text MIXED).
void check_mixed_threshold(double threshold);

// One document's outcome: its sentiment, or the reason it could not be analysed.
struct Result {
  Sentiment sentiment;         // meaningful only when ok()
  std::optional<Error> error;  // e.g. invalid_input for text that is not UTF-8

  bool ok() const { return !error.has_value(); }
};

// A sentiment engine. Implementations are immutable once built: one instance may be shared by
// any number of threads, which may call analyze() concurrently without locking.
class Analyzer {
 public:
  virtual ~Analyzer() = default;

  // The engine's name as the pipeline file spells it: "vader" or "comprehend".
  virtual std::string_view engine() const = 0;

  // Analyses documents[i] into results[i] for every i; results.size() must equal
  // documents.size() (else throws Error(internal)). A document that cannot be analysed, such
  // as text that is not valid UTF-8, gets an error in its own Result and the others go on:
  // the call throws only for a failure of the whole batch (a remote engine that cannot be
  // reached). The caller owns both spans; nothing is kept after the call returns.
  virtual void analyze(std::span<const std::string_view> documents, std::span<Result> results) const = 0;

  // The same for one document.
  Result analyze(std::string_view document) const;
  // The same, returning a new vector of results.
  std::vector<Result> analyze(std::span<const std::string_view> documents) const;
};

}  // namespace sentiflow::sentiment
