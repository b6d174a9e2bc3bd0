// AwsClient against a local server on 127.0.0.1 that checks signatures as AWS does (from what
// arrived on the wire and the SignedHeaders list), and answers errors, throttling and 5xx.
#include "aws/client.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "aws/sigv4.h"
#include "core/error.h"
#include "core/strings.h"
#include "support/local_server.h"
#include "support/sigv4_check.h"

namespace sentiflow::aws {
namespace {

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzSECRET";
constexpr const char* kToken = "IQoJb3JpZ2luX2VjTOKEN//////////wEaCXVzLWVhc3QtMSJGMEQCIF";

const Credentials kCredentials{
    .access_key_id = "AKIDCLIENTTEST", .secret_access_key = kSecret, .session_token = kToken};

// A fake AWS endpoint. /verify/... checks the signature and echoes the decoded path and query;
// /script answers with the next of `script`'s responses (the last one repeats).
class FakeAws {
 public:
  struct Reply {
    int status;
    std::string body;
    std::string content_type = "application/x-amz-json-1.0";
  };

  explicit FakeAws(std::string service)
      : service_(std::move(service)), server_([this](httplib::Server& server) { install(server); }) {}
  std::string endpoint() const { return server_.url(); }

  std::atomic<int> requests{0};
  std::vector<Reply> script{{200, "{}"}};

 private:
  void install(httplib::Server& server) {
    auto verify = [this](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      if (!testing_support::signature_holds(req, endpoint(), service_, kCredentials)) {
        res.status = 403;
        res.set_content(R"({"__type":"InvalidSignatureException","message":"Signature mismatch"})", "application/json");
        return;
      }
      std::string params;
      for (const auto& [k, v] : req.params) params += k + "=" + v + ";";
      res.set_content(req.path + "|" + params + "|" + req.body, "text/plain");
    };
    server.Get(R"(/verify/.*)", verify);
    server.Put(R"(/verify/.*)", verify);
    server.Post(R"(/verify/.*)", verify);
    server.Post("/script", [this](const httplib::Request&, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      const auto n = static_cast<size_t>(requests++);
      const auto& reply = script.at(std::min(n, script.size() - 1));
      res.status = reply.status;
      res.set_content(reply.body, reply.content_type);
    });
  }

  std::string service_;
  std::mutex mutex_;
  // Last: destroyed, and its handlers stopped, before what they use.
  testing_support::LocalHttpServer server_;
};

// A provider that counts, for the expired-token test.
class CountingProvider : public CredentialsProvider {
 public:
  Credentials get() override {
    ++gets;
    return kCredentials;
  }
  void invalidate() override { ++invalidations; }
  std::string source() const override { return "test"; }
  std::atomic<int> gets{0};
  std::atomic<int> invalidations{0};
};

struct Waits {
  std::mutex mutex;
  std::vector<std::chrono::milliseconds> delays;
};

AwsClient make_client(const ServiceInfo& service, const std::string& endpoint, Waits* waits = nullptr,
                      std::shared_ptr<CredentialsProvider> credentials = static_credentials(kCredentials),
                      Metrics* metrics = nullptr) {
  AwsClientOptions options{.region = "us-east-1", .endpoint = endpoint, .credentials = std::move(credentials)};
  options.metrics = metrics;
  options.timeout = std::chrono::milliseconds(5000);
  options.sleep = [waits](std::chrono::milliseconds delay) {
    if (waits == nullptr) return;
    std::lock_guard lock(waits->mutex);
    waits->delays.push_back(delay);
  };
  options.backoff_seed = 42;
  return AwsClient(service, std::move(options));
}

std::string message_of(const std::function<void()>& fn, ErrorCode* code = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (code != nullptr) *code = e.code();
    return e.what();
  }
  return "(no error)";
}

TEST(AwsClient, SignsWhatItSendsForS3KeysAndQueries) {
  FakeAws server("s3");
  const auto client = make_client(kS3, server.endpoint());
  const auto response =
      client.call({.operation = "PutObject",
                   .method = "PUT",
                   .path = "/verify/bucket/run=2026-01-01T00:00:00Z/a b+c~d*(1)/日本.txt",
                   .query = {{"uploads", std::nullopt}, {"prefix", "a/b:c"}},
                   .headers = {{"Content-Type", "text/plain"}, {"X-Amz-Meta-Note", "  two   spaces "}},
                   .body = "hello"});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body,
            "/verify/bucket/run=2026-01-01T00:00:00Z/a b+c~d*(1)/日本.txt"
            "|prefix=a/b:c;uploads=;|hello");
}

