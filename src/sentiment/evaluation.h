// Evaluation of an engine against the human-rated corpora of Hutto & Gilbert (ICWSM 2014), as
// `sentiflow eval` prints it: for each corpus, Pearson's r of the score (VADER's compound, or
// Positive - Negative) against the human mean rating, and the support-weighted F1 of three
// classes (human: the sign of the mean rating; VADER: compound >= 0.05 positive, <= -0.05
// negative, else neutral; other engines: their label), beside the paper's VADER row (Table 4);
// and binary accuracy on labelled texts (SST-2's kind). Pure functions apart from read_ground_truth(); all thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sentiment/analyzer.h"

namespace sentiflow::sentiment {

// One line of a *_GroundTruth.txt file: ID TAB MEAN-RATING (-4..+4) TAB TEXT.
struct RatedText {
  std::string id;
  double mean = 0;
  std::string text;
};

// Parses a ground-truth file's contents (CRLF or LF line ends, final newline optional; blank
// lines skipped). `name` is used in error messages. Throws Error(invalid_input) naming the line
// for a line without three tab-separated fields or with a rating that is not a number.
std::vector<RatedText> parse_ground_truth(std::string_view contents, std::string_view name);

// Reads and parses the file at `path`; throws Error(not_found) when it cannot be read.
std::vector<RatedText> read_ground_truth(const std::string& path);

// Pearson's correlation coefficient of x and y (same length); NaN when either is constant or
// there are fewer than two values.
double pearson(std::span<const double> x, std::span<const double> y);

// Three-class F1 averaged over the classes weighted by their support in `truth`, like
// scikit-learn's f1_score(average="weighted"). Classes are -1, 0 and 1.
double weighted_f1(std::span<const int> truth, std::span<const int> predicted);

// The class of a human mean rating (its sign) and of a compound score (split at +-0.05).
int human_class(double mean);
int vader_class(double compound);

// The figures of one corpus: VADER's and the paper's.
struct CorpusEvaluation {
  std::string_view corpus;  // "tweets", "movie", "amazon", "nyt"
  std::string_view file;    // e.g. "tweets_GroundTruth.txt"
  size_t sentences = 0;
  double r = 0;
  double f1 = 0;
  double paper_r = 0;
  double paper_f1 = 0;
};

// The four corpora in the paper's order, with the paper's VADER row filled in.
std::vector<CorpusEvaluation> paper_corpora();

// A result's score and class for the figures: VADER's compound and vader_class when the engine
// has VADER numbers; else Positive - Negative and the label's class (POSITIVE 1, NEGATIVE -1,
// NEUTRAL and MIXED 0).
double score_of(const Sentiment& s);
int class_of(const Sentiment& s);

// Scores `texts` with `analyzer` and fills r, f1 and sentences of `corpus` (score_of, class_of).
// A text that is not valid UTF-8 is an Error(invalid_input) naming the corpus file and id.
void evaluate(const Analyzer& analyzer, std::span<const RatedText> texts, CorpusEvaluation& corpus);

// One labelled text. `label` is a class name as the model will hold it ("positive"); `line`
// is where it was read, for messages.
struct LabelledText {
  std::string text;
  std::string label;
  size_t line = 0;
};

// Binary accuracy on texts labelled positive or negative (SST-2's kind): a text counts as
// predicted positive when its Positive score is above its Negative one, so that the NEUTRAL
// and MIXED rules do not count against an engine on data without those classes.
struct LabelledAccuracy {
  size_t texts = 0;
  size_t correct = 0;
  double accuracy() const { return texts ? static_cast<double>(correct) / static_cast<double>(texts) : 0; }
};
// Each text's label must be "positive" or "negative". Throws Error(invalid_input) naming the
// line of a text with another label or one the engine cannot analyse.
LabelledAccuracy labelled_accuracy(const Analyzer& analyzer, std::span<const LabelledText> texts);

}  // namespace sentiflow::sentiment
