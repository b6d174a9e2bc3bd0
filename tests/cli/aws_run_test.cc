// The same pipeline on AWS's services: `sentiflow run` over a DynamoDB table, an SQS queue and
// an S3 sink, all served by moto_server on 127.0.0.1. Moto runs with its auth off here: in auth
// mode it refuses correct signatures for S3 keys with ':' or '=' (docs/AWS.md), and every result
// key holds both (run=2026-…T06:00:00Z/); the signatures themselves are proven against moto in
// auth mode by the aws, queue, table and store tests. Skipped where moto_server is not installed.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "store/s3_store.h"
#include "support/moto.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"
#include "table/dynamodb_table.h"

namespace sentiflow {
namespace {

using testing_support::TempDir;

TEST(AwsRunCli, APipelineOnDynamoDbSqsAndS3StoresEveryItemOnce) {
  std::string why;
  const auto moto = testing_support::start_open_moto(&why);  // no action ever needs auth
  if (!moto) GTEST_SKIP() << why;
  const aws::Credentials credentials{.access_key_id = "AKIDTEST", .secret_access_key = "secret"};
  ::setenv("AWS_ACCESS_KEY_ID", credentials.access_key_id.c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key.c_str(), 1);

  // The table: 30 items, one with a 38-digit number, one without text.
  DynamoDbTableOptions table_options;
  table_options.name = "companies";
  table_options.key_schema = KeySchema{"name"};
  table_options.create_if_missing = true;
  DynamoDbTable table(std::make_shared<const aws::AwsClient>(
                          testing_support::moto_client(aws::kDynamoDb, moto->endpoint(), credentials)),
                      table_options);
  for (int i = 0; i < 28; ++i)
    table.put(fmt::format(R"({{"name":"c{:02}","description":"a good and helpful company number {}"}})", i, i));
  table.put(R"({"name":"big","n":12345678901234567890123456789012345678,"description":"great"})");
  table.put(R"({"name":"no-text"})");
  S3Store bucket(testing_support::moto_client(aws::kS3, moto->endpoint(), credentials),
                 S3StoreOptions{.bucket = "results", .create_bucket = true});

  TempDir dir("aws-run");
  std::ofstream(dir.path() / "p.yaml") << fmt::format(R"(name: aws-run
state_dir: state
source: {{table: "dynamodb://companies", key: name, text: description, page_size: 7}}
queue: {{url: "sqs://aws-run", visibility_timeout: 5s, max_receive_count: 3}}
consumer: {{batch_size: 10, concurrency: {{min: 1, max: 2}}}}
sink: {{store: "s3://results/sentiment/"}}
aws: {{region: us-east-1, endpoint_url: "{}"}}
)",
                                                      moto->endpoint());
  const std::string file = "'" + (dir.path() / "p.yaml").string() + "'";

  const auto run = testing_support::run_sentiflow("run " + file + " --once --no-progress");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find("30 scanned · 29 sent · 1 error records"), std::string::npos) << run.out;

  const auto results = testing_support::run_sentiflow("results " + file);
  ASSERT_EQ(results.status, 0) << results.err;
  std::set<std::string> keys;
  std::istringstream lines(results.out);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(keys.insert(nlohmann::json::parse(line)["key"].get<std::string>()).second) << line;
    if (line.find(R"("key":"big")") != std::string::npos) {  // the number, exactly, DynamoDB to S3
      EXPECT_NE(line.find(R"("n":12345678901234567890123456789012345678)"), std::string::npos) << line;
    }
  }
  EXPECT_EQ(keys.size(), 29u);
  const auto errors = testing_support::run_sentiflow("results " + file + " --errors");
  EXPECT_NE(errors.out.find(R"("key":"no-text")"), std::string::npos) << errors.out;
  EXPECT_NE(errors.out.find("missing_text"), std::string::npos) << errors.out;

  // The objects are in the bucket under the sink's prefix.
  const ListPage page = bucket.list(ListRequest{.prefix = "sentiment/run="});
  EXPECT_FALSE(page.objects.empty());
  const auto status = testing_support::run_sentiflow("status " + file + " --json");
  ASSERT_EQ(status.status, 0) << status.err;
  const auto s = nlohmann::json::parse(status.out);
  EXPECT_EQ(s["runs"][0]["state"], "finished");
  EXPECT_EQ(s["queue"]["counts"]["visible"], 0);
}

}  // namespace
}  // namespace sentiflow