TEST(AwsClient, SignsWhatItSendsForJsonServices) {
  FakeAws server("dynamodb");
  const auto client = make_client(kDynamoDb, server.endpoint() + "/");
  const auto response = client.call(
      {.operation = "ListTables",
       .path = "/verify/",
       .headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "DynamoDB_20120810.ListTables"}},
       .body = "{}"});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(client.endpoint(), server.endpoint()) << "trailing slash dropped";
}

TEST(AwsClient, UrlEncodesPathOnceAndQueryByRfc3986) {
  const auto client = make_client(kS3, "https://s3.us-east-1.amazonaws.com/base");
  EXPECT_EQ(client.url_for({.path = "/bucket/a b+c~d/é",
                            .query = {{"list-type", "2"}, {"prefix", "x/y:z"}, {"acl", std::nullopt}}}),
            "https://s3.us-east-1.amazonaws.com/base/bucket/a%20b%2Bc~d/%C3%A9?list-type=2&prefix=x%2Fy%3Az&acl");
  EXPECT_EQ(client.url_for({.path = "bucket"}), "https://s3.us-east-1.amazonaws.com/base/bucket");
}

TEST(AwsClient, RetriesThrottlingAndServerErrorsWithJitteredBackoff) {
  FakeAws server("sqs");
  server.script = {{503, "<html>unavailable</html>", "text/html"},
                   {400, R"({"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"})"},
                   {200, R"({"QueueUrls":[]})"}};
  Waits waits;
  const auto client = make_client(kSqs, server.endpoint(), &waits);
  const auto response = client.call({.operation = "ListQueues", .path = "/script", .body = "{}"});
  EXPECT_EQ(response.body, R"({"QueueUrls":[]})");
  EXPECT_EQ(server.requests.load(), 3);
  ASSERT_EQ(waits.delays.size(), 2u);
  EXPECT_LE(waits.delays[0], std::chrono::milliseconds(50)) << "after a 503: up to the base";
  EXPECT_LE(waits.delays[1], std::chrono::milliseconds(2000)) << "after throttling: up to twice the throttling base";
  // botocore's standard mode: a success gives back what its last retry took, not all its retries.
  EXPECT_EQ(client.retry_quota().available(), RetryQuota::kCapacity - RetryQuota::kRetryCost)
      << "a success refunds its last retry only";
}

TEST(AwsClient, GivesUpAfterThreeAttempts) {
  FakeAws server("sqs");
  server.script = {{500, R"({"__type":"InternalFailure","message":"oops"})"}};
  Waits waits;
  const auto client = make_client(kSqs, server.endpoint(), &waits);
  ErrorCode code{};
  const auto message = message_of([&] { client.call({.operation = "ListQueues", .path = "/script"}); }, &code);
  EXPECT_EQ(code, ErrorCode::transient);
  EXPECT_EQ(message, "SQS ListQueues: InternalFailure: oops (after 3 attempts)");
  EXPECT_EQ(server.requests.load(), 3);
  EXPECT_EQ(waits.delays.size(), 2u);
}

TEST(AwsClient, DoesNotRetryWhatRetryingCannotFix) {
  FakeAws server("dynamodb");
  server.script = {{400, R"({"__type":"com.amazon.coral.validate#ValidationException",)"
                         R"("message":"One or more parameter values were invalid"})"}};
  const auto client = make_client(kDynamoDb, server.endpoint());
  ErrorCode code{};
  const auto message = message_of([&] { client.call({.operation = "PutItem", .path = "/script"}); }, &code);
  EXPECT_EQ(code, ErrorCode::invalid_input);
  EXPECT_EQ(message, "DynamoDB PutItem: ValidationException: One or more parameter values were invalid");
  EXPECT_EQ(server.requests.load(), 1);
}

TEST(AwsClient, MapsXmlErrorsAndBareStatuses) {
  FakeAws server("s3");
  server.script = {{404,
                    "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not "
                    "exist.</Message></Error>",
                    "application/xml"}};
  const auto client = make_client(kS3, server.endpoint());
  ErrorCode code{};
  EXPECT_EQ(message_of([&] { client.call({.operation = "GetObject", .path = "/script"}); }, &code),
            "S3 GetObject: NoSuchKey: The specified key does not exist.");
  EXPECT_EQ(code, ErrorCode::not_found);

  FakeAws bare("s3");
  bare.script = {{412, "", "text/plain"}};
  const auto bare_client = make_client(kS3, bare.endpoint());
  EXPECT_EQ(message_of([&] { bare_client.call({.operation = "PutObject", .path = "/script"}); }, &code),
            "S3 PutObject: Http412 (HTTP 412)");
  EXPECT_EQ(code, ErrorCode::conflict);
}

