#include "aws/credentials.h"

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/strings.h"
#include "core/version.h"
#include "net/http_client.h"
#include "net/url.h"
#include "observe/log.h"

namespace sentiflow::aws {
namespace {

std::string user_agent() { return "sentiflow/" + std::string(kVersion); }

// Credentials from the JSON the container and instance endpoints answer with
// ({"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}). Messages name fields, never values.
Credentials parse_credentials_json(std::string_view body, const std::string& source) {
  const auto document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object())
    throw Error(ErrorCode::internal, source + " answered with something other than a JSON object");
  auto field = [&](const char* name, bool required) -> std::string {
    const auto found = document.find(name);
    if (found == document.end() || !found->is_string()) {
      if (required) throw Error(ErrorCode::internal, source + " answered without a string " + name);
      return "";
    }
    return found->get<std::string>();
  };
  Credentials credentials{.access_key_id = field("AccessKeyId", true),
                          .secret_access_key = field("SecretAccessKey", true),
                          .session_token = field("Token", false)};
  if (const auto expiration = field("Expiration", false); !expiration.empty()) {
    try {
      credentials.expiry = std::chrono::floor<std::chrono::seconds>(parse_utc_millis(expiration));
    } catch (const Error&) {
      throw Error(ErrorCode::internal, source + " answered with an Expiration that is not an ISO-8601 UTC time");
    }
  }
  return credentials;
}

// The container endpoint's host may be plain http only where no one else can listen: loopback
// and the link-local addresses of ECS and EKS (the SDKs' rule).
bool is_trusted_http_host(const std::string& host_and_port) {
  std::string host = host_and_port;
  if (host.starts_with('[')) {
    host = host.substr(0, host.find(']') + 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  return host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "169.254.170.2" ||
         host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

std::string container_authorization(const Environment& env) {
  std::string token;
  if (const auto file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) throw invalid_input("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *file);
    std::stringstream text;
    text << in.rdbuf();
    token = std::string(trim(text.str()));
  } else if (const auto value = env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    token = *value;
  }
  if (token.find_first_of("\r\n") != std::string::npos)
    throw invalid_input("the container authorization token holds a line break, which no HTTP header may");
  return token;
}

HttpResponse send_metadata(HttpClient& client, HttpRequest request, std::chrono::milliseconds timeout,
                           const std::string& source) {
  request.timeout = timeout;
  request.connect_timeout = timeout;
  request.max_response_bytes = 1u << 20;
  // The metadata endpoints are this host's or link-local, and their answers are credentials (the
  // container's request carries its token): never through a proxy the environment names for the
  // pipeline's own calls, as the SDKs do.
  request.use_proxy = false;
  try {
    return client.send(request);
  } catch (const Error& e) {
    throw Error(e.code(), source + ": " + e.what());
  }
}

struct Source {
  std::string name;
  // first_look: the chain has not settled on a source yet (see instance_credentials).
  std::function<std::optional<Credentials>(bool first_look)> load;
};

class StaticProvider final : public CredentialsProvider {
 public:
  explicit StaticProvider(Credentials credentials) : credentials_(std::move(credentials)) {}
  Credentials get() override { return credentials_; }
  std::string source() const override { return "static"; }

 private:
  const Credentials credentials_;
};

// Settles on the first source that has credentials and keeps them fresh. One mutex: a refresh
// happens once, while other callers wait for its result.
class ChainProvider final : public CredentialsProvider {
 public:
  ChainProvider(std::vector<Source> sources, CredentialsOptions options)
      : sources_(std::move(sources)), options_(std::move(options)) {}

  Credentials get() override {
    std::lock_guard lock(mutex_);
    const auto now = options_.now();
    if (cached_ && !due(*cached_, now)) return *cached_;
    // Within the refresh window, after a failed refresh or one that gave credentials that are
    // still due (a source that rotates late), wait a while before asking again: else every
    // call of every thread would queue behind a fetch of its own (3 metadata requests, each up
    // to its timeout) until the source answers. botocore waits likewise.
    if (cached_ && usable(*cached_, now) && now < next_refresh_) return *cached_;
    try {
      cached_ = load();
      if (due(*cached_, now)) next_refresh_ = now + kRefreshRetryAfter;
      return *cached_;
    } catch (const Error& e) {
      if (cached_ && usable(*cached_, now)) {
        next_refresh_ = now + kRefreshRetryAfter;
        log::warn("could not refresh AWS credentials; using the current ones until they expire",
                  {{"source", sources_[*chosen_].name}, {"code", to_string(e.code())}, {"error", e.what()}});
        return *cached_;
      }
      throw;
    }
  }

  void invalidate() override {
    std::lock_guard lock(mutex_);
    cached_.reset();
  }

  std::string source() const override {
    std::lock_guard lock(mutex_);
    return chosen_ ? sources_[*chosen_].name : "";
  }

 private:
  bool due(const Credentials& credentials, Seconds now) const {
    return credentials.expiry && now + options_.refresh_before_expiry >= *credentials.expiry;
  }
  static bool usable(const Credentials& credentials, Seconds now) {
    return !credentials.expiry || now < *credentials.expiry;
  }

  static constexpr std::chrono::seconds kRefreshRetryAfter{30};

  Credentials load() {
    if (chosen_) {
      const auto& source = sources_[*chosen_];
      if (auto credentials = source.load(false)) return *credentials;
      throw Error(ErrorCode::transient, "AWS credentials from " + source.name + " are no longer available");
    }
    for (size_t i = 0; i < sources_.size(); ++i) {
      if (auto credentials = sources_[i].load(true)) {
        chosen_ = i;
        log::debug("AWS credentials found", {{"source", sources_[i].name}});  // once per client: a debug line
        return *credentials;
      }
    }
    throw invalid_input("no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in " +
                        credentials_file_path(options_.environment).string() +
                        " (AWS_PROFILE, or aws.profile in the pipeline file), or run where container or EC2 instance "
                        "credentials exist");
  }

  const std::vector<Source> sources_;
  const CredentialsOptions options_;
  mutable std::mutex mutex_;
  std::optional<Credentials> cached_;
  std::optional<size_t> chosen_;
  Seconds next_refresh_{};  // no refresh before this while the cached credentials are usable
};

}  // namespace

std::shared_ptr<CredentialsProvider> static_credentials(Credentials credentials) {
  return std::make_shared<StaticProvider>(std::move(credentials));
}

std::optional<Credentials> environment_credentials(const Environment& env) {
  auto id = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (!id && !secret) return std::nullopt;
  if (!secret) throw invalid_input("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  if (!id) throw invalid_input("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
  return Credentials{.access_key_id = std::move(*id),
                     .secret_access_key = std::move(*secret),
                     .session_token = env("AWS_SESSION_TOKEN").value_or(env("AWS_SECURITY_TOKEN").value_or(""))};
}

std::optional<Credentials> profile_credentials(const ProfileChoice& profile, const Environment& env) {
  const auto keys = load_profile(profile.name, env);
  const std::string files = credentials_file_path(env).string() + " or " + config_file_path(env).string();
  if (!keys) {
    if (profile.named) throw invalid_input("the AWS profile '" + profile.name + "' is in neither " + files);
    return std::nullopt;
  }
  auto value = [&keys](const char* key) -> std::optional<std::string> {
    const auto found = keys->find(key);
    if (found == keys->end() || found->second.empty()) return std::nullopt;
    return found->second;
  };
  auto id = value("aws_access_key_id");
  auto secret = value("aws_secret_access_key");
  const std::string where = "the AWS profile '" + profile.name + "' (" + files + ")";
  if (id && secret)
    return Credentials{.access_key_id = std::move(*id),
                       .secret_access_key = std::move(*secret),
                       .session_token = value("aws_session_token").value_or("")};
  if (id) throw invalid_input(where + " has aws_access_key_id but no aws_secret_access_key");
  if (secret) throw invalid_input(where + " has aws_secret_access_key but no aws_access_key_id");
  for (const char* unsupported :
       {"role_arn", "credential_process", "sso_session", "sso_start_url", "web_identity_token_file"}) {
    if (value(unsupported))
      throw invalid_input(where + " gets its credentials through " + unsupported +
                          ", which sentiflow does not support; export them instead, e.g. with "
                          "`aws configure export-credentials --profile " +
                          profile.name + " --format env`");
  }
  return std::nullopt;
}

std::optional<Credentials> container_credentials(const Environment& env, std::chrono::milliseconds timeout) {
  const auto relative = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  const auto full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (!relative && !full) return std::nullopt;
  const std::string url = relative ? "http://169.254.170.2" + *relative : *full;
  if (!relative) {
    const auto parts = split_url(url);
    if (parts.scheme != "https" && (parts.scheme != "http" || !is_trusted_http_host(parts.host)))
      throw invalid_input(
          "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http on a loopback or the ECS/EKS "
          "link-local address: " +
          without_query(url));
  }
  const std::string source = "container credentials endpoint " + without_query(url);
  HttpRequest request{.method = "GET", .url = url, .headers = {{"Accept", "application/json"}}};
  if (const auto token = container_authorization(env); !token.empty())
    request.headers.emplace_back("Authorization", token);
  HttpClient client(user_agent());
  const auto response = send_metadata(client, std::move(request), timeout, source);
  if (response.status != 200) {
    // 4xx: the token or the URI is wrong and will stay wrong; 5xx and the rest: try again.
    const auto code = response.status >= 400 && response.status < 500 && response.status != 429
                          ? ErrorCode::invalid_input
                          : ErrorCode::transient;
    throw Error(code, source + " answered HTTP " + std::to_string(response.status));
  }
  return parse_credentials_json(response.body, source);
}

std::optional<Credentials> instance_credentials(const Environment& env, std::chrono::milliseconds timeout,
                                                bool probing) {
  if (to_lower_ascii(env("AWS_EC2_METADATA_DISABLED").value_or("")) == "true") return std::nullopt;
  std::string base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")
                         .value_or(to_lower_ascii(env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE").value_or("")) == "ipv6"
                                       ? "http://[fd00:ec2::254]"
                                       : "http://169.254.169.254");
  while (base.ends_with('/')) base.pop_back();
  const std::string source = "EC2 instance metadata at " + without_query(base);
  HttpClient client(user_agent());
  auto send = [&](HttpRequest request) -> std::optional<HttpResponse> {
    try {
      return send_metadata(client, std::move(request), timeout, source);
    } catch (const Error& e) {
      if (probing && e.code() == ErrorCode::transient) {
        log::debug("no EC2 instance metadata", {{"error", e.what()}});
        return std::nullopt;  // nothing listens there: not on EC2
      }
      throw;
    }
  };

  const auto token = send({.method = "PUT",
                           .url = base + "/latest/api/token",
                           .headers = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}}});
  if (!token) return std::nullopt;
  if (token->status != 200) {
    if (probing) return std::nullopt;  // IMDSv2 disabled or not an instance: no credentials here
    throw Error(ErrorCode::transient, source + " refused a session token (HTTP " + std::to_string(token->status) + ")");
  }
  const HttpHeaders with_token = {{"X-aws-ec2-metadata-token", std::string(trim(token->body))}};
  const std::string roles_url = base + "/latest/meta-data/iam/security-credentials/";
  const auto roles = send({.method = "GET", .url = roles_url, .headers = with_token});
  if (!roles) return std::nullopt;
  const auto role = roles->status == 200 ? std::string(trim(split(roles->body, '\n').front())) : std::string();
  if (roles->status == 404 || (roles->status == 200 && role.empty())) {
    if (probing) return std::nullopt;
    throw invalid_input(source + ": this instance has no IAM role attached");
  }
  if (roles->status != 200)
    throw Error(ErrorCode::transient,
                source + " answered HTTP " + std::to_string(roles->status) + " for the role name");
  const auto answer = send({.method = "GET", .url = roles_url + role, .headers = with_token});
  if (!answer) return std::nullopt;
  if (answer->status != 200)
    throw Error(ErrorCode::transient,
                source + " answered HTTP " + std::to_string(answer->status) + " for the credentials of role " + role);
  const auto document = nlohmann::json::parse(answer->body, nullptr, false);
  if (document.is_object() && document.contains("Code") && document.at("Code") != "Success")
    throw Error(ErrorCode::transient,
                source + " has no usable credentials for role " + role + " (Code is not Success)");
  return parse_credentials_json(answer->body, source);
}

std::shared_ptr<CredentialsProvider> default_chain(const AwsSettings& settings, CredentialsOptions options) {
  const auto env = options.environment;
  const auto timeout = options.metadata_timeout;
  const auto profile = choose_profile(settings, env);
  std::vector<Source> sources;
  if (!profile.from_pipeline_file)
    sources.push_back({"environment", [env](bool) { return environment_credentials(env); }});
  sources.push_back({"profile " + profile.name, [env, profile](bool) { return profile_credentials(profile, env); }});
  sources.push_back({"container", [env, timeout](bool) { return container_credentials(env, timeout); }});
  sources.push_back({"instance metadata",
                     [env, timeout](bool first_look) { return instance_credentials(env, timeout, first_look); }});
  return std::make_shared<ChainProvider>(std::move(sources), std::move(options));
}

}  // namespace sentiflow::aws
