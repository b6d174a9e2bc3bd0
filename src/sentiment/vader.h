// VaderAnalyzer: the built-in sentiment engine, a C++ port of VADER (Hutto & Gilbert, ICWSM
// 2014) that gives the numbers of the reference Python implementation, vaderSentiment 3.3.x
// with its current lexicons, to the last printed digit — quirks included (docs/SENTIMENT.md
// lists them) — in Comprehend's shape (analyzer.h).
//
// A VaderAnalyzer is immutable once built: share one instance between any number of threads.
// Building one parses the lexicons (about 11,000 lines, a few milliseconds); analysing a text
// allocates nothing per word and takes time linear in its length.
#pragma once

#include <memory>
#include <string>

#include "sentiment/analyzer.h"

namespace sentiflow::sentiment {

class Lexicon;

class VaderAnalyzer final : public Analyzer {
 public:
  struct Options {
    double mixed_threshold = kDefaultMixedThreshold;  // 0 < x <= 1
    std::string lexicon_file;                         // vader_lexicon.txt to use; empty: the built-in copy
    std::string emoji_lexicon_file;                   // emoji_utf8_lexicon.txt to use; empty: the built-in copy
  };

  // Builds the analyzer from the built-in lexicons, or from the files named in `options`.
  // Throws Error(invalid_input) for a bad threshold or a malformed lexicon file, and
  // Error(not_found) for a lexicon file that cannot be read.
  explicit VaderAnalyzer(const Options& options);
  VaderAnalyzer();  // the default Options
  ~VaderAnalyzer() override;

  VaderAnalyzer(const VaderAnalyzer&) = delete;
  VaderAnalyzer& operator=(const VaderAnalyzer&) = delete;

  std::string_view engine() const override { return "vader"; }

  // See Analyzer::analyze. The only per-document error is invalid_input for text that is not
  // valid UTF-8. Documents in one call share scratch buffers, so a batch is the fast path.
  void analyze(std::span<const std::string_view> documents, std::span<Result> results) const override;
  using Analyzer::analyze;

  // The reference's polarity_scores(text): neg, neu, pos and compound, rounded as it rounds
  // them. Empty or blank text gives all zeros. Throws Error(invalid_input) when `text` is not
  // valid UTF-8.
  VaderScores polarity_scores(std::string_view text) const;

 private:
  std::shared_ptr<const Lexicon> lexicon_;
  double mixed_threshold_;
};

}  // namespace sentiflow::sentiment
