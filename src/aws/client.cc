#include "aws/client.h"

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "aws/errors.h"
#include "aws/sigv4.h"
#include "core/error.h"
#include "core/strings.h"
#include "core/version.h"
#include "net/backoff.h"
#include "net/url.h"
#include "observe/log.h"
#include "observe/metrics.h"

namespace sentiflow::aws {
namespace {

constexpr size_t kMaxMessage = 1000;  // a server's message can be a whole canonical request

// The families of docs/OBSERVABILITY.md. Their labels stay few: services and operations are
// named by our code, retry codes are AWS's codes that errors.cc knows, else "other".
constexpr const char* kRequests = "sentiflow_aws_requests_total";
constexpr const char* kRequestsHelp =
    "AWS calls by service, operation and outcome (ok, error), once per call however many attempts it took.";
constexpr const char* kRetries = "sentiflow_aws_retries_total";
constexpr const char* kRetriesHelp =
    "Attempts of AWS calls after the first, by service and the code of the failure retried: AWS's error code, "
    "no_response, credentials, or other.";
constexpr const char* kSeconds = "sentiflow_aws_request_seconds";
constexpr const char* kSecondsHelp =
    "Time of one AWS call, from its first attempt to its answer or final error: retries and their backoff included.";

// Why an attempt failed, for the `code` label of a retry: an AWS error code (an error response),
// or one of these when there was none.
constexpr const char* kNoResponse = "no_response";     // connection refused or cut, timeout
constexpr const char* kNoCredentials = "credentials";  // the provider failed (IMDS, SSO...)

// Whether a failure without a response was a timeout (connecting or reading), which costs the
// retry quota more (botocore's ConnectTimeoutError/ReadTimeoutError). net's HttpClient has one
// kind of Error for every failure without a response; its timeouts, and only they, say "timed
// out after N ms" (net/http_client.cc, CURLE_OPERATION_TIMEDOUT), which client_test pins.
bool is_timeout(const Error& e) {
  return std::string_view(e.what()).find(": timed out after ") != std::string_view::npos;
}

// Masks every occurrence of the secret and the token: a server may echo what it received (an
// InvalidSignatureException quotes the canonical request, which holds the token).
std::string redact(std::string text, const Credentials& credentials) {
  for (const std::string* secret : {&credentials.secret_access_key, &credentials.session_token}) {
    if (secret->size() < 4) continue;  // nothing meaningful to hide, and "" would loop
    for (auto at = text.find(*secret); at != std::string::npos; at = text.find(*secret, at))
      text.replace(at, secret->size(), "***");
  }
  if (text.size() > kMaxMessage) text = text.substr(0, kMaxMessage) + "...";
  return text;
}

// Idle HttpClients: a call borrows one and gives it back, so that concurrent calls never share
// a libcurl handle and sequential ones reuse its connections.
class ClientPool {
 public:
  explicit ClientPool(std::string user_agent) : user_agent_(std::move(user_agent)) {}

  std::unique_ptr<HttpClient> take() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto client = std::move(idle_.back());
        idle_.pop_back();
        return client;
      }
    }
    return std::make_unique<HttpClient>(user_agent_);
  }

  void give_back(std::unique_ptr<HttpClient> client) {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(client));
  }

 private:
  const std::string user_agent_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<HttpClient>> idle_;
};

}  // namespace

AwsRequest json_request(std::string_view target_prefix, std::string operation, std::string body,
                        std::string_view version) {
  std::string target = std::string(target_prefix) + operation;
  return AwsRequest{.operation = std::move(operation),
                    .headers = {{"Content-Type", "application/x-amz-json-" + std::string(version)},
                                {"X-Amz-Target", std::move(target)}},
                    .body = std::move(body)};
}

struct AwsClient::Impl {
  std::string service_id;
  std::string signing_name;
  AwsClientOptions options;
  ClientPool pool;
  RetryQuota quota;

  Metrics& metrics;

  // The series of one operation, registered on its first call: a registry lookup takes the
  // registry's mutex and builds label maps, this one a lookup by name.
  struct OperationMetrics {
    Counter* ok;
    Counter* error;
    Histogram* seconds;
  };
  std::mutex operations_mutex;
  std::map<std::string, OperationMetrics, std::less<>> operations;

