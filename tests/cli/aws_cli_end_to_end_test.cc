// End to end with AWS's own tools: the AWS CLI makes the table (create-table, batch-write-item),
// the queue and its dead-letter queue (a RedrivePolicy) and the bucket; `sentiflow run --once`
// runs the pipeline on dynamodb://, sqs:// and s3://; the AWS CLI reads the result objects back
// and every item is there exactly once.
//
// The peers are two moto_servers on 127.0.0.1. DynamoDB and SQS are on one in auth mode (an IAM
// user's access key signs both the CLI's requests and ours). S3 is on a second one with its auth
// off: in auth mode moto refuses correct signatures, boto3's and the AWS CLI's included, for keys
// with '=' or ':' and for list prefixes with '/', and every result key holds them
// (sentiment/run=2026-…T06:00:00Z/…; docs/AWS.md). The pipeline finds each through the
// per-service endpoint settings AWS_ENDPOINT_URL_DYNAMODB, _SQS and _S3, which this also tests.
// Skipped where moto_server or the AWS CLI (`aws`) is not installed.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "support/aws_cli.h"
#include "support/aws_env.h"
#include "support/moto.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace sentiflow {
namespace {

using testing_support::ScopedEnv;
using testing_support::TempDir;

constexpr int kItems = 200;  // a few hundred: moto's SQS slows sharply with thousands of messages

TEST(AwsCliEndToEnd, ResourcesMadeWithTheAwsCliRunOnceAndEveryItemIsReadBackOnce) {
  const auto cli = testing_support::AwsCli::find();
  if (!cli) GTEST_SKIP() << "the AWS CLI (aws) is not on PATH (scripts/setup installs Debian's awscli)";
  testing_support::AuthMoto moto;  // DynamoDB and SQS, in auth mode
  if (!moto.skip_reason().empty()) GTEST_SKIP() << moto.skip_reason();
  const auto s3_moto = testing_support::start_open_moto();  // S3, auth off
  ASSERT_TRUE(s3_moto) << "moto_server started in auth mode but not with auth off";

  // Both tools sign with the IAM user's key, from the environment.
  ScopedEnv env;
  env.set("AWS_ACCESS_KEY_ID", moto.credentials().access_key_id);
  env.set("AWS_SECRET_ACCESS_KEY", moto.credentials().secret_access_key);
  env.unset("AWS_SESSION_TOKEN");
  env.set("AWS_DEFAULT_REGION", "us-east-1");
  env.unset("AWS_REGION");
  env.unset("AWS_PROFILE");
  env.unset("AWS_ENDPOINT_URL");
  env.unset("AWS_MAX_ATTEMPTS");
  env.set("AWS_EC2_METADATA_DISABLED", "true");
  env.set("AWS_PAGER", "");
  env.set("AWS_CONFIG_FILE", testing_support::kNoAwsConfigFile);
  env.set("AWS_SHARED_CREDENTIALS_FILE", testing_support::kNoAwsCredentialsFile);
  const std::string aws_endpoint = moto.endpoint();
  const std::string s3_endpoint = s3_moto->endpoint();

  // The table, made and filled by the AWS CLI (BatchWriteItem takes 25 items a call).
  cli->json(
      aws_endpoint,
      "dynamodb create-table --table-name e2e-companies --attribute-definitions AttributeName=name,AttributeType=S "
      "--key-schema AttributeName=name,KeyType=HASH --billing-mode PAY_PER_REQUEST");
  TempDir dir("aws-cli-e2e");
  for (int first = 0; first < kItems; first += 25) {
    nlohmann::json puts = nlohmann::json::array();
    for (int i = first; i < std::min(first + 25, kItems); ++i)
      puts.push_back({{"PutRequest",
                       {{"Item",
                         {{"name", {{"S", fmt::format("company-{:03}", i)}}},
                          {"description", {{"S", fmt::format("a good and helpful company, number {}", i)}}},
                          {"rank", {{"N", std::to_string(i)}}}}}}}});
    const auto file = dir.path() / fmt::format("batch-{}.json", first);
    std::ofstream(file) << nlohmann::json{{"e2e-companies", puts}}.dump();
    const auto answer =
        cli->json(aws_endpoint, "dynamodb batch-write-item --request-items 'file://" + file.string() + "'");
    ASSERT_TRUE(answer["UnprocessedItems"].empty()) << answer.dump();
  }

  // The queue and its dead-letter queue, joined by a RedrivePolicy.
  cli->json(aws_endpoint, "sqs create-queue --queue-name e2e-dead");
  const auto dead_url =
      cli->json(aws_endpoint, "sqs get-queue-url --queue-name e2e-dead")["QueueUrl"].get<std::string>();
  const auto dead_arn = cli->json(aws_endpoint, "sqs get-queue-attributes --queue-url '" + dead_url +
                                                    "' --attribute-names QueueArn")["Attributes"]["QueueArn"]
                            .get<std::string>();
  const nlohmann::json attributes = {
      {"VisibilityTimeout", "30"},
      {"RedrivePolicy", nlohmann::json{{"deadLetterTargetArn", dead_arn}, {"maxReceiveCount", "3"}}.dump()}};
  std::ofstream(dir.path() / "queue.json") << attributes.dump();
  const auto queue_url = cli->json(aws_endpoint, "sqs create-queue --queue-name e2e-work --attributes 'file://" +
                                                     (dir.path() / "queue.json").string() + "'")["QueueUrl"]
                             .get<std::string>();

  // The bucket.
  cli->json(s3_endpoint, "s3api create-bucket --bucket e2e-results");

  // The pipeline: no endpoint in the file; each service's own endpoint setting. One consumer:
  // moto's ReceiveMessage is not atomic (two concurrent receives may get one message), and the
  // raw objects are to hold each item exactly once.
  env.set("AWS_ENDPOINT_URL_DYNAMODB", aws_endpoint);
  env.set("AWS_ENDPOINT_URL_SQS", aws_endpoint);
  env.set("AWS_ENDPOINT_URL_S3", s3_endpoint);
  std::ofstream(dir.path() / "p.yaml") << R"(name: aws-cli-e2e
state_dir: state
source: {table: "dynamodb://e2e-companies", key: name, text: description, page_size: 40, segments: 2}
queue: {url: "sqs://e2e-work", dead_letter: e2e-dead, visibility_timeout: 30s, max_receive_count: 3}
consumer: {batch_size: 10, concurrency: {min: 1, max: 1}}
sink: {store: "s3://e2e-results/sentiment/"}
aws: {region: us-east-1}
)";
  const auto run = testing_support::run_sentiflow("run p.yaml --once --no-progress", {.cwd = dir.path()});
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find(fmt::format("{} scanned · {} sent · 0 error records", kItems, kItems)), std::string::npos)
      << run.out;

  // Read back with the AWS CLI: the listing, then every object.
  std::set<std::string> listed;
  std::string continuation;
  do {
    const auto page =
        cli->json(s3_endpoint, "s3api list-objects-v2 --bucket e2e-results --prefix sentiment/" +
                                   (continuation.empty() ? "" : " --continuation-token '" + continuation + "'"));
    for (const auto& object : page.value("Contents", nlohmann::json::array()))
      listed.insert(object["Key"].get<std::string>());
    continuation = page.value("NextContinuationToken", "");
  } while (!continuation.empty());
  ASSERT_FALSE(listed.empty());
  for (const auto& key : listed) {
    EXPECT_TRUE(key.starts_with("sentiment/run=") && key.ends_with(".jsonl")) << key;
    EXPECT_EQ(key.find("_errors/"), std::string::npos) << "no error records: " << key;
  }
  const auto copies = dir.path() / "copies";
  ASSERT_EQ(cli->run(s3_endpoint,
                     "s3 cp s3://e2e-results/sentiment/ '" + copies.string() + "' --recursive --only-show-errors")
                .status,
            0);
  std::map<std::string, int> seen;  // item key -> records
  size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(copies)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::istringstream lines(testing_support::read_whole_file(entry.path()));
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      const auto record = nlohmann::json::parse(line);
      ++seen[record["key"].get<std::string>()];
      EXPECT_TRUE(record.contains("sentiment")) << line;
    }
  }
  EXPECT_EQ(files, listed.size());
  EXPECT_EQ(seen.size(), static_cast<size_t>(kItems));
  for (const auto& [key, count] : seen) EXPECT_EQ(count, 1) << key << " is stored " << count << " times";
  // One object through GetObject itself, byte for byte what `s3 cp` wrote.
  const std::string first = *listed.begin();
  const auto one = dir.path() / "one.jsonl";
  cli->json(s3_endpoint, "s3api get-object --bucket e2e-results --key '" + first + "' '" + one.string() + "'");
  EXPECT_EQ(testing_support::read_whole_file(one),
            testing_support::read_whole_file(copies / first.substr(std::string("sentiment/").size())));

  // The queues are drained, and the run left the CLI's RedrivePolicy as it was.
  const auto work =
      cli->json(aws_endpoint, "sqs get-queue-attributes --queue-url '" + queue_url + "' --attribute-names All");
  EXPECT_EQ(work["Attributes"]["ApproximateNumberOfMessages"], "0");
  EXPECT_EQ(work["Attributes"]["ApproximateNumberOfMessagesNotVisible"], "0");
  const auto redrive = nlohmann::json::parse(work["Attributes"]["RedrivePolicy"].get<std::string>());
  EXPECT_EQ(redrive["deadLetterTargetArn"], dead_arn);
  EXPECT_EQ(redrive["maxReceiveCount"].dump().find('3') != std::string::npos, true) << redrive.dump();
  const auto dead =
      cli->json(aws_endpoint, "sqs get-queue-attributes --queue-url '" + dead_url + "' --attribute-names All");
  EXPECT_EQ(dead["Attributes"]["ApproximateNumberOfMessages"], "0");
}

}  // namespace
}  // namespace sentiflow
