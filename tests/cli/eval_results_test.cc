// `sentiflow eval --pipeline FILE` as users run it: a small pipeline is run once with
// `sentiflow run --once`, then its stored results are compared with the human ratings in its
// items, per group.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "sentiment/evaluation.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sentiflow::testing_support::Outcome;
using sentiflow::testing_support::run_sentiflow;
using sentiflow::testing_support::TempDir;

// Three tweets and a movie snippet with ratings; a movie snippet without a rating and one whose
// rating is a string (both skipped); a group the paper does not have; an item without a group.
constexpr char kItems[] =
    R"({"doc": "tweets/1", "corpus": "tweets", "rating": 2.5, "text": "I love this, it is wonderful!"})"
    "\n"
    R"({"doc": "tweets/2", "corpus": "tweets", "rating": -2.25, "text": "This is terrible and awful."})"
    "\n"
    R"({"doc": "tweets/3", "corpus": "tweets", "rating": 0.1, "text": "The bus comes at noon."})"
    "\n"
    R"({"doc": "movie/1", "corpus": "movie", "rating": -1.5, "text": "A dull, boring film."})"
    "\n"
    R"({"doc": "movie/2", "corpus": "movie", "text": "A fine film."})"
    "\n"
    R"({"doc": "movie/3", "corpus": "movie", "rating": "3", "text": "A great film."})"
    "\n"
    R"({"doc": "blog/1", "corpus": "blog", "rating": 1, "text": "Nice."})"
    "\n"
    R"({"doc": "loose/1", "rating": 1e0, "text": "Good."})"
    "\n";

class EvalResultsCli : public ::testing::Test {
 protected:
  EvalResultsCli() {
    std::ofstream(dir_.path() / "items.jsonl") << kItems;
    std::ofstream(file_) << "name: eval-test\n"
                            "state_dir: state\n"
                            "source: {table: local://rated, key: doc, text: text, seed: items.jsonl}\n"
                            "queue: {url: local://rated}\n"
                            "consumer: {batch_size: 3, concurrency: {min: 1, max: 2}}\n"
                            "sink: {store: out/, format: jsonl}\n";
  }

  Outcome sentiflow(const std::string& args) { return run_sentiflow(args); }
  std::string quoted_file() const { return "'" + file_.string() + "'"; }

  void run_once() {
    const auto r = sentiflow("run " + quoted_file() + " --once --no-progress");
    ASSERT_EQ(r.status, 0) << r.err;
  }

