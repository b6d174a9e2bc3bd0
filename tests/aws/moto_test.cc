// One live smoke test: signed calls to a moto server in auth mode (it checks SigV4 with
// botocore's code and IAM policies), started on a free port of 127.0.0.1. Skipped where
// moto_server is not installed. The backends' own tests against moto are theirs.
#include <gtest/gtest.h>

#include "aws/client.h"
#include "core/error.h"
#include "support/moto.h"

namespace sentiflow::aws {
namespace {

using testing_support::AuthMoto;
using testing_support::moto_client;

AwsRequest json_call(const std::string& operation, const std::string& target) {
  return {.operation = operation,
          .headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", target}},
          .body = "{}"};
}

TEST(AwsMoto, SignedCallsPassAuthAndAWrongSecretIsRefused) {
  const AuthMoto moto("sentiflow-smoke");
  if (!moto.skip_reason().empty()) GTEST_SKIP() << moto.skip_reason();
  const Credentials good = moto.credentials();

  // Authentication is on now: correctly signed calls pass.
  const auto sqs = moto_client(kSqs, moto.endpoint(), good);
  EXPECT_EQ(sqs.call(json_call("ListQueues", "AmazonSQS.ListQueues")).status, 200);
  const auto dynamodb = moto_client(kDynamoDb, moto.endpoint(), good);
  EXPECT_NE(dynamodb.call(json_call("ListTables", "DynamoDB_20120810.ListTables")).body.find("TableNames"),
            std::string::npos);
  // S3: a key with spaces, written, read back and listed. moto 5's S3 auth check itself rejects
  // keys with '+', '=', ':', '(' or non-ASCII letters, even from boto3, so the key stays plain here;
  // the vectors cover the rest against botocore.
  const auto s3 = moto_client(kS3, moto.endpoint(), good);
  s3.call({.operation = "CreateBucket", .method = "PUT", .path = "/sentiflow-smoke"});
  const std::string key = "/sentiflow-smoke/reports/run 1/a b.jsonl";
  s3.call({.operation = "PutObject", .method = "PUT", .path = key, .body = "{\"k\": 1}\n"});
  EXPECT_EQ(s3.call({.operation = "GetObject", .method = "GET", .path = key}).body, "{\"k\": 1}\n");
  // (moto's check also fails boto3's own listings whose prefix holds '/' or ':'.)
  const auto listed = s3.call({.operation = "ListObjectsV2",
                               .method = "GET",
                               .path = "/sentiflow-smoke",
                               .query = {{"list-type", "2"}, {"prefix", "reports"}}});
  EXPECT_NE(listed.body.find("<KeyCount>1</KeyCount>"), std::string::npos) << listed.body;
  const auto none = s3.call({.operation = "ListObjectsV2",
                             .method = "GET",
                             .path = "/sentiflow-smoke",
                             .query = {{"prefix", "no such prefix"}, {"list-type", "2"}}});
  EXPECT_NE(none.body.find("<KeyCount>0</KeyCount>"), std::string::npos) << none.body;

  // A wrong secret and an unknown key: refused, invalid_input, and the secret is in no message.
  const std::string wrong_secret = good.secret_access_key + "WRONG";
  const auto bad =
      moto_client(kSqs, moto.endpoint(), {.access_key_id = good.access_key_id, .secret_access_key = wrong_secret});
  try {
    bad.call(json_call("ListQueues", "AmazonSQS.ListQueues"));
    FAIL() << "moto accepted a wrong secret";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    EXPECT_NE(std::string(e.what()).find("SQS ListQueues: SignatureDoesNotMatch"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(wrong_secret), std::string::npos);
  }
  const auto unknown =
      moto_client(kDynamoDb, moto.endpoint(), {.access_key_id = "AKIDUNKNOWN0000000", .secret_access_key = "x"});
  try {
    unknown.call(json_call("ListTables", "DynamoDB_20120810.ListTables"));
    FAIL() << "moto accepted an unknown key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
  }
}

}  // namespace
}  // namespace sentiflow::aws