TEST(AwsClient, ExpiredTokenRefreshesCredentialsBeforeTheRetry) {
  FakeAws server("sqs");
  server.script = {{400, R"({"__type":"com.amazonaws.sqs#ExpiredTokenException",)"
                         R"("message":"The security token included in the request is expired"})"},
                   {200, "{}"}};
  auto provider = std::make_shared<CountingProvider>();
  const auto client = make_client(kSqs, server.endpoint(), nullptr, provider);
  EXPECT_EQ(client.call({.operation = "ListQueues", .path = "/script"}).status, 200);
  EXPECT_EQ(provider->invalidations.load(), 1);
  EXPECT_EQ(provider->gets.load(), 2);
}

TEST(AwsClient, MasksSecretsAServerEchoes) {
  FakeAws server("sqs");
  server.script = {{403, std::string(R"({"__type":"InvalidSignatureException",)") +
                             R"("message":"The Canonical String should have been 'x-amz-security-token:)" + kToken +
                             "' with key " + kSecret + "\"}"}};
  const auto client = make_client(kSqs, server.endpoint());
  const auto message = message_of([&] { client.call({.operation = "ListQueues", .path = "/script"}); });
  EXPECT_NE(message.find("SQS ListQueues: InvalidSignatureException: "), std::string::npos) << message;
  EXPECT_EQ(message.find(kToken), std::string::npos) << message;
  EXPECT_EQ(message.find(kSecret), std::string::npos) << message;
}

TEST(AwsClient, RefusedCredentialsNameTheKeyItsSourceAndTheEndpointNeverTheSecret) {
  FakeAws server("sqs");
  const auto provider = std::make_shared<CountingProvider>();
  const auto client = make_client(kSqs, server.endpoint(), nullptr, provider);
  server.script = {{400, R"({"__type":"com.amazon.coral.service#UnrecognizedClientException",)"
                         R"("message":"The security token included in the request is invalid."})"}};
  ErrorCode code{};
  auto message = message_of([&] { client.call({.operation = "ListQueues", .path = "/script"}); }, &code);
  EXPECT_EQ(code, ErrorCode::invalid_input);
  EXPECT_NE(message.find("(AWS credentials: access key " + kCredentials.access_key_id + " (source: test) at " +
                         server.endpoint() + " in us-east-1; check that the key exists there"),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find(kCredentials.secret_access_key), std::string::npos) << message;

  server.requests = 0;
  server.script = {{400, R"({"__type":"AccessDeniedException","message":"not authorized to perform sqs:ListQueues"})"}};
  message = message_of([&] { client.call({.operation = "ListQueues", .path = "/script"}); });
  EXPECT_NE(message.find("its IAM policy must allow this action"), std::string::npos) << message;

  server.requests = 0;
  server.script = {{403, ""}};  // S3's answer to a HEAD: no body to say why
  message = message_of([&] { client.call({.operation = "HeadBucket", .path = "/script"}); });
  EXPECT_NE(message.find("Http403 (HTTP 403) (AWS credentials: access key " + kCredentials.access_key_id),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("were refused"), std::string::npos) << message;

  server.requests = 0;
  server.script = {{400, R"({"__type":"ValidationException","message":"bad"})"}};
  message = message_of([&] { client.call({.operation = "ListQueues", .path = "/script"}); });
  EXPECT_EQ(message.find("AWS credentials"), std::string::npos) << "only for credential errors: " << message;
}

TEST(AwsClient, ConnectionFailuresAreTransientAndRetried) {
  std::string dead;
  {
    FakeAws gone("sqs");
    dead = gone.endpoint();
  }
  Waits waits;
  const auto client = make_client(kSqs, dead, &waits);
  ErrorCode code{};
  const auto message = message_of([&] { client.call({.operation = "ListQueues", .path = "/"}); }, &code);
  EXPECT_EQ(code, ErrorCode::transient);
  EXPECT_TRUE(message.starts_with("SQS ListQueues: ")) << message;
  EXPECT_EQ(waits.delays.size(), 2u);
}

