// `sentiflow queue|table|store …` as users run them: outputs, exit statuses, messages.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "support/aws_env.h"
#include "support/run_binary.h"

namespace {

namespace fs = std::filesystem;
using sentiflow::testing_support::Outcome;

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

// A pipeline in a folder of its own, and the binary run against it.
class StateCli : public ::testing::Test {
 protected:
  StateCli() {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("sentiflow-state-cli-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write("pipeline.yaml",
          "name: cli-test\n"
          "state_dir: state\n"
          "source: {table: local://companies, key: name, text: description, page_size: 7}\n"
          "queue: {url: local://producer, visibility_timeout: 0s, max_receive_count: 1}\n"
          "sink: {store: out/}\n");
    write("aws.yaml",
          "name: cli-test\n"
          "source: {table: dynamodb://companies, key: name, text: description}\n"
          "queue: {url: sqs://producer}\n"
          "sink: {store: s3://bucket/results/}\n");
  }
  ~StateCli() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string pipeline() const { return "--pipeline '" + path("pipeline.yaml") + "'"; }

  // Runs `sentiflow ARGS` in the test's folder (arguments are quoted by the caller), with
  // `input` on stdin.
  Outcome run(const std::string& args, const std::string& input = "") const {
    return sentiflow::testing_support::run_sentiflow(args, {.cwd = dir_, .input = input});
  }

  fs::path dir_;
};

TEST_F(StateCli, QueueSendReceiveDeleteAndStats) {
  auto r = run("queue send " + pipeline() + " 'first message' second --attribute run=String:r1");
  ASSERT_EQ(r.status, 0) << r.err;
  auto sent = json_lines(r.out);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(sent[0].contains("message_id"));

  r = run("queue stats " + pipeline() + " --json");
  ASSERT_EQ(r.status, 0) << r.err;
  auto stats = json_lines(r.out);
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0], (nlohmann::json{
                          {"queue", "producer"}, {"role", "queue"}, {"visible", 2}, {"in_flight", 0}, {"delayed", 0}}));
  EXPECT_EQ(stats[1]["queue"], "producer-dlq");
  EXPECT_EQ(stats[1]["role"], "dead-letter");

  r = run("queue receive " + pipeline() + " --max 10 --visibility 60s");
  ASSERT_EQ(r.status, 0) << r.err;
  auto received = json_lines(r.out);
  ASSERT_EQ(received.size(), 2u);
  std::set<std::string> bodies;
  for (const auto& m : received) {
    bodies.insert(m["body"].get<std::string>());
    EXPECT_EQ(m["receive_count"], 1);
    EXPECT_EQ(m["attributes"]["run"], (nlohmann::json{{"type", "String"}, {"value", "r1"}}));
  }
  EXPECT_EQ(bodies, (std::set<std::string>{"first message", "second"}));

  r = run("queue delete " + pipeline() + " '" + received[0]["receipt_handle"].get<std::string>() + "'");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).at(0)["deleted"], true);

  r = run("queue stats " + pipeline());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("QUEUE"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("producer-dlq"), std::string::npos) << r.out;
  const auto producer_row = r.out.substr(r.out.find("\nproducer "));
  std::istringstream row(producer_row);
  std::string name, role;
  int visible = -1, in_flight = -1, delayed = -1;
  row >> name >> role >> visible >> in_flight >> delayed;
  EXPECT_EQ(visible, 0);
  EXPECT_EQ(in_flight, 1);
  EXPECT_EQ(delayed, 0);
}

TEST_F(StateCli, QueueSendFromAFileReportsBadLines) {
  write("messages.txt", "one\n\ntwo\nbad\x01line\n");
  const auto r = run("queue send " + pipeline() + " --file messages.txt");
  EXPECT_EQ(r.status, 2) << r.err;
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["line"], 1);
  EXPECT_EQ(lines[1]["line"], 3);
  EXPECT_EQ(lines[2]["line"], 4);
  EXPECT_EQ(lines[2]["code"], "invalid_input");
  EXPECT_NE(lines[2]["error"].get<std::string>().find("control character"), std::string::npos);
}