  Impl(const ServiceInfo& service, AwsClientOptions o)
      : service_id(service.id),
        signing_name(service.signing_name),
        options(std::move(o)),
        pool(options.user_agent.empty() ? "sentiflow/" + std::string(kVersion) : options.user_agent),
        metrics(options.metrics != nullptr ? *options.metrics : Metrics::global()) {
    while (options.endpoint.ends_with('/')) options.endpoint.pop_back();
    if (!options.credentials) throw Error(ErrorCode::internal, "an AWS client needs a credentials provider");
    split_url(options.endpoint);  // throws for an endpoint that is not a URL
  }

  std::string prefix(const AwsRequest& request) const { return service_id + " " + request.operation + ": "; }

  const OperationMetrics& operation_metrics(const std::string& operation) {
    std::lock_guard lock(operations_mutex);
    auto it = operations.find(operation);
    if (it == operations.end()) {
      const Labels labels{{"service", service_id}, {"operation", operation}};
      Labels ok = labels;
      ok["outcome"] = "ok";
      Labels error = labels;
      error["outcome"] = "error";
      it = operations
               .emplace(operation, OperationMetrics{&metrics.counter(kRequests, kRequestsHelp, ok),
                                                    &metrics.counter(kRequests, kRequestsHelp, error),
                                                    &metrics.histogram(kSeconds, kSecondsHelp, labels)})
               .first;
    }
    return it->second;  // map nodes stay where they are
  }

  // Counts a retry after a failure of `aws_code`. Retries are rare: the series is looked up
  // when one happens.
  void count_retry(const std::string& aws_code) {
    const bool bounded = aws_code == kNoResponse || aws_code == kNoCredentials || is_known_error_code(aws_code);
    metrics.counter(kRetries, kRetriesHelp, {{"service", service_id}, {"code", bounded ? aws_code : "other"}}).add();
  }

  // Where to look when AWS refused the credentials: the access key id (not a secret: it names
  // the key in IAM and in CloudTrail) and the source it came from. Never the secret.
  std::string credentials_hint(const std::string& aws_code, const Credentials& credentials) const {
    const auto problem = credential_problem(aws_code);
    if (problem == CredentialProblem::none) return "";
    std::string key = "access key " + (credentials.access_key_id.empty() ? "(none)" : credentials.access_key_id);
    if (const auto source = options.credentials->source(); !source.empty()) key += " (source: " + source + ")";
    if (problem == CredentialProblem::denied)
      return " (AWS credentials: " + key + "; its IAM policy must allow this action, see docs/AWS.md)";
    if (problem == CredentialProblem::refused)
      return " (AWS credentials: " + key + " at " + options.endpoint + " in " + options.region +
             " were refused: a wrong key or secret, or an IAM policy without this action)";
    return " (AWS credentials: " + key + " at " + options.endpoint + " in " + options.region +
           "; check that the key exists there and that the secret access key belongs to it)";
  }

  // One attempt. When it throws, `failure` says why: AWS's error code, kNoResponse or
  // kNoCredentials.
  AwsResponse attempt(const AwsRequest& request, const std::string& url, std::string& failure) {
    Credentials credentials;
    try {
      credentials = options.credentials->get();
    } catch (const Error& e) {
      failure = kNoCredentials;
      throw Error(e.code(), prefix(request) + e.what());
    }
    SigningRequest signing{
        .method = request.method, .url = url, .body = request.body, .payload_hash = request.payload_hash};
    for (const auto& header : request.headers) {
      const auto lower = to_lower_ascii(header.first);
      if (lower != "authorization" && lower != "x-amz-date" && lower != "x-amz-security-token" &&
          !(signing_name == "s3" && lower == "x-amz-content-sha256"))
        signing.headers.push_back(header);
    }
    HttpRequest http{.method = request.method,
                     .url = url,
                     .headers = signing.headers,
                     .body = request.body,
                     .timeout = options.timeout,
                     .connect_timeout = options.connect_timeout};
    const auto added = sign(signing, credentials, options.region, signing_name, options.now());
    http.headers.insert(http.headers.end(), added.begin(), added.end());

    auto client = pool.take();
    HttpResponse response;
    try {
      response = client->send(http);
    } catch (const Error& e) {
      pool.give_back(std::move(client));
      failure = kNoResponse;
      throw Error(e.code(), redact(prefix(request) + e.what(), credentials));
    }
    pool.give_back(std::move(client));
    if (response.status < 300) return response;

    const auto error = parse_error(response);
    failure = error.code;
    if (is_expired_credentials(error.code)) options.credentials->invalidate();
    std::string message = prefix(request) + error.code;
    message += error.message.empty() ? " (HTTP " + std::to_string(response.status) + ")" : ": " + error.message;
    message += credentials_hint(error.code, credentials);
    throw Error(map_error(response.status, error.code), redact(std::move(message), credentials));
  }
};

