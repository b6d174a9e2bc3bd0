// The figures of `sentiflow eval`: parsing the corpora, Pearson's r, weighted F1, and the four
// corpora within 0.03 of the VADER paper.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "sentiment/evaluation.h"
#include "sentiment/vader.h"

namespace sentiflow::sentiment {
namespace {

TEST(Evaluation, ParsesCrlfFilesWithoutAFinalNewline) {
  const auto texts = parse_ground_truth("1\t2.5\tGood day\r\n2\t-1.25\tBad\tday\r\n\r\n3\t0\t", "x.txt");
  ASSERT_EQ(texts.size(), 3u);
  EXPECT_EQ(texts[0].id, "1");
  EXPECT_EQ(texts[0].mean, 2.5);
  EXPECT_EQ(texts[0].text, "Good day");
  EXPECT_EQ(texts[1].text, "Bad\tday");  // only the first two tabs separate fields
  EXPECT_EQ(texts[2].text, "");
  try {
    parse_ground_truth("1\t2.5\tok\n2\tlots\tno", "x.txt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_STREQ(e.what(), "x.txt:2: 'lots' is not a number");
  }
  EXPECT_THROW(parse_ground_truth("1\t2.5", "x.txt"), Error);
  EXPECT_THROW(read_ground_truth("/nonexistent/file.txt"), Error);
}

TEST(Evaluation, PearsonR) {
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {2, 4, 6, 8, 10}, z = {5, 4, 3, 2, 1}, w = {1, 3, 2, 5, 4};
  EXPECT_NEAR(pearson(x, y), 1.0, 1e-12);
  EXPECT_NEAR(pearson(x, z), -1.0, 1e-12);
  EXPECT_NEAR(pearson(x, w), 0.8, 1e-12);
  EXPECT_TRUE(std::isnan(pearson(x, std::vector<double>(5, 1.0))));
}

TEST(Evaluation, WeightedF1LikeScikitLearn) {
  // Class 1: precision 2/4, recall 2/3; class 0: no hit; class -1: precision 1/1, recall 1/2.
  const std::vector<int> t = {1, 1, 1, 0, -1, -1}, p = {1, 0, 1, 1, -1, 1};
  const double f1_positive = 2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3), f1_negative = 2 * 1 * 0.5 / 1.5;
  EXPECT_NEAR(weighted_f1(t, p), (3 * f1_positive + 1 * 0 + 2 * f1_negative) / 6, 1e-12);
  EXPECT_NEAR(weighted_f1(t, t), 1.0, 1e-12);
}

TEST(Evaluation, Classes) {
  EXPECT_EQ(human_class(0.1), 1);
  EXPECT_EQ(human_class(0.0), 0);
  EXPECT_EQ(human_class(-3), -1);
  EXPECT_EQ(vader_class(0.05), 1);
  EXPECT_EQ(vader_class(0.0499), 0);
  EXPECT_EQ(vader_class(-0.05), -1);
}

TEST(Evaluation, TheFourCorporaAreWithin003OfThePaper) {
  const VaderAnalyzer vader;
  auto corpora = paper_corpora();
  ASSERT_EQ(corpora.size(), 4u);
  // What the reference code gives today (../shared/README.md): r and F1 per corpus.
  const double reference_r[] = {0.872, 0.428, 0.590, 0.503}, reference_f1[] = {0.948, 0.590, 0.626, 0.549};
  const size_t sizes[] = {4200, 10605, 3708, 5190};
  for (size_t i = 0; i < corpora.size(); ++i) {
    auto& c = corpora[i];
    evaluate(vader, read_ground_truth(std::string(SENTIFLOW_SOURCE_DIR) + "/data/corpora/" + std::string(c.file)), c);
    EXPECT_EQ(c.sentences, sizes[i]) << c.corpus;
    EXPECT_NEAR(c.r, c.paper_r, 0.03) << c.corpus;
    EXPECT_NEAR(c.f1, c.paper_f1, 0.03) << c.corpus;
    EXPECT_NEAR(c.r, reference_r[i], 0.0005) << c.corpus;
    EXPECT_NEAR(c.f1, reference_f1[i], 0.0005) << c.corpus;
  }
}

}  // namespace
}  // namespace sentiflow::sentiment