  TempDir dir_{"eval-results"};
  fs::path file_ = dir_.path() / "pipeline.yaml";
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_F(EvalResultsCli, PrintsOneRowPerGroupWithTheRightCounts) {
  run_once();
  const auto r = sentiflow("eval --pipeline " + quoted_file());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 7u) << r.out;  // a title, a header, four groups, one skipped line
  EXPECT_EQ(lines[0].rfind("pipeline eval-test · run manual-", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("8 records, 6 compared with 'rating'"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[1], "corpus     records      r  paper r     F1  paper F1");
  // The paper's corpora first, in its order, with its figures; then the others by name.
  EXPECT_EQ(lines[2].rfind("tweets           3  ", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find("  0.881  "), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3].rfind("movie            1      -    0.451  ", 0), 0u) << lines[3];  // one record: no r
  EXPECT_EQ(lines[4].rfind("(none)           1      -        -  ", 0), 0u) << lines[4];
  EXPECT_EQ(lines[5].rfind("blog             1      -        -  ", 0), 0u) << lines[5];
  EXPECT_EQ(lines[6], "skipped 2 records without a numeric 'rating': movie 2");
}

TEST_F(EvalResultsCli, FiguresAreThoseOfTheStoredCompoundsAndRatings) {
  run_once();
  const auto r = sentiflow("eval --pipeline " + quoted_file() + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["records"], 8);
  EXPECT_EQ(j["truth"], "rating");
  EXPECT_EQ(j["group"], "corpus");
  EXPECT_EQ(j["skipped"], (json{{"truth", 2}, {"no_vader", 0}}));
  std::map<std::string, json> rows;
  for (const auto& row : j["results"]) rows[row["group"].get<std::string>()] = row;
  ASSERT_EQ(rows.size(), 4u) << r.out;
  EXPECT_EQ(rows["tweets"]["records"], 3);
  EXPECT_EQ(rows["movie"]["records"], 1);
  EXPECT_EQ(rows["movie"]["skipped"], (json{{"truth", 2}, {"no_vader", 0}}));
  EXPECT_TRUE(rows["movie"]["r"].is_null());
  EXPECT_EQ(rows["blog"]["paper_r"], nullptr);

  // The tweets' r and F1 from the records `sentiflow results` prints.
  const auto results = sentiflow("results " + quoted_file());
  ASSERT_EQ(results.status, 0) << results.err;
  std::vector<double> compound, rating;
  std::vector<int> truth, predicted;
  for (const auto& line : lines_of(results.out)) {
    const json record = json::parse(line);
    if (record["item"]["corpus"] != "tweets") continue;
    compound.push_back(record["vader"]["compound"].get<double>());
    rating.push_back(record["item"]["rating"].get<double>());
    truth.push_back(sentiflow::sentiment::human_class(rating.back()));
    predicted.push_back(sentiflow::sentiment::vader_class(compound.back()));
  }
  ASSERT_EQ(compound.size(), 3u);
  EXPECT_DOUBLE_EQ(rows["tweets"]["r"].get<double>(), sentiflow::sentiment::pearson(compound, rating));
  EXPECT_DOUBLE_EQ(rows["tweets"]["f1"].get<double>(), sentiflow::sentiment::weighted_f1(truth, predicted));
  EXPECT_DOUBLE_EQ(rows["tweets"]["paper_r"].get<double>(), 0.881);
}

TEST_F(EvalResultsCli, TruthAndGroupNameOtherAttributes) {
  run_once();
  // One group for everything: the six items with a numeric rating.
  const auto all = sentiflow("eval --pipeline " + quoted_file() + " --group '' --json");
  ASSERT_EQ(all.status, 0) << all.err;
  const json j = json::parse(all.out);
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["group"], "all");
  EXPECT_EQ(j["results"][0]["records"], 6);
  // No item has a `score`: nothing to compare is bad input, named in the message.
  const auto none = sentiflow("eval --pipeline " + quoted_file() + " --truth score");
  EXPECT_EQ(none.status, 2);
  EXPECT_EQ(none.out, "");
  EXPECT_NE(none.err.find("none of its 8 records has VADER numbers and a numeric 'score'"), std::string::npos)
      << none.err;
}

TEST_F(EvalResultsCli, NoResultsIsExitTwo) {
  // No run yet: the sink folder does not exist, and eval does not create it.
  const auto before = sentiflow("eval --pipeline " + quoted_file());
  EXPECT_EQ(before.status, 2);
  EXPECT_EQ(before.out, "");
  EXPECT_NE(before.err.find("no results to evaluate"), std::string::npos) << before.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "out"));
  EXPECT_FALSE(fs::exists(dir_.path() / "state"));
  // An empty sink folder, and a run that has no results.
  fs::create_directories(dir_.path() / "out");
  EXPECT_EQ(sentiflow("eval --pipeline " + quoted_file()).status, 2);
  run_once();
  const auto other = sentiflow("eval --pipeline " + quoted_file() + " --run 2026-01-01T00:00:00Z");
  EXPECT_EQ(other.status, 2);
  EXPECT_NE(other.err.find("run 2026-01-01T00:00:00Z has no result records"), std::string::npos) << other.err;
}

TEST_F(EvalResultsCli, TakesTheNewestFinishedRunOrTheOneAsked) {
  run_once();
  const auto first = json::parse(sentiflow("eval --pipeline " + quoted_file() + " --json").out);
  // A backfill run id sorts before "manual-…", yet it is the newest run: it is the default.
  const auto backfill = sentiflow("run " + quoted_file() + " --run 2026-01-01T00:00:00Z --no-progress");
  ASSERT_EQ(backfill.status, 0) << backfill.err;
  const auto newest = json::parse(sentiflow("eval --pipeline " + quoted_file() + " --json").out);
  EXPECT_EQ(newest["run"], "2026-01-01T00:00:00Z");
  const auto asked = json::parse(
      sentiflow("eval --pipeline " + quoted_file() + " --json --run " + first["run"].get<std::string>()).out);
  EXPECT_EQ(asked["run"], first["run"]);
  EXPECT_EQ(asked["results"], newest["results"]);
}

TEST_F(EvalResultsCli, OptionsOfOneModeAreRefusedInTheOther) {
  EXPECT_EQ(sentiflow("eval --truth rating").status, 2);  // needs --pipeline
  EXPECT_EQ(sentiflow("eval --pipeline " + quoted_file() + " --corpora /tmp").status, 2);
}

}  // namespace
