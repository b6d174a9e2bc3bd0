// `sentiflow cost` as users run it: profiled from the table, from the seed of a table not made
// yet, or from the user's figures; clear errors where it cannot know.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sentiflow::testing_support::Outcome;
using sentiflow::testing_support::TempDir;

Outcome run(const std::string& args) { return sentiflow::testing_support::run_sentiflow(args); }

// 40 items: 30 texts of 50 characters (3 units each) and 10 of 450 (5 units each).
void write_items(const fs::path& file) {
  std::ofstream out(file);
  for (int i = 0; i < 40; ++i)
    out << json{{"id", "item-" + std::to_string(i)}, {"text", std::string(i < 30 ? 50 : 450, 'a')}}.dump() << "\n";
}

TEST(CostCli, ProfilesTheSeedOfATableNotMadeYetAndPricesAMonthOfTheSchedule) {
  const TempDir dir("cost");
  write_items(dir.path() / "items.jsonl");
  std::ofstream(dir.path() / "p.yaml") << "name: costs\nschedule: rate(1 hour)\nstate_dir: state\n"
                                          "source: {table: local://items, key: id, text: text, seed: items.jsonl}\n"
                                          "consumer: {batch_size: 10}\nsentiment: {engine: comprehend}\n";
  const Outcome r = run("cost '" + (dir.path() / "p.yaml").string() + "' --json --batch-seconds 0.5");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["items"], 40);
  EXPECT_DOUBLE_EQ(j["profile"]["comprehend_units_per_text"].get<double>(), (30 * 3 + 10 * 5) / 40.0);
  EXPECT_EQ(j["run"]["work"]["comprehend_units"], 140);
  EXPECT_EQ(j["run"]["work"]["lambda_invocations"], 4 + 1);
  EXPECT_EQ(j["run"]["work"]["s3_puts"], 4);
  const json& comprehend = j["run"]["cost"]["lines"][0];
  EXPECT_EQ(comprehend["service"], "Comprehend");
  EXPECT_TRUE(comprehend["counted"].get<bool>());
  EXPECT_NEAR(comprehend["dollars"].get<double>(), 140 * 0.0001, 1e-12);
  EXPECT_EQ(j["runs_in_30_days"], 720);
  EXPECT_EQ(j["month"]["work"]["comprehend_units"], 140 * 720);
  EXPECT_FALSE(fs::exists(dir.path() / "state")) << "cost creates no state";
}

TEST(CostCli, ReadsTheTableAndPrintsABillWhoseLinesAddUp) {
  const TempDir dir("cost");
  write_items(dir.path() / "items.jsonl");
  std::ofstream(dir.path() / "p.yaml") << "name: costs\nstate_dir: state\n"
                                          "source: {table: local://items, key: id, text: text}\n";
  Outcome r = run("table import --pipeline '" + (dir.path() / "p.yaml").string() + "' '" +
                  (dir.path() / "items.jsonl").string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run("cost '" + (dir.path() / "p.yaml").string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("one run of 40 items (local://items), texts of 150 characters on average"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(with engine comprehend; not counted)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no schedule"), std::string::npos) << r.out;
  r = run("cost '" + (dir.path() / "p.yaml").string() + "' --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  double counted = 0;
  for (const auto& line : j["run"]["cost"]["lines"])
    if (line["counted"].get<bool>()) counted += line["dollars"].get<double>();
  EXPECT_NEAR(j["run"]["cost"]["total"].get<double>(), counted, 1e-15);
  EXPECT_GT(counted, 0);
  EXPECT_FALSE(j.contains("month"));
}

// A run counts its work as AWS bills it (docs/COST.md): the summary prints the bill, status and
// the report carry the work and its cost, and the counted work is what the model predicts from
// the same items.
TEST(CostCli, ARunsSummaryStatusAndReportShowWhatItsWorkCostsOnAws) {
  const TempDir dir("cost");
  write_items(dir.path() / "items.jsonl");
  const std::string pipeline = (dir.path() / "p.yaml").string();
  std::ofstream(pipeline) << "name: costs\nstate_dir: state\n"
                             "source: {table: local://items, key: id, text: text, seed: items.jsonl}\n"
                             "consumer: {batch_size: 10}\nsink: {store: out/}\n";
  Outcome r = run("run '" + pipeline + "' --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("  cost on AWS   $"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(with engine comprehend, $0.0140 more)"), std::string::npos) << r.out;

  r = run("status '" + pipeline + "' --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const json run_json = json::parse(r.out)["runs"][0];
  const json& work = run_json["work"];
  EXPECT_EQ(work["comprehend_units"], 140);  // 30 x 3 + 10 x 5: every text analysed once
  EXPECT_EQ(work["pages"], 1);
  EXPECT_EQ(work["objects"], 4);  // a result object per batch of 10
  EXPECT_GE(work["batches"].get<int64_t>(), 4);
  EXPECT_GE(work["sqs_requests"].get<int64_t>(), 4 + 4 + 4);  // sends, receives and deletes of 10
  const json& cost = run_json["cost"];
  EXPECT_EQ(cost["lines"][0]["service"], "Comprehend");
  EXPECT_FALSE(cost["lines"][0]["counted"].get<bool>());
  EXPECT_NEAR(cost["lines"][0]["dollars"].get<double>(), 0.014, 1e-12);
  double counted = 0;
  for (const auto& line : cost["lines"])
    if (line["counted"].get<bool>()) counted += line["dollars"].get<double>();
  EXPECT_GT(counted, 0);
  EXPECT_NEAR(cost["total"].get<double>(), counted, 1e-15);

  r = run("status '" + pipeline + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("cost on AWS"), std::string::npos) << r.out;

  const std::string html = (dir.path() / "report.html").string();
  r = run("report '" + pipeline + "' --html '" + html + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream in(html);
  const std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("\"comprehend_units\":140"), std::string::npos);
}

TEST(CostCli, UsersFiguresNeedNoTable) {
  const TempDir dir("cost");
  std::ofstream(dir.path() / "p.yaml") << "name: costs\nstate_dir: state\nsource: {table: local://none, key: id, "
                                          "text: text}\nsentiment: {engine: comprehend}\n";
  const Outcome r = run("cost '" + (dir.path() / "p.yaml").string() + "' --items 10000 --avg-chars 150 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["run"]["work"]["comprehend_units"], 30'000);
  EXPECT_NEAR(j["run"]["cost"]["lines"][0]["dollars"].get<double>(), 3.0, 1e-12);
}

TEST(CostCli, SaysWhatItCannotKnowWithExitStatusTwo) {
  const TempDir dir("cost");
  std::ofstream(dir.path() / "missing.yaml") << "name: costs\nstate_dir: state\n"
                                                "source: {table: local://none, key: id, text: text}\n";
  Outcome r = run("cost '" + (dir.path() / "missing.yaml").string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("local://none"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--items N and --avg-chars C"), std::string::npos) << r.err;

  std::ofstream(dir.path() / "enrich.yaml") << "name: costs\nstate_dir: state\nsource: {table: local://none, key: id}\n"
                                               "consumer: {enrich: {url: 'http://127.0.0.1:1/{id}', text: /text}}\n";
  r = run("cost '" + (dir.path() / "enrich.yaml").string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("give --avg-chars C"), std::string::npos) << r.err;

  r = run("cost '" + (dir.path() / "missing.yaml").string() + "' --items -5 --avg-chars 10");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--items -5"), std::string::npos) << r.err;
}

}  // namespace
