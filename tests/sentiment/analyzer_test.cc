// The Analyzer contract: Comprehend's shape, per-document errors in a batch, sharing one
// analyzer between threads; and the text forms of a result.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "sentiment/evaluation.h"
#include "sentiment/format.h"
#include "sentiment/vader.h"

namespace sentiflow::sentiment {
namespace {

TEST(ComprehendShape, LabelsFollowCompoundAtPlusMinus005) {
  EXPECT_EQ(to_comprehend_shape({0.0, 0.5, 0.5, 0.05}).label, Label::positive);
  EXPECT_EQ(to_comprehend_shape({0.0, 0.5, 0.5, 0.0499}).label, Label::neutral);
  EXPECT_EQ(to_comprehend_shape({0.5, 0.5, 0.0, -0.05}).label, Label::negative);
  EXPECT_EQ(to_comprehend_shape({0.5, 0.5, 0.0, -0.0499}).label, Label::neutral);
  EXPECT_EQ(to_comprehend_shape({}).label, Label::neutral);
}

TEST(ComprehendShape, ScoresAreVadersProportions) {
  const Sentiment s = to_comprehend_shape({0.1, 0.3, 0.6, 0.7});
  EXPECT_EQ(s.label, Label::positive);
  EXPECT_EQ(s.scores.positive, 0.6);
  EXPECT_EQ(s.scores.negative, 0.1);
  EXPECT_EQ(s.scores.neutral, 0.3);
  EXPECT_EQ(s.scores.mixed, 0.0);
  ASSERT_TRUE(s.vader.has_value());
  EXPECT_EQ(s.vader->compound, 0.7);
}

TEST(ComprehendShape, MixedWhenPosAndNegBothReachTheThreshold) {
  // m = min(pos, neg) = 0.206: Positive = 0, Negative = 0.399 - 0.206, Mixed = 2m.
  const Sentiment s = to_comprehend_shape({0.399, 0.395, 0.206, -0.5346});
  EXPECT_EQ(s.label, Label::mixed);
  EXPECT_EQ(s.scores.positive, 0.0);
  EXPECT_EQ(s.scores.negative, 0.193);  // rounded to 4 decimals: not 0.19300000000000003
  EXPECT_EQ(s.scores.neutral, 0.395);
  EXPECT_EQ(s.scores.mixed, 0.412);
  // The threshold is inclusive, and MIXED wins over the compound's sign.
  EXPECT_EQ(to_comprehend_shape({0.2, 0.6, 0.2, 0.0}).label, Label::mixed);
  EXPECT_EQ(to_comprehend_shape({0.199, 0.6, 0.201, 0.0}).label, Label::neutral);
  EXPECT_EQ(to_comprehend_shape({0.3, 0.4, 0.3, 0.9}).label, Label::mixed);
}

TEST(ComprehendShape, TheThresholdIsConfigurable) {
  const VaderScores v{0.25, 0.45, 0.3, 0.2};
  EXPECT_EQ(to_comprehend_shape(v, 0.2).label, Label::mixed);
  EXPECT_EQ(to_comprehend_shape(v, 0.3).label, Label::positive);
  VaderAnalyzer::Options options;
  options.mixed_threshold = 0.5;
  const VaderAnalyzer strict(options);
  EXPECT_EQ(strict.analyze("I love it but I hate it").sentiment.label, Label::negative);
  EXPECT_EQ(VaderAnalyzer().analyze("I love it but I hate it").sentiment.label, Label::mixed);
  for (const double bad : {0.0, -0.1, 1.01}) {
    options.mixed_threshold = bad;
    EXPECT_THROW(VaderAnalyzer{options}, Error) << bad;
  }
}

TEST(ComprehendShape, LabelNames) {
  EXPECT_EQ(to_string(Label::positive), "POSITIVE");
  EXPECT_EQ(to_string(Label::negative), "NEGATIVE");
  EXPECT_EQ(to_string(Label::neutral), "NEUTRAL");
  EXPECT_EQ(to_string(Label::mixed), "MIXED");
}

TEST(VaderAnalyzer, EmptyTextIsNeutralWithZeros) {
  const Result r = VaderAnalyzer().analyze("");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.sentiment.label, Label::neutral);
  EXPECT_EQ(r.sentiment.scores.neutral, 0.0);
  EXPECT_EQ(r.sentiment.vader->compound, 0.0);
  EXPECT_EQ(r.sentiment.vader->neu, 0.0);
}

TEST(VaderAnalyzer, AnInvalidDocumentFailsAloneInItsBatch) {
  const VaderAnalyzer vader;
  const std::vector<std::string_view> documents = {"good", "bad \xc3\x28 text", "", "\xff", "great"};
  const auto results = vader.analyze(documents);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[0].sentiment.label, Label::positive);
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error->code(), ErrorCode::invalid_input);
  EXPECT_STREQ(results[1].error->what(), "invalid UTF-8 at byte 4");
  EXPECT_TRUE(results[2].ok());
  EXPECT_FALSE(results[3].ok());
  EXPECT_TRUE(results[4].ok());
  EXPECT_EQ(results[4].sentiment.label, Label::positive);
  // A result reused for a valid document loses its old error.
  std::vector<Result> reused = results;
  const std::vector<std::string_view> valid(5, "fine");
  vader.analyze(valid, reused);
  for (const auto& r : reused) EXPECT_TRUE(r.ok());
}

