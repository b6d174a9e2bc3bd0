// `source.incremental: true` as users run it (docs/RUNNING.md, "Incremental scans"): a second
// run over an unchanged table sends nothing; changed and new items are sent; `--full` sends all.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sentiflow::testing_support::Outcome;
using sentiflow::testing_support::TempDir;

Outcome run(const std::string& args) { return sentiflow::testing_support::run_sentiflow(args); }

void write_items(const fs::path& file, int n, const std::string& suffix = "") {
  std::ofstream out(file);
  for (int i = 0; i < n; ++i)
    out << json{{"id", "item-" + std::to_string(i)}, {"text", "a fine text number " + std::to_string(i) + suffix}}
               .dump()
        << "\n";
}

json newest_run(const std::string& pipeline) {
  const Outcome r = run("status '" + pipeline + "' --json --limit 1");
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(r.out)["runs"][0];
}

TEST(IncrementalCli, ASecondRunOverAnUnchangedTableSendsNothingAndAChangedItemIsSentAgain) {
  const TempDir dir("incremental");
  write_items(dir.path() / "items.jsonl", 30);
  const std::string pipeline = (dir.path() / "p.yaml").string();
  std::ofstream(pipeline) << "name: inc\nstate_dir: state\n"
                             "source: {table: local://items, key: id, text: text, seed: items.jsonl, "
                             "incremental: true, page_size: 7}\n"
                             "consumer: {batch_size: 5}\nsink: {store: out/}\n";
  Outcome r = run("run '" + pipeline + "' --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("30 scanned · 30 sent · 0 unchanged (not sent)"), std::string::npos) << r.out;

  r = run("run '" + pipeline + "' --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("30 scanned · 0 sent · 30 unchanged (not sent)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  saved         $"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("by the incremental scan: 30 unchanged items not sent"), std::string::npos) << r.out;
  const json second = newest_run(pipeline);
  EXPECT_EQ(second["unchanged"], 30);
  EXPECT_EQ(second["sent"], 0);
  EXPECT_EQ(second["state"], "finished");
  // What it saved: the 30 texts' Comprehend units (3 each: what engine comprehend would have
  // cost, not counted with vader), and the SQS, Lambda and S3 work of sending them.
  EXPECT_EQ(second["work"]["unchanged_comprehend_units"], 90);
  const json& saved = second["saved"];
  EXPECT_EQ(saved["lines"][0]["service"], "Comprehend");
  EXPECT_NEAR(saved["lines"][0]["dollars"].get<double>(), 90 * 0.0001, 1e-12);
  EXPECT_GT(saved["total"].get<double>(), 0);
  EXPECT_EQ(second["work"]["comprehend_units"], 0);  // nothing was analysed

  // Two texts change, one item is new, and one is imported again as it was.
  {
    std::ofstream out(dir.path() / "update.jsonl");
    out << json{{"id", "item-3"}, {"text", "now a terrible text"}}.dump() << "\n"
        << json{{"id", "item-4"}, {"text", "now a wonderful text"}}.dump() << "\n"
        << json{{"id", "item-new"}, {"text", "brand new"}}.dump() << "\n"
        << json{{"id", "item-5"}, {"text", "a fine text number 5"}}.dump() << "\n";
  }
  r = run("table import --pipeline '" + pipeline + "' '" + (dir.path() / "update.jsonl").string() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run("run '" + pipeline + "' --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("31 scanned · 3 sent · 28 unchanged (not sent)"), std::string::npos) << r.out;
  const std::string third = newest_run(pipeline)["id"];
  r = run("results '" + pipeline + "' --run '" + third + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"key\":\"item-3\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"key\":\"item-new\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\"key\":\"item-5\""), std::string::npos) << r.out;

  // --full sends every item, and the run after it sends nothing again.
  r = run("run '" + pipeline + "' --run full-pass --full --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("31 scanned · 31 sent · 0 unchanged"), std::string::npos) << r.out;
  r = run("run '" + pipeline + "' --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("31 scanned · 0 sent · 31 unchanged"), std::string::npos) << r.out;
}

TEST(IncrementalCli, FullIsRefusedWhereItMeansNothing) {
  const TempDir dir("incremental");
  write_items(dir.path() / "items.jsonl", 3);
  const std::string plain = (dir.path() / "plain.yaml").string();
  std::ofstream(plain) << "name: plain\nstate_dir: state\n"
                          "source: {table: local://items, key: id, text: text, seed: items.jsonl}\n";
  Outcome r = run("run '" + plain + "' --run x --full --no-progress");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("does not scan incrementally (source.incremental)"), std::string::npos) << r.err;
  r = run("run '" + plain + "' --once --full --no-progress");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--full goes with --run ID"), std::string::npos) << r.err;

  std::ofstream(dir.path() / "bad.yaml") << "name: bad\nstate_dir: state\n"
                                            "source: {table: local://items, key: id, text: text, incremental: yes}\n";
  r = run("validate '" + (dir.path() / "bad.yaml").string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("source.incremental"), std::string::npos) << r.err;
}

}  // namespace