AwsClient::AwsClient(const ServiceInfo& service, AwsClientOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}
AwsClient::~AwsClient() = default;
AwsClient::AwsClient(AwsClient&&) noexcept = default;
AwsClient& AwsClient::operator=(AwsClient&&) noexcept = default;

AwsClient AwsClient::from_settings(const ServiceInfo& service, const AwsSettings& settings,
                                   std::shared_ptr<CredentialsProvider> credentials, const Environment& env) {
  AwsClientOptions options;
  options.region = resolve_region(settings, env);
  options.endpoint = resolve_endpoint(service, options.region, settings, env);
  options.retry = retry_policy_from(env);
  if (!credentials) {
    CredentialsOptions credentials_options;
    credentials_options.environment = env;
    credentials = default_chain(settings, std::move(credentials_options));
  }
  options.credentials = std::move(credentials);
  return AwsClient(service, std::move(options));
}

std::string AwsClient::url_for(const AwsRequest& request) const {
  std::string url = impl_->options.endpoint;
  if (!request.host_prefix.empty())
    if (const auto scheme_end = url.find("://"); scheme_end != std::string::npos)
      url.insert(scheme_end + 3, request.host_prefix);
  if (!request.path.starts_with('/')) url += '/';
  url += url_encode(request.path, /*keep_slash=*/true);
  char separator = '?';
  for (const auto& [name, value] : request.query) {
    url += separator;
    separator = '&';
    url += url_encode(name);
    if (value) url.append("=").append(url_encode(*value));
  }
  return url;
}

AwsResponse AwsClient::call(const AwsRequest& request) const {
  auto& impl = *impl_;
  const auto url = url_for(request);
  const auto& policy = impl.options.retry;
  Backoff backoff(policy.base, policy.cap, impl.options.backoff_seed);
  Backoff throttled_backoff(policy.throttling_base, policy.cap, impl.options.backoff_seed);
  const auto& metrics = impl.operation_metrics(request.operation);
  const auto started = std::chrono::steady_clock::now();
  const auto count = [&](Counter& outcome) {
    outcome.add();
    metrics.seconds->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  };
  int retries = 0;
  int last_retry_cost = 0;  // what the latest retry took from the quota; a success gives it back
  for (int attempt = 1;; ++attempt) {
    std::string failure;
    try {
      auto response = impl.attempt(request, url, failure);
      impl.quota.release(last_retry_cost);
      count(*metrics.ok);
      return response;
    } catch (const Error& e) {
      const int cost = failure == kNoResponse && is_timeout(e) ? RetryQuota::kTimeoutRetryCost : RetryQuota::kRetryCost;
      const bool again = is_retryable(e.code()) && attempt < policy.max_attempts && impl.quota.acquire(cost);
      if (again) last_retry_cost = cost;
      if (!again) {
        count(*metrics.error);
        if (attempt == 1) throw;
        throw Error(e.code(), std::string(e.what()) + " (after " + std::to_string(attempt) + " attempts)");
      }
      impl.count_retry(failure);
      const auto delay =
          (e.code() == ErrorCode::throttled ? throttled_backoff : backoff).delay(static_cast<unsigned>(retries));
      ++retries;
      log::debug("retrying an AWS call", {{"service", impl.service_id},
                                          {"operation", request.operation},
                                          {"attempt", attempt},
                                          {"code", to_string(e.code())},
                                          {"delay_ms", delay.count()}});
      if (impl.options.sleep) {
        impl.options.sleep(delay);
      } else {
        std::this_thread::sleep_for(delay);
      }
    }
  }
}

const std::string& AwsClient::region() const { return impl_->options.region; }
const std::string& AwsClient::endpoint() const { return impl_->options.endpoint; }
const RetryQuota& AwsClient::retry_quota() const { return impl_->quota; }

}  // namespace sentiflow::aws
