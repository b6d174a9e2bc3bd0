// A client of one AWS service: signs each request (SigV4), sends it over net/'s HttpClient,
// retries by the standard mode (aws/retry.h) and turns error responses into Errors.
//
// The backends (DynamoDB table, SQS queue, S3 store, Comprehend) build their requests on top of
// call(); json_request() builds the envelope of AWS's JSON protocol, the rest (XML, bodies) is
// theirs. An AwsClient is safe to share between
// threads: it keeps a small pool of HttpClients, one per concurrent call, so connections are
// reused without sharing a libcurl handle.
//
// Every call is counted in a metrics registry: its outcome, its time (per call, retries and
// their backoff included) and its retries by AWS's error code (docs/OBSERVABILITY.md).
//
// Error messages read "SERVICE OPERATION: CODE: message", e.g. "SQS SendMessageBatch:
// QueueDoesNotExist: The specified queue does not exist."; the secret access key and the session
// token are masked wherever a server echoes them, and nothing here logs either.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aws/credentials.h"
#include "aws/endpoints.h"
#include "aws/retry.h"
#include "aws/settings.h"
#include "core/time.h"
#include "net/http_client.h"
#include "observe/metrics.h"

namespace sentiflow::aws {

struct AwsRequest {
  std::string operation{};  // "ListQueues": names the call in errors and logs
  std::string method = "POST";
  std::string path = "/";  // NOT encoded: the client encodes it once (S3 keys as they are, '/' kept)
  // NOT encoded; nullopt: a valueless parameter (S3's ?uploads, ?delete).
  std::vector<std::pair<std::string, std::optional<std::string>>> query{};
  HttpHeaders headers{};  // Content-Type, X-Amz-Target...; never the signing headers
  std::string body{};
  std::optional<std::string> payload_hash{};  // see SigningRequest
  // Put before the endpoint's host: S3's virtual-hosted addressing ("BUCKET." + s3.REGION.
  // amazonaws.com). Empty: the endpoint as it is (path-style).
  std::string host_prefix{};
};

// A POST of AWS's JSON protocol: Content-Type application/x-amz-json-VERSION and X-Amz-Target
// TARGET_PREFIX + operation (e.g. "DynamoDB_20120810." + "PutItem"). `body` is the JSON text.
AwsRequest json_request(std::string_view target_prefix, std::string operation, std::string body,
                        std::string_view version = "1.0");

// A successful (1xx/2xx) response.
using AwsResponse = HttpResponse;

struct AwsClientOptions {
  std::string region{};
  std::string endpoint{};  // scheme://host[:port][/base path], as resolve_endpoint gives it
  std::shared_ptr<CredentialsProvider> credentials{};
  RetryPolicy retry{};
  std::chrono::milliseconds timeout{30'000};  // each attempt
  std::chrono::milliseconds connect_timeout{5'000};
  std::string user_agent{};                    // empty: "sentiflow/<version>"
  std::function<Seconds()> now = now_seconds;  // the signing time
  // How to wait between attempts; empty: std::this_thread::sleep_for. Tests record the waits.
  std::function<void(std::chrono::milliseconds)> sleep{};
  uint64_t backoff_seed = 0;  // 0: random
  // Where the calls are counted (sentiflow_aws_*, docs/OBSERVABILITY.md); null: Metrics::global().
  Metrics* metrics = nullptr;
};

class AwsClient {
 public:
  AwsClient(const ServiceInfo& service, AwsClientOptions options);
  ~AwsClient();
  AwsClient(AwsClient&&) noexcept;
  AwsClient& operator=(AwsClient&&) noexcept;
  AwsClient(const AwsClient&) = delete;
  AwsClient& operator=(const AwsClient&) = delete;

  // A client configured the standard way (aws/settings.h, endpoints.h, credentials.h, retry.h):
  // region and endpoint resolved now, `credentials` shared with other clients, or the default
  // chain when null. Throws Error(invalid_input) for a missing region or a bad setting.
  static AwsClient from_settings(const ServiceInfo& service, const AwsSettings& settings,
                                 std::shared_ptr<CredentialsProvider> credentials = nullptr,
                                 const Environment& env = process_environment());

  // Sends `request` and returns a 1xx/2xx response. Throws Error with the code of
  // map_error() for an error response, Error(transient) when no response came, the
  // credentials' Error when there are none, each after the retries the policy allows; an
  // ExpiredToken makes the credentials refresh before the retry. Counts the call (ok or error),
  // its time and its retries. Thread-safe.
  AwsResponse call(const AwsRequest& request) const;

  // The URL call() sends `request` to.
  std::string url_for(const AwsRequest& request) const;

  const std::string& region() const;
  const std::string& endpoint() const;
  // The retry quota this client's calls share (aws/retry.h).
  const RetryQuota& retry_quota() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sentiflow::aws