TEST_F(StateCli, QueueDeleteReportsEachHandle) {
  run("queue send " + pipeline() + " m");
  const auto received = json_lines(run("queue receive " + pipeline() + " --visibility 60s").out);
  ASSERT_EQ(received.size(), 1u);
  const std::string handle = received[0]["receipt_handle"];
  const auto r = run("queue delete " + pipeline() + " -", handle + "\nnot-a-handle\n");
  EXPECT_EQ(r.status, 2) << "a malformed handle is bad input";
  const auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["deleted"], true);
  EXPECT_EQ(lines[1]["deleted"], false);
  EXPECT_EQ(lines[1]["code"], "invalid_input");
}

TEST_F(StateCli, QueueDeadLettersAndRedrive) {
  // visibility_timeout 0s and max_receive_count 1: the second receive dead-letters the message.
  run("queue send " + pipeline() + " poison");
  EXPECT_EQ(json_lines(run("queue receive " + pipeline()).out).size(), 1u);
  EXPECT_TRUE(json_lines(run("queue receive " + pipeline()).out).empty());
  auto dead = json_lines(run("queue receive " + pipeline() + " --queue producer-dlq --visibility 0s").out);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0]["body"], "poison");
  EXPECT_EQ(dead[0]["dead_letter"]["source_queue"], "producer");
  EXPECT_EQ(dead[0]["dead_letter"]["receive_count"], 1);
  EXPECT_NE(dead[0]["dead_letter"]["last_error"].get<std::string>().find("max_receive_count 1"), std::string::npos);

  const auto r = run("queue redrive " + pipeline());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "moved 1 message from 'producer-dlq' back to 'producer'\n");
  const auto back = json_lines(run("queue receive " + pipeline()).out);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0]["body"], "poison");
  EXPECT_EQ(back[0]["receive_count"], 1);
}

TEST_F(StateCli, QueuePurgeNeedsConfirmation) {
  run("queue send " + pipeline() + " a b c");
  auto r = run("queue purge " + pipeline());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("add --yes"), std::string::npos) << r.err;
  r = run("queue purge " + pipeline() + " --yes");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "purged queue 'producer': 3 messages deleted\n");
  EXPECT_EQ(json_lines(run("queue stats " + pipeline() + " --json").out).at(0)["visible"], 0);
}

TEST_F(StateCli, QueueByStateDirectory) {
  run("queue send " + pipeline() + " hello");
  auto r = run("queue stats --state-dir state");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("producer "), std::string::npos) << r.out;
  r = run("queue receive --state-dir state --queue producer");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).at(0)["body"], "hello");
  r = run("queue receive --state-dir state --queue typo");
  EXPECT_EQ(r.status, 2) << "a queue the user named that does not exist is invalid input";
  EXPECT_NE(r.err.find("no queue 'typo' in state (queues: producer, producer-dlq)"), std::string::npos) << r.err;
  EXPECT_EQ(run("queue receive --state-dir state").status, 2) << "--state-dir needs --queue";
}

TEST_F(StateCli, MistypedQueueNamesAreErrorsAndCreateNothing) {
  run("queue send " + pipeline() + " hello");
  const std::string listing = "(queues: producer, producer-dlq)";
  for (const std::string& command : std::vector<std::string>{
           "queue stats " + pipeline() + " --queue typo", "queue receive " + pipeline() + " --queue typo",
           "queue delete " + pipeline() + " --queue typo 1.1.0000000000000001",
           "queue purge " + pipeline() + " --queue typo --yes", "queue redrive " + pipeline() + " --queue typo",
           "queue stats --state-dir state --queue typo", "queue purge --state-dir state --queue typo --yes"}) {
    const auto r = run(command);
    EXPECT_EQ(r.status, 2) << command;
    EXPECT_NE(r.err.find("no queue 'typo' in "), std::string::npos) << command << ": " << r.err;
    EXPECT_NE(r.err.find(listing), std::string::npos) << command << ": " << r.err;
  }
  auto r = run("queue redrive --state-dir state --queue producer --dead-letter tpyo");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no queue 'tpyo' in state " + listing), std::string::npos) << r.err;
  r = run("queue stats --state-dir state --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto queues = json_lines(r.out);
  ASSERT_EQ(queues.size(), 2u) << r.out;
  EXPECT_EQ(queues[0]["queue"], "producer");
  EXPECT_EQ(queues[1]["queue"], "producer-dlq");
  EXPECT_EQ(queues[0]["visible"], 1) << "nothing was received, purged or moved";
}

TEST_F(StateCli, ReceivingFromAPipelineWithoutQueuesYetIsAnError) {
  const auto r = run("queue receive " + pipeline());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no queue 'producer' in "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("state (no queues yet)"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "state" / "queues.sqlite"));
}

TEST_F(StateCli, StatsOfAFreshPipelineCreateNothing) {
  const auto r = run("queue stats " + pipeline() + " --json");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out).size(), 2u);
  EXPECT_FALSE(fs::exists(dir_ / "state" / "queues.sqlite"));
}

