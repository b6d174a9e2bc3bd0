// `sentiflow results FILE` as users run it: what it prints, where, and its exit statuses.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pipeline/sink.h"
#include "store/file_store.h"
#include "support/aws_env.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace sentiflow::pipeline {
namespace {

namespace fs = std::filesystem;
using testing_support::read_whole_file;
using testing_support::run_sentiflow;

constexpr char kRun1[] = "2026-11-26T06:00:00Z";
constexpr char kRun2[] = "2026-11-26T07:00:00Z";

ResultRecord record(std::string run, std::string key, int64_t millis, sentiment::Label label) {
  ResultRecord r;
  r.run = std::move(run);
  r.key = std::move(key);
  r.text = "text of " + r.key;
  r.sentiment.label = label;
  r.sentiment.scores = {0.5, 0.1, 0.4, 0};
  r.sentiment.vader = sentiment::VaderScores{0.1, 0.4, 0.5, 0.6};
  r.engine = "vader";
  r.item = R"({"name":")" + r.key + R"(","big":123456789012345678901234567890123456789})";
  r.processed_at = Millis{std::chrono::milliseconds{millis}};
  return r;
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

std::vector<std::string> run_keys(const std::string& jsonl) {
  std::vector<std::string> out;
  for (const auto& j : json_lines(jsonl))
    out.push_back(j.at("run").get<std::string>() + "|" + j.at("key").get<std::string>());
  return out;
}

// A pipeline whose sink is the folder out/ beside it; `fill()` stores two runs' results (with
// a replayed record and a gzip CSV object) and error records through the Sink.
class ResultsCli : public ::testing::Test {
 protected:
  ResultsCli() {
    std::ofstream(dir_.path() / "pipeline.yaml") << "name: results-test\n"
                                                    "state_dir: state\n"
                                                    "source: {table: local://companies, key: name, text: description}\n"
                                                    "queue: {url: local://producer}\n"
                                                    "sink: {store: out/, format: jsonl}\n";
  }

  void fill() {
    FileStore store(dir_.path() / "out");
    Sink jsonl(store, "", SinkFormat::jsonl, Compression::none);
    Sink csv_gz(store, "", SinkFormat::csv, Compression::gzip);
    const std::vector<std::string> m1 = {"m1", "m2"}, m2 = {"m3"}, m3 = {"m4"};
    jsonl.put_results(kRun1, m1,
                      std::vector{record(kRun1, "Netflix", 1000, sentiment::Label::positive),
                                  record(kRun1, "Apple", 1000, sentiment::Label::negative)});
    // Netflix again, later and now NEUTRAL: the replay wins.
    csv_gz.put_results(kRun1, m2, std::vector{record(kRun1, "Netflix", 2000, sentiment::Label::neutral)});
    jsonl.put_results(kRun2, m3, std::vector{record(kRun2, "Amazon", 3000, sentiment::Label::positive)});
    ErrorRecord e;
    e.run = kRun2;
    e.key = "Google";
    e.message_id = "m5";
    e.receive_count = 2;
    e.code = "enrich_failed";
    e.reason = "HTTP 404";
    e.at = Millis{std::chrono::milliseconds{4000}};
    jsonl.put_errors(kRun2, std::vector{e});
  }

  std::string pipeline() const { return "'" + (dir_.path() / "pipeline.yaml").string() + "'"; }

  testing_support::TempDir dir_{"results-cli"};
};

TEST_F(ResultsCli, PrintsEachRunAndKeyOnceAsJsonLines) {
  fill();
  const auto r = run_sentiflow("results " + pipeline());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(run_keys(r.out), (std::vector<std::string>{std::string(kRun1) + "|Apple", std::string(kRun1) + "|Netflix",
                                                       std::string(kRun2) + "|Amazon"}));
  const auto lines = json_lines(r.out);
  EXPECT_EQ(lines[1].at("sentiment"), "NEUTRAL");  // the later record, from the .csv.gz object
  EXPECT_EQ(lines[1].at("processed_at"), "1970-01-01T00:00:02.000Z");
  EXPECT_EQ(lines[0].at("schema"), 1);
  // Numbers keep their text from the item to the output.
  EXPECT_NE(r.out.find("\"big\":123456789012345678901234567890123456789"), std::string::npos) << r.out;
}

TEST_F(ResultsCli, PrintsCsvWithItsHeader) {
  fill();
  const auto r = run_sentiflow("results " + pipeline() + " --format csv");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(
      r.out.starts_with("run,key,sentiment,positive,negative,neutral,mixed,compound,engine,processed_at,text,item,attempt\r\n"))
      << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4);
  EXPECT_NE(r.out.find(std::string(kRun1) + ",Netflix,NEUTRAL,"), std::string::npos) << r.out;
}

TEST_F(ResultsCli, KeepsToOneRun) {
  fill();
  const auto r = run_sentiflow("results " + pipeline() + " --run " + kRun2);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(run_keys(r.out), (std::vector<std::string>{std::string(kRun2) + "|Amazon"}));
  const auto none = run_sentiflow("results " + pipeline() + " --run 2020-01-01T00:00:00Z");
  EXPECT_EQ(none.status, 0) << none.err;
  EXPECT_EQ(none.out, "");
}

TEST_F(ResultsCli, PrintsErrorRecords) {
  fill();
  const auto r = run_sentiflow("results " + pipeline() + " --errors");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  EXPECT_EQ(lines[0].at("key"), "Google");
  EXPECT_EQ(lines[0].at("code"), "enrich_failed");
  EXPECT_EQ(lines[0].at("receive_count"), 2);
  EXPECT_EQ(run_sentiflow("results " + pipeline() + " --errors --run " + kRun1).out, "");
}

TEST_F(ResultsCli, Summarises) {
  fill();
  const auto r = run_sentiflow("results " + pipeline() + " --summary");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "records: 3 distinct (run, key), 1 duplicates skipped\n"
            "  POSITIVE          1   33.3%\n"
            "  NEGATIVE          1   33.3%\n"
            "  NEUTRAL           1   33.3%\n"
            "  MIXED             0    0.0%\n"
            "runs: 2\n"
            "  2026-11-26T06:00:00Z  2\n"
            "  2026-11-26T07:00:00Z  1\n"
            "error records: 1\n"
            "  enrich_failed  1\n");
  const auto one = run_sentiflow("results " + pipeline() + " --summary --run " + kRun1);
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_TRUE(one.out.starts_with("records: 2 distinct (run, key), 1 duplicates skipped\n")) << one.out;
  EXPECT_NE(one.out.find("error records: 0\n"), std::string::npos) << one.out;
}