TEST(VaderAnalyzer, MismatchedSpansAreAnInternalError) {
  const VaderAnalyzer vader;
  const std::vector<std::string_view> documents = {"a", "b"};
  std::vector<Result> results(1);
  try {
    vader.analyze(documents, results);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::internal);
  }
}

TEST(VaderAnalyzer, OneAnalyzerSharedByThreadsGivesIdenticalResults) {
  const VaderAnalyzer vader;
  const auto texts = read_ground_truth(std::string(SENTIFLOW_SOURCE_DIR) + "/data/corpora/tweets_GroundTruth.txt");
  std::vector<std::string_view> documents;
  for (const auto& t : texts) documents.push_back(t.text);
  documents.push_back("\xff not UTF-8");
  const auto expected = vader.analyze(documents);

  constexpr int kThreads = 4;
  std::vector<std::vector<Result>> got(kThreads, std::vector<Result>(documents.size()));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      // Different batch sizes per thread, so that scratch buffers differ too.
      const size_t batch = 1 + static_cast<size_t>(t) * 97;
      for (size_t i = 0; i < documents.size(); i += batch) {
        const size_t n = std::min(batch, documents.size() - i);
        vader.analyze(std::span(documents).subspan(i, n), std::span(got[t]).subspan(i, n));
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    for (size_t i = 0; i < documents.size(); ++i) {
      ASSERT_EQ(got[t][i].ok(), expected[i].ok()) << i;
      if (!expected[i].ok()) continue;
      EXPECT_EQ(got[t][i].sentiment.label, expected[i].sentiment.label) << i;
      EXPECT_EQ(got[t][i].sentiment.vader->compound, expected[i].sentiment.vader->compound) << i;
      EXPECT_EQ(got[t][i].sentiment.vader->neu, expected[i].sentiment.vader->neu) << i;
    }
  }
}

