// AWS Signature Version 4 over OpenSSL (SHA-256, HMAC-SHA256).
//
// Why our own and not libcurl's CURLOPT_AWS_SIGV4: the libcurl of Debian 12 (7.88) canonicalizes
// paths and queries differently from AWS in corner cases that later releases fixed, and it
// shows neither the canonical request nor the string to sign, which tests need. The rules below
// are AWS's ("Create a signed AWS API request", SigV4) and are checked against botocore for a
// table of requests (tests/aws/sigv4_vectors.json):
//
//  - Path: each segment is percent-decoded, then RFC 3986-encoded (unreserved A-Z a-z 0-9 - . _ ~
//    stay, every other byte becomes %XX, upper-case hex). S3 signs that once-encoded path as it
//    is; every other service first drops empty, "." and ".." segments and encodes a second time.
//  - Query: each parameter's name and value are percent-decoded ('+' is a plus, not a space) and
//    RFC 3986-encoded, so '/', ':', '*' and '=' in values come out as %2F, %3A, %2A, %3D; the
//    pairs are sorted by encoded name, then encoded value; a valueless parameter signs as
//    "name=".
//  - Headers: every header of the request except hop-by-hop ones and User-Agent (botocore's
//    list), plus host (from the URL, port only when not the scheme's default) and the headers
//    sign() adds; names lower-case and sorted, values trimmed with inner runs of spaces and
//    tabs collapsed to one space, a repeated header's values joined by ','.
//  - Payload: the SHA-256 of the body, or payload_hash when given (e.g. "UNSIGNED-PAYLOAD");
//    for S3 also sent as x-amz-content-sha256.
//
// Pure functions, thread-safe. Nothing here logs; canonical requests and strings to sign hold
// the session token, so callers must not log them either.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"
#include "net/http_client.h"
#include "net/url.h"

namespace sentiflow::aws {

struct Credentials {
  std::string access_key_id{};
  std::string secret_access_key{};
  std::string session_token{};      // empty for long-term keys
  std::optional<Seconds> expiry{};  // nullopt: does not expire
};

struct SigningRequest {
  std::string method = "GET";
  // The full URL as it goes on the wire: scheme, host, optional port, path (percent-encoded
  // once, as sent) and optional query.
  std::string url{};
  // Must not carry Authorization, X-Amz-Date, X-Amz-Security-Token or, for S3,
  // x-amz-content-sha256: sign() adds those (a given one is dropped and replaced).
  HttpHeaders headers{};
  std::string body{};
  // When set, signed in place of the SHA-256 of `body` (S3's "UNSIGNED-PAYLOAD", or a hash
  // computed while streaming).
  std::optional<std::string> payload_hash{};
};

// What signing produced: the headers to add to the request before sending it, and the
// intermediate texts (for tests and for comparing with a server's "should have been" message).
struct Signature {
  HttpHeaders headers;  // X-Amz-Date, X-Amz-Security-Token (with a token), X-Amz-Content-SHA256 (S3), Authorization
  std::string canonical_request;
  std::string string_to_sign;
  std::string authorization;
};

// Signs `request` for `service` (the signing name: "s3", "dynamodb", "sqs", "events"...) in
// `region` at `time`. Throws Error(invalid_input) for a URL without scheme or host, or
// credentials without a key id or secret. The secret appears in no message.
Signature sign_request(const SigningRequest& request, const Credentials& credentials, std::string_view region,
                       std::string_view service, Seconds time);

// sign_request(...).headers: the headers to add.
HttpHeaders sign(const SigningRequest& request, const Credentials& credentials, std::string_view region,
                 std::string_view service, Seconds time);

// The canonical request of `request` exactly as it stands: its headers must already include
// those sign() adds (x-amz-date...). Exposed for tests.
std::string canonical_request(const SigningRequest& request, std::string_view service);

// "AWS4-HMAC-SHA256\n<time>\n<date>/<region>/<service>/aws4_request\n<hex SHA-256 of canonical>".
std::string string_to_sign(std::string_view canonical_request, std::string_view region, std::string_view service,
                           Seconds time);

// The hex HMAC-SHA256 signature of `string_to_sign` with the key derived from `secret`.
std::string signature_of(std::string_view string_to_sign, std::string_view secret, std::string_view region,
                         std::string_view service, Seconds time);

// "20260102T030405Z", SigV4's X-Amz-Date form.
std::string amz_date(Seconds time);

// The RFC 3986 canonical form of a URL's query, as SigV4 signs it (rules above). Exposed for tests.
std::string canonical_query(std::string_view query);

// The parts of an absolute URL that signing needs. `host` is lower-case and carries the port
// only when it is not the scheme's default (80 for http, 443 for https), as the Host header
// does; `path` is "/" when the URL has none; the fragment is dropped.
struct UrlParts {
  std::string scheme;  // lower-case
  std::string host;
  std::string path;
  std::string query;  // without the '?'
};
// Throws Error(invalid_input) for a URL without "scheme://" or a host; the message names the
// URL without its query.
// Its path and query decode with net/url.h's percent_decode (lenient: a '%' not followed by two
// hex digits stays as it is, '+' stays a plus).
UrlParts split_url(std::string_view url);

}  // namespace sentiflow::aws
