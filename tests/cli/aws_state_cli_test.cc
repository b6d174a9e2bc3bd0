// `sentiflow table|queue|store …` on a pipeline whose table, queue and sink are on AWS's
// services, served by moto_server on 127.0.0.1 with its auth off (as aws_run_test.cc, which says
// why). Skipped where moto_server is not installed.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "store/s3_store.h"
#include "support/aws_env.h"
#include "support/moto.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"
#include "table/dynamodb_table.h"

namespace sentiflow {
namespace {

using testing_support::Outcome;
using testing_support::TempDir;

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

class AwsStateCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { moto_ = testing_support::start_open_moto(); }  // no action ever needs auth
  static void TearDownTestSuite() { moto_.reset(); }

  void SetUp() override {
    if (moto_ == nullptr) GTEST_SKIP() << "moto_server is not installed or did not start";
    // The child process finds its credentials and region in the environment it inherits; the
    // old values come back in TearDown, so that later tests of this binary see none of them.
    env_.set("AWS_ACCESS_KEY_ID", credentials_.access_key_id);
    env_.set("AWS_SECRET_ACCESS_KEY", credentials_.secret_access_key);
    env_.set("AWS_REGION", "us-east-1");
    std::ofstream(dir_.path() / "p.yaml") << fmt::format(R"(name: aws-state
state_dir: state
source: {{table: "dynamodb://companies", key: name, text: description, page_size: 2}}
queue: {{url: "sqs://aws-state", visibility_timeout: 30s, max_receive_count: 3}}
sink: {{store: "s3://results/sentiment/"}}
aws: {{endpoint_url: "{}"}}
)",
                                                         moto_->endpoint());
  }

  void TearDown() override { env_.restore(); }

  aws::AwsClient client(const aws::ServiceInfo& service) const {
    return testing_support::moto_client(service, moto_->endpoint(), credentials_);
  }
  Outcome run(const std::string& args, const std::string& input = "") const {
    return testing_support::run_sentiflow(args + " --pipeline p.yaml", {.cwd = dir_.path(), .input = input});
  }

  static inline std::unique_ptr<testing_support::MotoServer> moto_;  // one per suite; null: skip
  const aws::Credentials credentials_{.access_key_id = "AKIDTEST", .secret_access_key = "secret"};
  TempDir dir_{"aws-state-cli"};
  testing_support::ScopedEnv env_;  // the variables SetUp sets
};

TEST_F(AwsStateCli, TableImportCountAndScanOnDynamoDb) {
  DynamoDbTableOptions options;
  options.name = "companies";
  options.key_schema = KeySchema{"name"};
  options.create_if_missing = true;
  DynamoDbTable table(std::make_shared<const aws::AwsClient>(client(aws::kDynamoDb)), options);

  // 30 good lines (more than one put_batch of 25), one malformed, one without its key, and a
  // key given twice: the later line wins.
  std::string jsonl;
  for (int i = 0; i < 30; ++i) jsonl += fmt::format(R"({{"name":"c{:02}","description":"company {}"}})", i, i) + "\n";
  jsonl += "{not json\n";
  jsonl += R"({"description":"no key"})"
           "\n";
  jsonl += R"({"name":"c00","n":12345678901234567890123456789012345678})"
           "\n";
  std::ofstream(dir_.path() / "items.jsonl") << jsonl;

  Outcome r = run("table import items.jsonl --json");
  EXPECT_EQ(r.status, 2) << "malformed lines are reported: " << r.err;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["table"], "dynamodb://companies");
  EXPECT_EQ(report["imported"], 31);
  EXPECT_EQ(report["skipped"], 2);
  ASSERT_EQ(report["errors"].size(), 2u) << r.out;
  EXPECT_EQ(report["errors"][0]["line"], 31);
  EXPECT_EQ(report["errors"][1]["line"], 32);

  r = run("table count");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "30\n");
  EXPECT_EQ(table.count(), 30);

  r = run("table scan");  // page_size 2: many pages
  ASSERT_EQ(r.status, 0) << r.err;
  std::set<std::string> names;
  for (const auto& item : json_lines(r.out)) {
    names.insert(item["name"].get<std::string>());
    if (item["name"] == "c00") {
      EXPECT_FALSE(item.contains("description")) << item.dump();
    }
  }
  EXPECT_EQ(names.size(), 30u);
  EXPECT_NE(r.out.find("12345678901234567890123456789012345678"), std::string::npos) << "numbers stay exact";

  r = run("table import items.jsonl --if-empty");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("is not empty"), std::string::npos) << r.out;
  r = run("table import items.jsonl --format csv");
  EXPECT_EQ(r.status, 2) << "CSV goes into local tables only";
}

TEST_F(AwsStateCli, QueueAndStoreCommandsOnSqsAndS3) {
  // Reading commands never create the queue.
  Outcome r = run("queue receive");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no SQS queue 'aws-state'"), std::string::npos) << r.err;
  r = run("queue stats --json");
  ASSERT_EQ(r.status, 0) << r.err;
  auto stats = json_lines(r.out);
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0]["visible"], 0);
  EXPECT_EQ(run("queue receive").status, 2) << "stats created nothing either";

  r = run("queue send 'first message' second --attribute run=String:r1");
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(json_lines(r.out).size(), 2u);
  EXPECT_TRUE(json_lines(r.out)[0].contains("message_id")) << r.out;

  r = run("queue stats --json");
  ASSERT_EQ(r.status, 0) << r.err;
  stats = json_lines(r.out);
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0]["queue"], "aws-state");
  EXPECT_EQ(stats[0]["visible"], 2);
  EXPECT_EQ(stats[1]["role"], "dead-letter");
  EXPECT_EQ(stats[1]["visible"], 0);

  r = run("queue receive --max 10");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto received = json_lines(r.out);
  ASSERT_EQ(received.size(), 2u) << r.out;
  std::set<std::string> bodies;
  for (const auto& m : received) bodies.insert(m["body"].get<std::string>());
  EXPECT_EQ(bodies, (std::set<std::string>{"first message", "second"}));
  EXPECT_EQ(received[0]["attributes"]["run"]["value"], "r1");

  r = run("queue delete '" + received[0]["receipt_handle"].get<std::string>() + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json_lines(r.out)[0]["deleted"], true);

  // The store: keys relative to the sink's prefix in the bucket.
  S3Store bucket(client(aws::kS3), S3StoreOptions{.bucket = "results", .create_bucket = true});
  r = run("store put notes/a.txt", "hello s3");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["key"], "notes/a.txt");
  EXPECT_EQ(nlohmann::json::parse(r.out)["size"], 8);
  ASSERT_TRUE(bucket.get("sentiment/notes/a.txt").has_value()) << "stored under the sink's prefix";

  r = run("store ls --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto listed = json_lines(r.out);
  ASSERT_EQ(listed.size(), 1u) << r.out;
  EXPECT_EQ(listed[0]["key"], "notes/a.txt");

  r = run("store get notes/a.txt");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello s3");
  EXPECT_EQ(run("store get notes/missing.txt").status, 1);
}

}  // namespace
}  // namespace sentiflow