TEST_F(ResultsCli, WritesToAFileWholeOrNotAtAll) {
  fill();
  const fs::path out = dir_.path() / "results.jsonl";
  const auto r = run_sentiflow("results " + pipeline() + " --out '" + out.string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  const std::string written = read_whole_file(out);
  EXPECT_EQ(run_keys(written).size(), 3u);

  // A damaged object (issue 14, fault 8): named with its line on stderr, exit status 1, and the
  // results of every other object written all the same. Before, the whole command failed (2).
  std::ofstream(dir_.path() / "out" / ("run=" + std::string(kRun2)) / "broken.jsonl") << "{\"schema\":1}\nnot json\n";
  const auto bad = run_sentiflow("results " + pipeline() + " --out '" + out.string() + "'");
  EXPECT_EQ(bad.status, 1) << bad.err;
  EXPECT_NE(bad.err.find("broken.jsonl' line 1"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("1 object of the sink could not be read whole"), std::string::npos) << bad.err;
  EXPECT_EQ(read_whole_file(out), written);
  for (const auto& entry : fs::directory_iterator(dir_.path()))
    EXPECT_EQ(entry.path().filename().string().find("sentiflow-tmp"), std::string::npos) << entry.path();
}

TEST_F(ResultsCli, AMissingSinkFolderHasNoResults) {
  const auto r = run_sentiflow("results " + pipeline());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(run_sentiflow("results " + pipeline() + " --errors").out, "");
  const auto summary = run_sentiflow("results " + pipeline() + " --summary");
  EXPECT_EQ(summary.status, 0) << summary.err;
  EXPECT_TRUE(summary.out.starts_with("records: 0 distinct (run, key), 0 duplicates skipped\n")) << summary.out;
  EXPECT_FALSE(fs::exists(dir_.path() / "out"));  // reading creates nothing
}

TEST_F(ResultsCli, RefusesBadUsage) {
  EXPECT_EQ(run_sentiflow("results " + pipeline() + " --format xml").status, 2);
  EXPECT_EQ(run_sentiflow("results " + pipeline() + " --summary --errors").status, 2);
  EXPECT_EQ(run_sentiflow("results " + pipeline() + " --errors --format csv").status, 2);
  EXPECT_EQ(run_sentiflow("results").status, 2);
  const auto missing = run_sentiflow("results '" + (dir_.path() / "nope.yaml").string() + "'");
  EXPECT_EQ(missing.status, 2);
  std::ofstream(dir_.path() / "aws.yaml") << "name: results-test\n"
                                             "source: {table: dynamodb://companies, key: name, text: description}\n"
                                             "queue: {url: sqs://producer}\n"
                                             "sink: {store: s3://bucket/results/}\n";
  testing_support::hide_aws_settings();  // an S3 sink without a region: a usage error, no request
  const auto s3 = run_sentiflow("results '" + (dir_.path() / "aws.yaml").string() + "'");
  EXPECT_EQ(s3.status, 2);
  EXPECT_NE(s3.err.find("no AWS region"), std::string::npos) << s3.err;
}

}  // namespace
}  // namespace sentiflow::pipeline
