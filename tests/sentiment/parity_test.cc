// Parity with the reference implementation (vaderSentiment 3.3.x, commit 44fc044, current
// lexicons, Python 3.11): every sentence of tests/sentiment/data/parity_groundtruth.tsv (the
// tweets and Amazon corpora, 7,908 texts from data/corpora/) and parity_readme.json must be
// within |Δcompound| <= 0.0001 and |Δneg|, |Δneu|, |Δpos| <= 0.001 — and in fact equal.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "core/strings.h"
#include "sentiment/evaluation.h"
#include "sentiment/vader.h"

namespace sentiflow::sentiment {
namespace {

const std::string kSource = SENTIFLOW_SOURCE_DIR;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Expected {
  std::string label;  // corpus/id or the README text
  std::string text;
  VaderScores scores;
};

struct Deltas {
  double neg = 0, neu = 0, pos = 0, compound = 0;
  size_t exact = 0, count = 0;
};

void compare(const VaderAnalyzer& vader, const std::vector<Expected>& cases, Deltas& d) {
  for (const auto& c : cases) {
    const VaderScores got = vader.polarity_scores(c.text);
    const double dn = std::fabs(got.neg - c.scores.neg), du = std::fabs(got.neu - c.scores.neu),
                 dp = std::fabs(got.pos - c.scores.pos), dc = std::fabs(got.compound - c.scores.compound);
    EXPECT_LE(dn, 0.001 + 1e-12) << c.label << ": " << c.text;
    EXPECT_LE(du, 0.001 + 1e-12) << c.label << ": " << c.text;
    EXPECT_LE(dp, 0.001 + 1e-12) << c.label << ": " << c.text;
    EXPECT_LE(dc, 0.0001 + 1e-12) << c.label << ": " << c.text << " compound " << got.compound << " expected "
                                  << c.scores.compound;
    d.neg = std::max(d.neg, dn);
    d.neu = std::max(d.neu, du);
    d.pos = std::max(d.pos, dp);
    d.compound = std::max(d.compound, dc);
    d.exact += dn == 0 && du == 0 && dp == 0 && dc == 0;
    ++d.count;
  }
}

std::vector<Expected> corpus_cases() {
  // Texts by corpus and id, from the project's own copy of the corpora.
  std::map<std::string, std::map<std::string, std::string>> texts;
  for (const std::string corpus : {"tweets", "amazonReviewSnippets"})
    for (auto& t : read_ground_truth(kSource + "/data/corpora/" + corpus + "_GroundTruth.txt"))
      texts[corpus][t.id] = std::move(t.text);
  std::vector<Expected> cases;
  const std::string tsv = read(kSource + "/tests/sentiment/data/parity_groundtruth.tsv");
  bool header = true;
  for (const auto line : split(tsv, '\n')) {
    if (header || line.empty()) {
      header = false;
      continue;
    }
    const auto f = split(line, '\t');
    EXPECT_EQ(f.size(), 6u) << line;
    if (f.size() != 6) continue;
    const std::string corpus(f[0]), id(f[1]);
    EXPECT_TRUE(texts[corpus].count(id)) << corpus << " " << id;
    cases.push_back({corpus + "/" + id,
                     texts[corpus][id],
                     {std::stod(std::string(f[2])), std::stod(std::string(f[3])), std::stod(std::string(f[4])),
                      std::stod(std::string(f[5]))}});
  }
  return cases;
}

std::vector<Expected> readme_cases() {
  std::vector<Expected> cases;
  for (const auto& e : nlohmann::json::parse(read(kSource + "/tests/sentiment/data/parity_readme.json")))
    cases.push_back(
        {"README",
         e["text"].get<std::string>(),
         {e["neg"].get<double>(), e["neu"].get<double>(), e["pos"].get<double>(), e["compound"].get<double>()}});
  return cases;
}

TEST(VaderParity, EveryCorpusVectorMatchesTheReference) {
  const VaderAnalyzer vader;
  const auto cases = corpus_cases();
  ASSERT_EQ(cases.size(), 7908u);
  Deltas d;
  compare(vader, cases, d);
  std::cout << "corpus vectors: " << d.count << ", exact " << d.exact << ", max |delta| neg " << d.neg << " neu "
            << d.neu << " pos " << d.pos << " compound " << d.compound << "\n";
  EXPECT_EQ(d.exact, d.count) << "every vector is expected to match exactly, not only within the tolerance";
}

TEST(VaderParity, EveryReadmeVectorMatchesTheReference) {
  const VaderAnalyzer vader;
  const auto cases = readme_cases();
  ASSERT_EQ(cases.size(), 25u);
  Deltas d;
  compare(vader, cases, d);
  EXPECT_EQ(d.exact, d.count);
}

TEST(VaderParity, TheBatchApiGivesTheSameNumbers) {
  const VaderAnalyzer vader;
  const auto cases = corpus_cases();
  std::vector<std::string_view> documents;
  for (const auto& c : cases) documents.push_back(c.text);
  const auto results = vader.analyze(documents);
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_TRUE(results[i].ok()) << cases[i].label;
    EXPECT_EQ(results[i].sentiment.vader->compound, cases[i].scores.compound) << cases[i].label;
    EXPECT_EQ(results[i].sentiment.vader->neu, cases[i].scores.neu) << cases[i].label;
  }
}

}  // namespace
}  // namespace sentiflow::sentiment
