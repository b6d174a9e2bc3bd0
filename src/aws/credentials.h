// AWS credentials: where they come from and keeping them fresh.
//
// default_chain() looks where the AWS SDKs look, in their order, and stays with the first source
// that has credentials:
//   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (skipped
//      when the pipeline file names a profile: a profile chosen there is meant);
//   2. the shared files: the profile's aws_access_key_id, aws_secret_access_key and
//      aws_session_token (aws/settings.h says which profile and which files);
//   3. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on 169.254.170.2) or
//      AWS_CONTAINER_CREDENTIALS_FULL_URI, with the token of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
//      or AWS_CONTAINER_AUTHORIZATION_TOKEN in the Authorization header (ECS, EKS Pod Identity,
//      Lambda's SnapStart);
//   4. EC2 instance metadata, IMDSv2 only (a session token first, then the role's credentials),
//      at AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254; AWS_EC2_METADATA_DISABLED=true
//      skips it.
// Credentials that expire are fetched again `refresh_before_expiry` ahead of time; if that fails
// while the old ones are still valid, the old ones are used (and a warning logged), and the
// next try comes 30 s later, not on every call.
//
// No secret access key and no session token ever appears in an Error message or a log line:
// messages name sources, files, URLs without their query and key names, never values.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "aws/settings.h"
#include "aws/sigv4.h"
#include "core/time.h"

namespace sentiflow::aws {

// A source of credentials. Implementations are safe to share between threads.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;

  // Credentials valid now (and, when they expire, for a while yet). Throws Error:
  // invalid_input when none are configured or a configured source is unusable (the user's to
  // fix); transient when a metadata endpoint did not answer (try again).
  virtual Credentials get() = 0;

  // Forgets cached credentials, so that the next get() fetches them anew: after a service said
  // that they expired. Sources of fixed credentials ignore it.
  virtual void invalidate() {}

  // Where the credentials come from ("environment", "profile dev", "container", "instance
  // metadata"), for log lines; empty until the first successful get().
  virtual std::string source() const = 0;
};

// Always the same credentials.
std::shared_ptr<CredentialsProvider> static_credentials(Credentials credentials);

struct CredentialsOptions {
  Environment environment = process_environment();
  std::function<Seconds()> now = now_seconds;  // injectable for tests of the refresh
  std::chrono::seconds refresh_before_expiry{5 * 60};
  // Each request to the container or instance metadata endpoints (the SDKs use 1-2 s: on a
  // laptop the instance endpoint does not exist, and the chain should give up quickly).
  std::chrono::milliseconds metadata_timeout{1'000};
};

// The chain described above, for the pipeline file's `aws:` settings. Looks nowhere until the
// first get().
std::shared_ptr<CredentialsProvider> default_chain(const AwsSettings& settings, CredentialsOptions options = {});

// The chain's sources one by one: nullopt when the source is not configured at all. Throw
// Error(invalid_input) for a source that is configured but incomplete or unusable (a key id
// without a secret, a named profile that does not exist, a profile using role_arn or SSO, which
// sentiflow does not support), Error(transient) when an endpoint did not answer.
std::optional<Credentials> environment_credentials(const Environment& env);
std::optional<Credentials> profile_credentials(const ProfileChoice& profile, const Environment& env);
std::optional<Credentials> container_credentials(const Environment& env, std::chrono::milliseconds timeout);
// `probing`: an endpoint that does not answer at all means "not on EC2", nullopt rather than
// an error (the chain's first look); once the chain relies on IMDS, it is Error(transient).
std::optional<Credentials> instance_credentials(const Environment& env, std::chrono::milliseconds timeout,
                                                bool probing);

}  // namespace sentiflow::aws