TEST(VaderAnalyzer, CustomLexiconFiles) {
  const std::string dir = ::testing::TempDir();
  const std::string lexicon = dir + "/sentiflow-test-lexicon.txt", emoji = dir + "/sentiflow-test-emoji.txt";
  std::ofstream(lexicon) << "splendiferous\t3.5\t0.5\t[3, 4]\nmeh\t-1\n\n";
  std::ofstream(emoji) << "+\tsplendiferous thing\n";  // an ASCII "emoji"
  VaderAnalyzer::Options options;
  options.lexicon_file = lexicon;
  options.emoji_lexicon_file = emoji;
  const VaderAnalyzer custom(options);
  EXPECT_EQ(custom.polarity_scores("splendiferous").compound, 0.6705);           // 3.5 / sqrt(3.5^2 + 15)
  EXPECT_EQ(custom.polarity_scores("good").compound, 0.0);                       // not in this lexicon
  EXPECT_EQ(custom.polarity_scores("a+b").compound, 0.6705);                     // "a splendiferous thingb"
  options.emoji_lexicon_file.clear();                                            // one custom file, one built in
  EXPECT_EQ(VaderAnalyzer(options).polarity_scores("meh \U0001F600").neg, 0.5);  // "meh grinning face"
  EXPECT_EQ(VaderAnalyzer(options).polarity_scores("meh \U0001F600").compound, -0.25);

  options.lexicon_file = dir + "/no-such-lexicon.txt";
  try {
    VaderAnalyzer{options};
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found);
  }
  std::ofstream(lexicon) << "good\t1.9\nbad\tvery\n";
  options.lexicon_file = lexicon;
  try {
    VaderAnalyzer{options};
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find(lexicon + ":2: 'very' is not a number"), std::string::npos) << e.what();
  }
  std::ofstream(lexicon) << "good 1.9\n";
  EXPECT_THROW(VaderAnalyzer{options}, Error);

  // Words longer than 8 and than 64 bytes take other lookup paths; case still folds.
  const std::string nine = "wonderful", long_word(70, 'w');
  std::ofstream(lexicon) << nine << "\t3\n" << long_word << "\t-3\n";
  const VaderAnalyzer long_words(options);
  EXPECT_EQ(long_words.polarity_scores("WONDERFUL!").compound, long_words.polarity_scores("wonderful!").compound);
  EXPECT_GT(long_words.polarity_scores("Wonderful").compound, 0.5);
  EXPECT_LT(long_words.polarity_scores("it is " + std::string(70, 'W')).compound, -0.5);
  EXPECT_EQ(long_words.polarity_scores(std::string(69, 'w')).compound, 0.0);
  EXPECT_EQ(long_words.polarity_scores(std::string(71, 'w')).compound, 0.0);
}

TEST(Format, DecimalsPrintLikePython) {
  const auto text = [](double x) {
    std::string out;
    append_decimal(out, x);
    return out;
  };
  EXPECT_EQ(text(0.0), "0.0");
  EXPECT_EQ(text(-0.0), "-0.0");
  EXPECT_EQ(text(1.0), "1.0");
  EXPECT_EQ(text(0.746), "0.746");
  EXPECT_EQ(text(-0.5423), "-0.5423");
  EXPECT_EQ(text(0.0001), "0.0001");
  EXPECT_EQ(text(0.193), "0.193");
  EXPECT_EQ(text(0.1 + 0.2), "0.30000000000000004");  // not 4 decimals: shortest round trip
  EXPECT_EQ(text(12345.5), "12345.5");
  EXPECT_EQ(text(1e20), "1e+20");
}

TEST(Format, JsonFieldsHaveTheResultRecordShape) {
  const Result r = VaderAnalyzer().analyze("VADER is smart, handsome, and funny.");
  std::string out = "{";
  append_json_fields(out, r.sentiment);
  out += "}";
  EXPECT_EQ(out, R"({"sentiment":"POSITIVE","scores":{"Positive":0.746,"Negative":0.0,"Neutral":0.254,"Mixed":0.0},)"
                 R"("vader":{"neg":0.0,"neu":0.254,"pos":0.746,"compound":0.8316}})");
  Sentiment without_vader;
  out = "{";
  append_json_fields(out, without_vader);
  out += "}";
  EXPECT_EQ(nlohmann::json::parse(out)["vader"], nullptr);
}

TEST(Format, JsonStringsAreEscaped) {
  std::string out;
  append_json_string(out, "a\"b\\c\n\t\x01 \u00e9\U0001F600");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001 \u00e9\U0001F600\"");
  EXPECT_EQ(nlohmann::json::parse(out).get<std::string>(), "a\"b\\c\n\t\x01 \u00e9\U0001F600");
}

}  // namespace
}  // namespace sentiflow::sentiment
