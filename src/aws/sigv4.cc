#include "aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "core/strings.h"
#include "net/url.h"

namespace sentiflow::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// Headers that a proxy may change or drop on the way, so a signature over them could not be
// checked; botocore's SIGNED_HEADERS_BLACKLIST, which the vectors are computed with.
constexpr std::array<std::string_view, 11> kUnsignedHeaders = {
    "connection",        "expect",  "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"};

bool is_unsigned_header(std::string_view lower_name) {
  return std::find(kUnsignedHeaders.begin(), kUnsignedHeaders.end(), lower_name) != kUnsignedHeaders.end();
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

// SigV4's Trimall: no space at either end, one space for every inner run.
std::string trim_all(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (const char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += c;
  }
  return out;
}

std::string encode_segment(std::string_view wire_segment) { return url_encode(percent_decode(wire_segment)); }

// S3 signs the path encoded once and exactly as it is: a key may hold "//", "." and "..".
std::string canonical_s3_path(std::string_view wire_path) {
  std::string out;
  bool first = true;
  for (const auto segment : split(wire_path, '/')) {
    if (!first) out += '/';
    first = false;
    out += encode_segment(segment);
  }
  return out.empty() ? "/" : out;
}

// Other services sign the path with dot segments and empty segments removed (RFC 3986
// section 5.2.4, plus AWS's rule on repeated slashes), each segment encoded twice.
std::string canonical_service_path(std::string_view wire_path) {
  if (wire_path.empty()) return "/";
  std::vector<std::string_view> kept;
  for (const auto segment : split(wire_path, '/')) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(segment);
  }
  std::string out = wire_path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out += '/';
    out += url_encode(encode_segment(kept[i]));
  }
  if (wire_path.back() == '/' && !kept.empty()) out += '/';
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), digest.data(), &length) == nullptr)
    throw Error(ErrorCode::internal, "OpenSSL could not compute an HMAC-SHA256");
  return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

std::string credential_scope(std::string_view region, std::string_view service, Seconds time) {
  std::string scope = amz_date(time).substr(0, 8);
  scope.append("/").append(region).append("/").append(service).append("/aws4_request");
  return scope;
}

struct CanonicalHeaders {
  std::string text;          // "name:value\n" per header
  std::string signed_names;  // "host;x-amz-date"
};

CanonicalHeaders canonical_headers(const HttpHeaders& headers, const UrlParts& url) {
  // Sorted by name; a stable sort keeps a repeated header's values in the order given.
  std::vector<std::pair<std::string, std::string>> lowered;
  lowered.reserve(headers.size() + 1);
  bool has_host = false;
  for (const auto& [name, value] : headers) {
    auto lower = to_lower_ascii(trim(name));
    if (is_unsigned_header(lower)) continue;
    has_host = has_host || lower == "host";
    lowered.emplace_back(std::move(lower), trim_all(value));
  }
  if (!has_host) lowered.emplace_back("host", url.host);
  std::stable_sort(lowered.begin(), lowered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (size_t i = 0; i < lowered.size(); ++i) {
    const bool repeat = i > 0 && lowered[i].first == lowered[i - 1].first;
    if (repeat) {
      out.text.pop_back();  // the '\n' of the same header's previous value
      out.text.append(",").append(lowered[i].second).append("\n");
      continue;
    }
    if (!out.signed_names.empty()) out.signed_names += ';';
    out.signed_names += lowered[i].first;
    out.text.append(lowered[i].first).append(":").append(lowered[i].second).append("\n");
  }
  return out;
}

std::optional<std::string> find_header(const HttpHeaders& headers, std::string_view lower_name) {
  for (const auto& [name, value] : headers)
    if (to_lower_ascii(name) == lower_name) return value;
  return std::nullopt;
}

}  // namespace

UrlParts split_url(std::string_view url) {
  const auto without_query = url.substr(0, url.find_first_of("?#"));
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0)
    throw invalid_input("not an absolute URL (scheme://host/...): " + std::string(without_query));
  UrlParts parts;
  parts.scheme = to_lower_ascii(url.substr(0, scheme_end));
  auto rest = url.substr(scheme_end + 3);
  const auto fragment = rest.find('#');
  if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
  const auto authority_end = rest.find_first_of("/?");
  auto authority = rest.substr(0, authority_end);
  rest = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  // The port follows the last ':' outside an IPv6 literal's brackets.
  std::string_view host = authority;
  std::string_view port;
  const auto bracket = authority.rfind(']');
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) throw invalid_input("URL has no host: " + std::string(without_query));
  parts.host = to_lower_ascii(host);
  const bool default_port =
      port.empty() || (parts.scheme == "http" && port == "80") || (parts.scheme == "https" && port == "443");
  if (!default_port) parts.host.append(":").append(port);
  const auto question = rest.find('?');
  parts.path = std::string(rest.substr(0, question));
  if (parts.path.empty()) parts.path = "/";
  if (question != std::string_view::npos) parts.query = std::string(rest.substr(question + 1));
  return parts;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto piece : split(query, '&')) {
    if (piece.empty()) continue;
    const auto equals = piece.find('=');
    const auto name = piece.substr(0, equals);
    const auto value = equals == std::string_view::npos ? std::string_view{} : piece.substr(equals + 1);
    pairs.emplace_back(url_encode(percent_decode(name)), url_encode(percent_decode(value)));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) out += '&';
    out.append(name).append("=").append(value);
  }
  return out;
}