TEST_F(StateCli, TargetsAreCheckedAndAwsBackendsAreNamed) {
  EXPECT_EQ(run("queue stats").status, 2);
  EXPECT_EQ(run("queue stats " + pipeline() + " --state-dir state").status, 2);
  EXPECT_EQ(run("table count").status, 2);
  EXPECT_EQ(run("store ls").status, 2);
  EXPECT_EQ(run("queue").status, 2) << "a subcommand is required";
  // AWS URIs work through the same commands (tests/cli/aws_state_cli_test.cc); without a region
  // they are a usage error, said before any request.
  sentiflow::testing_support::hide_aws_settings();
  for (const std::string command : {"queue stats", "table count", "store ls"}) {
    const auto r = run(command + " --pipeline aws.yaml");
    EXPECT_EQ(r.status, 2) << command;
    EXPECT_NE(r.err.find("no AWS region"), std::string::npos) << command << ": " << r.err;
  }
  const auto missing = run("table count --pipeline nowhere.yaml");
  EXPECT_EQ(missing.status, 2) << missing.err;
}

TEST_F(StateCli, TableImportScanAndCount) {
  write("items.jsonl",
        "{\"name\": \"Meta\", \"n\": 12345678901234567890123456789012345678}\n"
        "not json\n"
        "{\"name\": \"Big\", \"x\": 1e400}\n");
  auto r = run("table import " + pipeline() + " items.jsonl");
  EXPECT_EQ(r.status, 2) << "a skipped line makes the exit status 2";
  EXPECT_EQ(r.out, "imported 2 items into local://companies; 1 malformed line skipped\n");
  EXPECT_NE(r.err.find("items.jsonl:2: the item is not valid JSON"), std::string::npos) << r.err;

  r = run("table import " + pipeline() + " - --format csv --json", "name,description\nApple,\"Designs, builds\"\n");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["imported"], 1);
  EXPECT_EQ(report["skipped"], 0);

  r = run("table count " + pipeline());
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "3\n");
  r = run("table scan " + pipeline());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("{\"name\":\"Meta\",\"n\":12345678901234567890123456789012345678}\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("{\"name\":\"Big\",\"x\":1e400}\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("{\"name\":\"Apple\",\"description\":\"Designs, builds\"}\n"), std::string::npos) << r.out;
  EXPECT_EQ(json_lines(run("table scan " + pipeline() + " --limit 2").out).size(), 2u);

  r = run("table import " + pipeline() + " items.jsonl --if-empty");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "local://companies is not empty: nothing imported (--if-empty)\n");
}

TEST_F(StateCli, TableSegmentsCoverTheTable) {
  std::string items;
  for (int i = 0; i < 50; ++i) items += "{\"name\": \"company-" + std::to_string(i) + "\"}\n";
  write("items.jsonl", items);
  ASSERT_EQ(run("table import " + pipeline() + " items.jsonl").status, 0);
  std::set<std::string> seen;
  for (int segment = 0; segment < 3; ++segment) {
    const auto r = run("table scan " + pipeline() + " --segments 3 --segment " + std::to_string(segment));
    ASSERT_EQ(r.status, 0) << r.err;
    for (const auto& item : json_lines(r.out)) EXPECT_TRUE(seen.insert(item["name"]).second);
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(run("table scan " + pipeline() + " --segments 3 --segment 3").status, 2);
}

TEST_F(StateCli, TableByStateDirectory) {
  write("items.csv", "id,text\n1,one\n2,two\n");
  auto r = run("table import --state-dir state --table numbers items.csv");
  EXPECT_EQ(r.status, 2) << "a new table needs its key: a missing option is invalid input";
  EXPECT_NE(r.err.find("creating it needs --key NAME"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "state" / "tables" / "numbers.sqlite"));
  r = run("table count --state-dir state --table typo");
  EXPECT_EQ(r.status, 2) << "a table the user named that does not exist is invalid input";
  EXPECT_NE(r.err.find("local://typo does not exist yet"), std::string::npos) << r.err;
  EXPECT_EQ(run("table scan --state-dir state --table typo").status, 2);
  r = run("table import --state-dir state --table numbers --key id items.csv");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(run("table count --state-dir state --table numbers").out, "2\n");
  r = run("table count " + pipeline());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("does not exist yet"), std::string::npos) << r.err;
}

