#include "sentiment/evaluation.h"

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/error.h"

namespace sentiflow::sentiment {

std::vector<RatedText> parse_ground_truth(std::string_view contents, std::string_view name) {
  std::vector<RatedText> texts;
  size_t start = 0, number = 0;
  while (start < contents.size()) {
    size_t end = contents.find('\n', start);
    if (end == std::string_view::npos) end = contents.size();
    std::string_view line = contents.substr(start, end - start);
    start = end + 1;
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const size_t tab1 = line.find('\t');
    const size_t tab2 = tab1 == std::string_view::npos ? tab1 : line.find('\t', tab1 + 1);
    if (tab2 == std::string_view::npos)
      throw invalid_input(fmt::format("{}:{}: expected ID<TAB>MEAN-RATING<TAB>TEXT", name, number));
    RatedText text;
    text.id = std::string(line.substr(0, tab1));
    const std::string_view mean = line.substr(tab1 + 1, tab2 - tab1 - 1);
    const auto [ptr, ec] = std::from_chars(mean.data(), mean.data() + mean.size(), text.mean);
    if (mean.empty() || ec != std::errc{} || ptr != mean.data() + mean.size())
      throw invalid_input(fmt::format("{}:{}: '{}' is not a number", name, number, mean));
    text.text = std::string(line.substr(tab2 + 1));
    texts.push_back(std::move(text));
  }
  return texts;
}

std::vector<RatedText> read_ground_truth(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::not_found, fmt::format("cannot read '{}': {}", path, std::strerror(errno)));
  std::ostringstream contents;
  contents << in.rdbuf();
  return parse_ground_truth(contents.str(), path);
}

double pearson(std::span<const double> x, std::span<const double> y) {
  const size_t n = std::min(x.size(), y.size());
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  double mean_x = 0, mean_y = 0;
  for (size_t i = 0; i < n; ++i) mean_x += x[i], mean_y += y[i];
  mean_x /= static_cast<double>(n);
  mean_y /= static_cast<double>(n);
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    const double dx = x[i] - mean_x, dy = y[i] - mean_y;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0 || syy == 0) return std::numeric_limits<double>::quiet_NaN();
  return sxy / std::sqrt(sxx * syy);
}

double weighted_f1(std::span<const int> truth, std::span<const int> predicted) {
  const size_t n = std::min(truth.size(), predicted.size());
  if (n == 0) return 0;
  double weighted = 0;
  for (const int c : {-1, 0, 1}) {
    size_t support = 0, chosen = 0, hits = 0;
    for (size_t i = 0; i < n; ++i) {
      support += truth[i] == c;
      chosen += predicted[i] == c;
      hits += truth[i] == c && predicted[i] == c;
    }
    if (support == 0 || hits == 0) continue;  // F1 is 0 (or its weight is)
    const double precision = static_cast<double>(hits) / static_cast<double>(chosen);
    const double recall = static_cast<double>(hits) / static_cast<double>(support);
    weighted += static_cast<double>(support) * 2 * precision * recall / (precision + recall);
  }
  return weighted / static_cast<double>(n);
}

int human_class(double mean) { return mean > 0 ? 1 : mean < 0 ? -1 : 0; }

int vader_class(double compound) { return compound >= 0.05 ? 1 : compound <= -0.05 ? -1 : 0; }

std::vector<CorpusEvaluation> paper_corpora() {
  // Hutto & Gilbert (2014), Table 4, the VADER row: correlation with the human means, and F1.
  return {
      {"tweets", "tweets_GroundTruth.txt", 0, 0, 0, 0.881, 0.96},
      {"movie", "movieReviewSnippets_GroundTruth.txt", 0, 0, 0, 0.451, 0.61},
      {"amazon", "amazonReviewSnippets_GroundTruth.txt", 0, 0, 0, 0.565, 0.63},
      {"nyt", "nytEditorialSnippets_GroundTruth.txt", 0, 0, 0, 0.492, 0.55},
  };
}

double score_of(const Sentiment& s) { return s.vader ? s.vader->compound : s.scores.positive - s.scores.negative; }

int class_of(const Sentiment& s) {
  if (s.vader) return vader_class(s.vader->compound);
  return s.label == Label::positive ? 1 : s.label == Label::negative ? -1 : 0;
}

void evaluate(const Analyzer& analyzer, std::span<const RatedText> texts, CorpusEvaluation& corpus) {
  std::vector<std::string_view> documents;
  documents.reserve(texts.size());
  for (const RatedText& t : texts) documents.push_back(t.text);
  const std::vector<Result> results = analyzer.analyze(documents);
  std::vector<double> score, mean;
  std::vector<int> truth, predicted;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (!results[i].ok())
      throw invalid_input(fmt::format("{}: text {}: {}", corpus.file, texts[i].id, results[i].error->what()));
    score.push_back(score_of(results[i].sentiment));
    mean.push_back(texts[i].mean);
    truth.push_back(human_class(texts[i].mean));
    predicted.push_back(class_of(results[i].sentiment));
  }
  corpus.sentences = texts.size();
  corpus.r = pearson(score, mean);
  corpus.f1 = weighted_f1(truth, predicted);
}

LabelledAccuracy labelled_accuracy(const Analyzer& analyzer, std::span<const LabelledText> texts) {
  std::vector<std::string_view> documents;
  for (const auto& t : texts) {
    if (t.label != "positive" && t.label != "negative")
      throw invalid_input(
          fmt::format("line {}: label '{}': two classes are measured, 0/1 or negative/positive", t.line, t.label));
    documents.push_back(t.text);
  }
  const std::vector<Result> results = analyzer.analyze(documents);
  LabelledAccuracy a;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) throw invalid_input(fmt::format("line {}: {}", texts[i].line, results[i].error->what()));
    const auto& scores = results[i].sentiment.scores;
    ++a.texts;
    if ((scores.positive > scores.negative) == (texts[i].label == "positive")) ++a.correct;
  }
  return a;
}

}  // namespace sentiflow::sentiment