TEST(AwsClient, TheRetryQuotaStopsRetriesWhileAServiceKeepsFailing) {
  FakeAws server("sqs");
  server.script = {{500, R"({"__type":"InternalFailure"})"}};
  Waits waits;
  const auto client = make_client(kSqs, server.endpoint(), &waits);
  constexpr int kCalls = 60;
  for (int i = 0; i < kCalls; ++i) EXPECT_THROW(client.call({.operation = "ListQueues", .path = "/script"}), Error);
  // 500 tokens pay for 100 retries: 50 calls with 2 retries each, then single attempts.
  EXPECT_EQ(server.requests.load(), 50 * 3 + (kCalls - 50));
  EXPECT_EQ(client.retry_quota().available(), 0);
}

TEST(AwsClient, CredentialErrorsCarryTheirCodeAndTheCall) {
  FakeAws server("sqs");
  AwsClientOptions options{.region = "us-east-1", .endpoint = server.endpoint()};
  CredentialsOptions credentials_options;
  credentials_options.environment = fixed_environment({{"AWS_CONFIG_FILE", "/nonexistent/c"},
                                                       {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c"},
                                                       {"AWS_EC2_METADATA_DISABLED", "true"}});
  options.credentials = default_chain({}, credentials_options);
  const AwsClient client(kSqs, std::move(options));
  ErrorCode code{};
  const auto message = message_of([&] { client.call({.operation = "ListQueues", .path = "/script"}); }, &code);
  EXPECT_EQ(code, ErrorCode::invalid_input);
  EXPECT_TRUE(message.starts_with("SQS ListQueues: no AWS credentials found")) << message;
  EXPECT_EQ(server.requests.load(), 0);
}

TEST(AwsClient, SharedBetweenThreads) {
  FakeAws server("dynamodb");
  const auto client = make_client(kDynamoDb, server.endpoint());
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        const auto body = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
        const auto response = client.call({.operation = "GetItem", .path = "/verify/", .body = body});
        if (response.body == "/verify/||" + body) ++ok;
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 6 * 15);
}