TEST_F(StateCli, StorePutListAndGet) {
  write("result.jsonl", "{\"a\":1}\n");
  auto r = run("store put " + pipeline() + " run=1/part.jsonl result.jsonl");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto put = nlohmann::json::parse(r.out);
  EXPECT_EQ(put["size"], 8);
  EXPECT_EQ(put["content_type"], "application/x-ndjson");
  EXPECT_EQ(put["etag"].get<std::string>().size(), 32u);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "run=1" / "part.jsonl")) << "the pipeline's sink store";

  r = run("store put --store out notes.txt --content-type text/markdown", "from stdin");
  ASSERT_EQ(r.status, 0) << r.err;
  r = run("store ls " + pipeline());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("  notes.txt\n"), std::string::npos) << r.out;
  EXPECT_LT(r.out.find("notes.txt"), r.out.find("run=1/part.jsonl")) << "key order";
  r = run("store ls " + pipeline() + " run= --json");
  const auto listed = json_lines(r.out);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["key"], "run=1/part.jsonl");
  EXPECT_EQ(listed[0]["etag"], put["etag"]);
  EXPECT_EQ(json_lines(run("store ls " + pipeline() + " --json --max-keys 1").out).size(), 1u);

  r = run("store get " + pipeline() + " run=1/part.jsonl");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "{\"a\":1}\n");
  r = run("store get --store out notes.txt --out copy.txt");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(sentiflow::testing_support::read_whole_file(dir_ / "copy.txt"), "from stdin");
  r = run("store get " + pipeline() + " missing");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no object 'missing'"), std::string::npos) << r.err;
  r = run("store put " + pipeline() + " ../escape result.jsonl");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("'..' segment"), std::string::npos) << r.err;
}

TEST_F(StateCli, TableImportCountsEveryLineOfAnUnclosedQuote) {
  write("items.csv", "name,description\nApple,\"never closed\nMeta,lost\nNetflix,lost\n");
  const auto r = run("table import " + pipeline() + " items.csv");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "imported 0 items into local://companies; 3 malformed lines skipped\n");
  EXPECT_EQ(r.err, "items.csv:2: lines 2-4: a quoted field is not closed before the end of the input\n") << r.err;
}

TEST_F(StateCli, StoreReadsCreateNothing) {
  for (const std::string& command :
       std::vector<std::string>{"store ls --store typo", "store get --store typo key", "store ls " + pipeline()}) {
    const auto r = run(command);
    EXPECT_EQ(r.status, 2) << command;
    EXPECT_NE(r.err.find("no store at"), std::string::npos) << command << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(dir_ / "typo"));
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(StateCli, StorePutStoresNothingWhenStdinFails) {
  // Reading a directory fails (EISDIR); no .input, so that the redirection is the last one.
  const auto r = sentiflow::testing_support::run_sentiflow("store put --store out key.txt < .", {.cwd = dir_});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("stdin could not be read to its end; nothing was stored"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "out" / "key.txt"));
}

TEST_F(StateCli, HelpListsTheStateCommands) {
  const auto r = run("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* command : {"queue", "table", "store"}) EXPECT_NE(r.out.find(command), std::string::npos) << command;
  EXPECT_NE(run("help queue").out.find("redrive"), std::string::npos);
  EXPECT_NE(run("help table").out.find("import"), std::string::npos);
  EXPECT_NE(run("help store").out.find("ls"), std::string::npos);
}

}  // namespace
