// Regions, endpoints, shared files, AWS error codes and the retry policy: the pure parts of aws/.
#include "aws/settings.h"

#include <gtest/gtest.h>

#include <fstream>

#include "aws/endpoints.h"
#include "aws/errors.h"
#include "aws/retry.h"
#include "core/error.h"
#include "support/temp_dir.h"

namespace sentiflow::aws {
namespace {

using testing_support::TempDir;

void write_file(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

TEST(AwsSettings, IniFilesReadAsTheCliReadsThem) {
  const auto ini = parse_ini(
      "# comment\n; another\n[default]\nregion = eu-west-1\r\nAWS_Access_Key_ID=AKID \n"
      "s3 =\n  addressing_style = path\nafter = yes\n[profile dev]\nregion=us-west-2\n\n[ spaced ]\nk = a = b\n"
      "stray line\n");
  ASSERT_EQ(ini.count("default"), 1u);
  EXPECT_EQ(ini.at("default").at("region"), "eu-west-1");
  EXPECT_EQ(ini.at("default").at("aws_access_key_id"), "AKID") << "keys lower-cased, values trimmed";
  EXPECT_EQ(ini.at("default").count("addressing_style"), 0u) << "nested blocks are skipped";
  EXPECT_EQ(ini.at("default").at("after"), "yes");
  EXPECT_EQ(ini.at("profile dev").at("region"), "us-west-2");
  EXPECT_EQ(ini.at("spaced").at("k"), "a = b");
}

TEST(AwsSettings, ProfilesComeFromBothFilesTheCredentialsFileWinning) {
  TempDir dir("aws-profiles");
  write_file(dir.path() / "config",
             "[default]\nregion = eu-west-1\n[profile dev]\nregion = us-west-2\naws_access_key_id = FROMCONFIG\n"
             "[dev]\nregion = ignored-without-profile-prefix\n");
  write_file(dir.path() / "credentials", "[dev]\naws_access_key_id = FROMCREDENTIALS\n");
  const auto env = fixed_environment({{"AWS_CONFIG_FILE", (dir.path() / "config").string()},
                                      {"AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "credentials").string()}});
  const auto dev = load_profile("dev", env);
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->at("region"), "us-west-2");
  EXPECT_EQ(dev->at("aws_access_key_id"), "FROMCREDENTIALS");
  EXPECT_EQ(load_profile("default", env)->at("region"), "eu-west-1");
  EXPECT_FALSE(load_profile("nope", env));
}

TEST(AwsSettings, SharedFilesDefaultToHome) {
  const auto env = fixed_environment({{"HOME", "/home/ada"}});
  EXPECT_EQ(credentials_file_path(env), "/home/ada/.aws/credentials");
  EXPECT_EQ(config_file_path(env), "/home/ada/.aws/config");
  EXPECT_EQ(config_file_path(fixed_environment({{"HOME", "/h"}, {"AWS_CONFIG_FILE", "~/cfg"}})), "/h/cfg");
}

TEST(AwsSettings, ThePipelineFileProfileBeatsAwsProfile) {
  const auto env = fixed_environment({{"AWS_PROFILE", "fromenv"}});
  auto choice = choose_profile({.profile = "fromfile"}, env);
  EXPECT_EQ(choice.name, "fromfile");
  EXPECT_TRUE(choice.named && choice.from_pipeline_file);
  choice = choose_profile({}, env);
  EXPECT_EQ(choice.name, "fromenv");
  EXPECT_TRUE(choice.named && !choice.from_pipeline_file);
  choice = choose_profile({}, fixed_environment({{"AWS_PROFILE", ""}}));
  EXPECT_EQ(choice.name, "default");
  EXPECT_FALSE(choice.named) << "an empty variable counts as unset";
}

TEST(AwsRegion, ResolvedInOrder) {
  TempDir dir("aws-region");
  write_file(dir.path() / "config", "[default]\nregion = eu-west-1\n[profile dev]\nregion = ap-south-1\n");
  std::map<std::string, std::string, std::less<>> vars = {
      {"AWS_CONFIG_FILE", (dir.path() / "config").string()},
      {"AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "none").string()},
      {"AWS_REGION", "us-east-2"},
      {"AWS_DEFAULT_REGION", "us-west-1"}};
  EXPECT_EQ(resolve_region({.region = "ca-central-1"}, fixed_environment(vars)), "ca-central-1");
  EXPECT_EQ(resolve_region({}, fixed_environment(vars)), "us-east-2");
  vars.erase("AWS_REGION");
  EXPECT_EQ(resolve_region({}, fixed_environment(vars)), "us-west-1");
  vars.erase("AWS_DEFAULT_REGION");
  EXPECT_EQ(resolve_region({}, fixed_environment(vars)), "eu-west-1");
  EXPECT_EQ(resolve_region({.profile = "dev"}, fixed_environment(vars)), "ap-south-1");
  vars["AWS_PROFILE"] = "dev";
  EXPECT_EQ(resolve_region({}, fixed_environment(vars)), "ap-south-1");
}

TEST(AwsRegion, MissingOrMalformedIsInvalidInputWithAHint) {
  const auto env = fixed_environment(
      {{"AWS_CONFIG_FILE", "/nonexistent/config"}, {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"}});
  try {
    resolve_region({}, env);
    FAIL() << "resolved a region from nothing";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("AWS_REGION"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_region({.region = "evil.example.com/"}, env), Error);
  EXPECT_THROW(resolve_region({}, fixed_environment({{"AWS_REGION", "US EAST"}})), Error);
}

TEST(AwsEndpoints, DefaultsAreRegional) {
  const auto env = fixed_environment({});
  EXPECT_EQ(resolve_endpoint(kDynamoDb, "eu-west-1", {}, env), "https://dynamodb.eu-west-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint(kS3, "us-east-1", {}, env), "https://s3.us-east-1.amazonaws.com");
  EXPECT_EQ(resolve_endpoint(kSqs, "ap-southeast-2", {}, env), "https://sqs.ap-southeast-2.amazonaws.com");
  EXPECT_EQ(resolve_endpoint(kEventBridge, "us-west-2", {}, env), "https://events.us-west-2.amazonaws.com");
  EXPECT_EQ(resolve_endpoint(kS3, "cn-north-1", {}, env), "https://s3.cn-north-1.amazonaws.com.cn");
}

TEST(AwsEndpoints, OverridesInOrder) {
  std::map<std::string, std::string, std::less<>> vars = {{"AWS_ENDPOINT_URL", "http://127.0.0.1:4566/"},
                                                          {"AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"}};
  EXPECT_EQ(
      resolve_endpoint(kDynamoDb, "us-east-1", {.endpoint_url = "http://localhost:5000/"}, fixed_environment(vars)),
      "http://localhost:5000");
  EXPECT_EQ(resolve_endpoint(kDynamoDb, "us-east-1", {}, fixed_environment(vars)), "http://127.0.0.1:8000");
  EXPECT_EQ(resolve_endpoint(kSqs, "us-east-1", {}, fixed_environment(vars)), "http://127.0.0.1:4566");
  vars.clear();
  EXPECT_EQ(resolve_endpoint(kComprehend, "us-east-1", {},
                             fixed_environment({{"AWS_ENDPOINT_URL_COMPREHEND", "https://c.example/base"}})),
            "https://c.example/base");
}

TEST(AwsEndpoints, VariableNamesFollowTheServiceId) {
  EXPECT_EQ(endpoint_variable(kDynamoDb), "AWS_ENDPOINT_URL_DYNAMODB");
  EXPECT_EQ(endpoint_variable(kSqs), "AWS_ENDPOINT_URL_SQS");
  EXPECT_EQ(endpoint_variable(kS3), "AWS_ENDPOINT_URL_S3");
  EXPECT_EQ(endpoint_variable(kComprehend), "AWS_ENDPOINT_URL_COMPREHEND");
  EXPECT_EQ(endpoint_variable(kEventBridge), "AWS_ENDPOINT_URL_EVENTBRIDGE");
  EXPECT_EQ(endpoint_variable({"Cognito Identity Provider", "cognito-idp", "cognito-idp"}),
            "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER");
}

TEST(AwsEndpoints, ABadOverrideNamesItsSetting) {
  try {
    resolve_endpoint(kSqs, "us-east-1", {}, fixed_environment({{"AWS_ENDPOINT_URL_SQS", "localhost:4566"}}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("AWS_ENDPOINT_URL_SQS"), std::string::npos) << e.what();
  }
  EXPECT_THROW(resolve_endpoint(kSqs, "us-east-1", {.endpoint_url = "ftp://x"}, fixed_environment({})), Error);
  EXPECT_THROW(resolve_endpoint(kSqs, "us-east-1/../x", {}, fixed_environment({})), Error);
}

HttpResponse response(long status, std::string body, HttpHeaders headers = {}) {
  return {.status = status, .headers = std::move(headers), .body = std::move(body)};
}

TEST(AwsErrors, ParsesJsonXmlHeadersAndStatus) {
  auto e = parse_error(response(400, R"({"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                                        "message":"Requested resource not found"})"));
  EXPECT_EQ(e.code, "ResourceNotFoundException");
  EXPECT_EQ(e.message, "Requested resource not found");
  e = parse_error(response(400, R"({"__type":"com.amazon.coral.validate#ValidationException","Message":"bad"})"));
  EXPECT_EQ(e.code, "ValidationException");
  EXPECT_EQ(e.message, "bad");
  e = parse_error(response(404,
                           "<?xml version=\"1.0\"?>\n<Error><Code>NoSuchKey</Code><Message>The key &lt;a&gt; &amp; "
                           "more</Message><Key>a</Key></Error>"));
  EXPECT_EQ(e.code, "NoSuchKey");
  EXPECT_EQ(e.message, "The key <a> & more");
  e = parse_error(response(400,
                           "<ErrorResponse><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue"
                           "</Code><Message>The specified queue does not exist.</Message></Error></ErrorResponse>"));
  EXPECT_EQ(e.code, "AWS.SimpleQueueService.NonExistentQueue");
  e = parse_error(response(404, "", {{"x-amzn-errortype", "ResourceNotFoundException:http://internal.amazon.com/"}}));
  EXPECT_EQ(e.code, "ResourceNotFoundException");
  e = parse_error(response(503, "<html>busy</html>"));
  EXPECT_EQ(e.code, "Http503");
  e = parse_error(response(500, "{not json"));
  EXPECT_EQ(e.code, "Http500");
}

TEST(AwsErrors, CodesMapOntoOurs) {
  for (const char* code : {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                           "TooManyRequestsException", "SlowDown", "RequestThrottled", "Throttling"})
    EXPECT_EQ(map_error(400, code), ErrorCode::throttled) << code;
  for (const char* code : {"InternalError", "ServiceUnavailable", "InternalServerError", "ExpiredToken",
                           "ExpiredTokenException", "RequestTimeout"})
    EXPECT_EQ(map_error(400, code), ErrorCode::transient) << code;
  for (const char* code :
       {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException",
        "SignatureDoesNotMatch", "InvalidClientTokenId", "ValidationException"})
    EXPECT_EQ(map_error(403, code), ErrorCode::invalid_input) << code;
  for (const char* code : {"ResourceNotFoundException", "NoSuchBucket", "NoSuchKey", "QueueDoesNotExist",
                           "AWS.SimpleQueueService.NonExistentQueue"})
    EXPECT_EQ(map_error(400, code), ErrorCode::not_found) << code;
  EXPECT_EQ(map_error(400, "ConditionalCheckFailedException"), ErrorCode::conflict);
  EXPECT_EQ(map_error(412, "PreconditionFailed"), ErrorCode::conflict);
  // Unknown codes: the status decides.
  EXPECT_EQ(map_error(429, "Whatever"), ErrorCode::throttled);
  EXPECT_EQ(map_error(502, "Http502"), ErrorCode::transient);
  EXPECT_EQ(map_error(501, "NotImplemented"), ErrorCode::internal);
  EXPECT_EQ(map_error(404, "Http404"), ErrorCode::not_found);
  EXPECT_EQ(map_error(409, "Whatever"), ErrorCode::conflict);
  EXPECT_EQ(map_error(400, "SomethingNew"), ErrorCode::invalid_input);
  EXPECT_EQ(map_error(301, "PermanentRedirect"), ErrorCode::internal);
  EXPECT_TRUE(is_expired_credentials("ExpiredToken"));
  EXPECT_FALSE(is_expired_credentials("AccessDenied"));
  // Known by name (each list), or not: the codes map_error reads from the status only.
  for (const char* known : {"SlowDown", "ExpiredToken", "InternalFailure", "NoSuchBucket",
                            "ConditionalCheckFailedException", "ValidationException"})
    EXPECT_TRUE(is_known_error_code(known)) << known;
  for (const char* unknown : {"", "Http503", "SomethingNew", "NotImplemented"})
    EXPECT_FALSE(is_known_error_code(unknown)) << unknown;
}

TEST(AwsRetry, StandardModeDefaultsAndAwsMaxAttempts) {
  const auto policy = retry_policy_from(fixed_environment({}));
  EXPECT_EQ(policy.max_attempts, 3);
  EXPECT_EQ(policy.base, std::chrono::milliseconds(50));
  EXPECT_EQ(policy.throttling_base, std::chrono::seconds(1));
  EXPECT_EQ(policy.cap, std::chrono::seconds(20));
  EXPECT_EQ(retry_policy_from(fixed_environment({{"AWS_MAX_ATTEMPTS", "5"}})).max_attempts, 5);
  for (const char* bad : {"0", "-1", "three", "3x", "21"})
    EXPECT_THROW(retry_policy_from(fixed_environment({{"AWS_MAX_ATTEMPTS", bad}})), Error) << bad;
}

TEST(AwsRetry, QuotaRunsOutAndRefills) {
  RetryQuota quota;
  int granted = 0;
  while (quota.acquire()) ++granted;
  EXPECT_EQ(granted, RetryQuota::kCapacity / RetryQuota::kRetryCost);
  EXPECT_EQ(quota.available(), 0);
  // A success gives back what its last retry cost (botocore's release of the last acquisition).
  quota.release(RetryQuota::kTimeoutRetryCost);
  EXPECT_EQ(quota.available(), RetryQuota::kTimeoutRetryCost);
  quota.release(0);
  EXPECT_EQ(quota.available(), RetryQuota::kTimeoutRetryCost + 1);
  EXPECT_FALSE(quota.acquire(RetryQuota::kTimeoutRetryCost + 2)) << "too few tokens: nothing taken";
  EXPECT_TRUE(quota.acquire(RetryQuota::kTimeoutRetryCost));
  EXPECT_EQ(quota.available(), 1);
  for (int i = 0; i < 1000; ++i) quota.release(1);
  EXPECT_EQ(quota.available(), RetryQuota::kCapacity) << "never above capacity";
}

}  // namespace
}  // namespace sentiflow::aws
