// An HTTP/1.1 client over libcurl: the one way sentiflow talks to web servers (the enrich
// step) and, through src/aws/, to AWS.
//
// An HttpClient owns one libcurl handle and so keeps its connections alive between
// requests. It is NOT safe to share between threads: give each thread its own (they are
// cheap). HTTPS checks certificates against the system CA bundle; the proxy variables
// (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY, ...) are honoured as libcurl does, unless a
// request sets use_proxy = false.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sentiflow {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Where an address leads, for the redirect rule of HttpRequest::refuse_internal_redirects.
// internal: this host or its link (loopback 127.0.0.0/8 and ::1, link-local 169.254.0.0/16 and
// fe80::/10, where cloud metadata services answer, AWS's IPv6 metadata address fd00:ec2::254,
// the unspecified 0.0.0.0/8 and ::, and their IPv4-mapped forms); public: any other address.
enum class AddressScope { public_address, internal };
// The scope of a numeric IPv4 or IPv6 address; text that is not one is internal (refused).
AddressScope address_scope(std::string_view ip);

struct HttpRequest {
  std::string method = "GET";
  std::string url{};
  HttpHeaders headers{};
  std::string body{};
  std::chrono::milliseconds timeout{30'000};         // the whole exchange; 0: no limit
  std::chrono::milliseconds connect_timeout{5'000};  // TCP and TLS set-up
  bool follow_redirects = false;                     // up to 5, for plain web pages
  // Offer gzip/deflate/br and decode the answer. Off by default: S3 must return an object's
  // bytes exactly as stored, even when they carry a Content-Encoding.
  bool accept_compressed = false;
  // A longer body fails the request (Error(invalid_input)): a server must not be able to
  // exhaust our memory.
  size_t max_response_bytes = 64u << 20;
  // False: connect directly whatever the proxy variables say (CURLOPT_NOPROXY "*"). For peers
  // that only exist on this host, such as Lambda's Runtime API at 127.0.0.1:9001: a function
  // whose environment sets http_proxy or ALL_PROXY for its own calls must still reach it.
  bool use_proxy = true;
  // With follow_redirects: a redirect from a public address to an internal one fails the
  // request (Error(invalid_input) naming both), so that a URL built from data cannot reach this
  // host's services or the cloud's metadata through a public server's redirect. Judged on the
  // address each request of the transfer is sent to, after resolution. A request that starts on
  // an internal address (a local server) may be redirected within this host.
  bool refuse_internal_redirects = false;
  // How addresses are judged (ip, port); empty: address_scope. Tests stand a loopback server in
  // for a public one.
  std::function<AddressScope(std::string_view ip, int port)> scope_of{};
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // names in lower case, in the order received (last response only)
  std::string body{};

  // The first header named `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

class HttpClient {
 public:
  explicit HttpClient(std::string user_agent = "");
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and returns the response, whatever its status: callers decide what a
  // 4xx or 5xx means. Throws Error(transient) when no response came (connection refused
  // or reset, DNS failure, timeout) and Error(invalid_input) for a URL libcurl cannot use
  // or a body over request.max_response_bytes. Error messages name the URL without its
  // query, which may carry signatures. No header is added but Expect (suppressed),
  // User-Agent and, with accept_compressed, Accept-Encoding: a body without a Content-Type
  // header is sent without one. Calling send() on a moved-from client is undefined.
  HttpResponse send(const HttpRequest& request);

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
};

// True for the statuses a client may retry: 429 (throttled) and 5xx other than 501.
bool is_retryable_status(long status);

// The CA bundle HTTPS checks certificates against: the file named by AWS_CA_BUNDLE, else by
// SSL_CERT_FILE (set but missing: used anyway, so the failure names it); else libcurl's
// compiled-in bundle `curl_default` when it exists; else the first that exists of the bundles of
// the common distributions (Amazon Linux/Fedora, Debian/Ubuntu, Alpine, openSUSE); else "" (leave
// libcurl's default). Why: the Lambda zip carries Debian's libcurl, whose default path is
// Debian's, onto Amazon Linux 2023, which keeps its bundle elsewhere. `getenv` and `exists` are
// parameters for tests; HttpClient passes the real ones and computes this once per process.
std::string select_ca_bundle(const std::function<const char*(const char*)>& getenv,
                             const std::function<bool(const std::string&)>& exists, const std::string& curl_default);

}  // namespace sentiflow