// One series per call outcome, whatever the attempts; retries by the code that caused them.
TEST(AwsClient, CountsCallsRetriesAndTheirTime) {
  Metrics metrics;
  FakeAws server("sqs");
  server.script = {{500, R"({"__type":"com.amazonaws.sqs#InternalFailure","message":"oops"})"}, {200, "{}"}};
  const auto client = make_client(kSqs, server.endpoint(), nullptr, static_credentials(kCredentials), &metrics);
  const Labels ok{{"service", "SQS"}, {"operation", "ListQueues"}, {"outcome", "ok"}};
  const Labels error{{"service", "SQS"}, {"operation", "ListQueues"}, {"outcome", "error"}};
  EXPECT_EQ(client.call({.operation = "ListQueues", .path = "/script"}).status, 200);
  EXPECT_EQ(metrics.value("sentiflow_aws_requests_total", ok), 1);
  EXPECT_EQ(metrics.value("sentiflow_aws_requests_total", error), 0);
  EXPECT_EQ(metrics.value("sentiflow_aws_retries_total", {{"service", "SQS"}, {"code", "InternalFailure"}}), 1);
  EXPECT_EQ(metrics.family_total("sentiflow_aws_retries_total"), 1);
  const Labels list_queues{{"service", "SQS"}, {"operation", "ListQueues"}};
  const auto seconds = metrics.histogram_snapshot("sentiflow_aws_request_seconds", list_queues);
  ASSERT_TRUE(seconds.has_value());
  EXPECT_EQ(seconds->count, 1u) << "one observation per call, its retry included";
  EXPECT_GT(seconds->sum, 0);

  // An error that no retry can fix: one error, no retry.
  server.requests = 0;
  server.script = {{400, R"({"__type":"com.amazon.coral.validate#ValidationException","message":"bad"})"}};
  EXPECT_THROW(client.call({.operation = "ListQueues", .path = "/script"}), Error);
  EXPECT_EQ(metrics.value("sentiflow_aws_requests_total", error), 1);
  EXPECT_EQ(metrics.family_total("sentiflow_aws_retries_total"), 1);

  // A code that errors.cc does not know is "other": labels stay few whatever a server answers.
  server.requests = 0;
  server.script = {{503, R"({"__type":"SomethingNewException"})"}, {200, "{}"}};
  EXPECT_EQ(client.call({.operation = "ListQueues", .path = "/script"}).status, 200);
  EXPECT_EQ(metrics.value("sentiflow_aws_retries_total", {{"service", "SQS"}, {"code", "other"}}), 1);
  EXPECT_EQ(metrics.value("sentiflow_aws_requests_total", ok), 2);
  EXPECT_EQ(metrics.histogram_snapshot("sentiflow_aws_request_seconds", list_queues)->count, 3u);

  // No answer at all: retried as no_response, then an error.
  std::string dead;
  {
    FakeAws gone("sqs");
    dead = gone.endpoint();
  }
  Waits waits;
  const auto unreachable = make_client(kSqs, dead, &waits, static_credentials(kCredentials), &metrics);
  EXPECT_THROW(unreachable.call({.operation = "SendMessage", .path = "/"}), Error);
  EXPECT_EQ(metrics.value("sentiflow_aws_retries_total", {{"service", "SQS"}, {"code", "no_response"}}), 2);
  EXPECT_EQ(metrics.value("sentiflow_aws_requests_total",
                          {{"service", "SQS"}, {"operation", "SendMessage"}, {"outcome", "error"}}),
            1);
}

TEST(AwsClient, FromSettingsResolvesRegionAndEndpoint) {
  const auto env = fixed_environment(
      {{"AWS_REGION", "eu-west-3"}, {"AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:9324"}, {"AWS_MAX_ATTEMPTS", "5"}});
  const auto client = AwsClient::from_settings(kSqs, {}, static_credentials(kCredentials), env);
  EXPECT_EQ(client.region(), "eu-west-3");
  EXPECT_EQ(client.endpoint(), "http://127.0.0.1:9324");
  const auto regional =
      AwsClient::from_settings(kDynamoDb, {.region = "ap-south-1"}, static_credentials(kCredentials), env);
  EXPECT_EQ(regional.endpoint(), "https://dynamodb.ap-south-1.amazonaws.com");
}

// The retry quota as botocore keeps it (retries/standard.py RetryQuotaChecker): a retry costs 5,
// a success gives back only what its last retry took, or 1 when it needed none.
TEST(AwsClient, ASuccessGivesBackOnlyItsLastRetrysCost) {
  FakeAws server("sqs");
  server.script = {
      {503, "<html>unavailable</html>", "text/html"}, {500, R"({"__type":"InternalFailure"})"}, {200, "{}"}};
  const auto client = make_client(kSqs, server.endpoint());
  client.call({.operation = "ListQueues", .path = "/script"});
  EXPECT_EQ(server.requests.load(), 3);
  EXPECT_EQ(client.retry_quota().available(), 500 - 5 - 5 + 5);
  client.call({.operation = "ListQueues", .path = "/script"});  // no retry: 1 back
  EXPECT_EQ(client.retry_quota().available(), 496);
}

// A port that takes connections (the kernel's backlog) and never answers: every read times out.
class SilentPort {
 public:
  SilentPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    socklen_t length = sizeof(address);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~SilentPort() { ::close(fd_); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// botocore charges a retry after a timeout (ConnectTimeoutError, ReadTimeoutError) 10, and one
// after a refused connection 5, as any other.
TEST(AwsClient, ARetryAfterATimeoutCostsTenAfterARefusedConnectionFive) {
  SilentPort silent;
  AwsClientOptions options{.region = "us-east-1",
                           .endpoint = silent.endpoint(),
                           .credentials = static_credentials(kCredentials),
                           .retry = {.max_attempts = 2}};
  options.timeout = std::chrono::milliseconds(200);
  options.sleep = [](std::chrono::milliseconds) {};
  const AwsClient timing_out(kSqs, options);
  ErrorCode code{};
  const auto message = message_of([&] { timing_out.call({.operation = "ListQueues", .path = "/"}); }, &code);
  EXPECT_EQ(code, ErrorCode::transient);
  EXPECT_NE(message.find(": timed out after 200 ms"), std::string::npos) << "the wording is_timeout reads: " << message;
  EXPECT_EQ(timing_out.retry_quota().available(), RetryQuota::kCapacity - RetryQuota::kTimeoutRetryCost);

  std::string dead;
  {
    FakeAws gone("sqs");
    dead = gone.endpoint();
  }
  const auto refused = make_client(kSqs, dead);
  EXPECT_THROW(refused.call({.operation = "ListQueues", .path = "/"}), Error);
  EXPECT_EQ(refused.retry_quota().available(), RetryQuota::kCapacity - 2 * RetryQuota::kRetryCost);
}

}  // namespace
}  // namespace sentiflow::aws