std::string amz_date(Seconds time) {
  std::string text;
  for (const char c : format_utc(time))
    if (c != '-' && c != ':') text += c;
  return text;  // 20260102T030405Z
}

std::string canonical_request(const SigningRequest& request, std::string_view service) {
  const auto url = split_url(request.url);
  const auto headers = canonical_headers(request.headers, url);
  std::string payload;
  if (request.payload_hash) {
    payload = *request.payload_hash;
  } else if (auto given = find_header(request.headers, "x-amz-content-sha256")) {
    payload = std::move(*given);  // the body's hash as the request itself declares it
  } else {
    payload = sha256_hex(request.body);
  }
  std::string out = to_upper_ascii(request.method);
  out += '\n';
  out += service == "s3" ? canonical_s3_path(url.path) : canonical_service_path(url.path);
  out += '\n';
  out += canonical_query(url.query);
  out += '\n';
  out += headers.text;
  out += '\n';
  out += headers.signed_names;
  out += '\n';
  out += payload;
  return out;
}

std::string string_to_sign(std::string_view canonical, std::string_view region, std::string_view service,
                           Seconds time) {
  std::string out(kAlgorithm);
  out.append("\n").append(amz_date(time)).append("\n").append(credential_scope(region, service, time));
  out.append("\n").append(sha256_hex(canonical));
  return out;
}

std::string signature_of(std::string_view text, std::string_view secret, std::string_view region,
                         std::string_view service, Seconds time) {
  const auto date = amz_date(time).substr(0, 8);
  const auto date_key = hmac_sha256("AWS4" + std::string(secret), date);
  const auto region_key = hmac_sha256(date_key, region);
  const auto service_key = hmac_sha256(region_key, service);
  const auto signing_key = hmac_sha256(service_key, "aws4_request");
  return to_hex(hmac_sha256(signing_key, text));
}

Signature sign_request(const SigningRequest& request, const Credentials& credentials, std::string_view region,
                       std::string_view service, Seconds time) {
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty())
    throw invalid_input("AWS credentials need both an access key id and a secret access key");
  if (region.empty()) throw invalid_input("cannot sign an AWS request without a region");
  const bool s3 = service == "s3";
  SigningRequest signed_request;
  signed_request.method = request.method;
  signed_request.url = request.url;
  signed_request.body = request.body;
  signed_request.payload_hash = request.payload_hash;
  for (const auto& header : request.headers) {
    const auto lower = to_lower_ascii(header.first);
    const bool replaced = lower == "authorization" || lower == "x-amz-date" || lower == "x-amz-security-token" ||
                          (s3 && lower == "x-amz-content-sha256");
    if (!replaced) signed_request.headers.push_back(header);
  }
  Signature out;
  out.headers.emplace_back("X-Amz-Date", amz_date(time));
  if (!credentials.session_token.empty()) out.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  if (s3) out.headers.emplace_back("X-Amz-Content-SHA256", request.payload_hash.value_or(sha256_hex(request.body)));
  signed_request.headers.insert(signed_request.headers.end(), out.headers.begin(), out.headers.end());

  out.canonical_request = canonical_request(signed_request, service);
  out.string_to_sign = string_to_sign(out.canonical_request, region, service, time);
  const auto signed_names = out.canonical_request.substr(0, out.canonical_request.rfind('\n'));
  out.authorization =
      std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
      credential_scope(region, service, time) + ", SignedHeaders=" + signed_names.substr(signed_names.rfind('\n') + 1) +
      ", Signature=" + signature_of(out.string_to_sign, credentials.secret_access_key, region, service, time);
  out.headers.emplace_back("Authorization", out.authorization);
  return out;
}

HttpHeaders sign(const SigningRequest& request, const Credentials& credentials, std::string_view region,
                 std::string_view service, Seconds time) {
  return sign_request(request, credentials, region, service, time).headers;
}

}  // namespace sentiflow::aws
