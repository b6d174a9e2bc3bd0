#include "net/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <arpa/inet.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

#include "core/error.h"
#include "core/strings.h"
#include "net/url.h"

namespace sentiflow {
namespace {

// curl_global_init is not thread-safe in every libcurl build; do it once, before any handle.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct BodySink {
  std::string* body;
  size_t limit;
  bool overflowed = false;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  if (sink->body->size() + size * count > sink->limit) {
    sink->overflowed = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  sink->body->append(data, size * count);
  return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* headers = static_cast<HttpHeaders*>(user);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();  // a new response (after a redirect or 100 Continue): keep only the last
  } else if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    headers->emplace_back(to_lower_ascii(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

// Frees a curl_slist however the request ends.
struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) {
    curl_slist* grown = curl_slist_append(list, line.c_str());
    if (grown == nullptr) throw Error(ErrorCode::internal, "out of memory building HTTP headers");
    list = grown;
  }
};

// The bundle every handle uses, chosen once: the environment and the files do not change
// under a running process, and the probe would cost a few stat(2) calls per request.
const std::string& ca_bundle(CURL* curl) {
  static const std::string bundle = [curl] {
    const char* curl_default = nullptr;
    if (curl_easy_getinfo(curl, CURLINFO_CAINFO, &curl_default) != CURLE_OK) curl_default = nullptr;
    return select_ca_bundle([](const char* name) { return std::getenv(name); },
                            [](const std::string& path) { return ::access(path.c_str(), R_OK) == 0; },
                            curl_default != nullptr ? curl_default : "");
  }();
  return bundle;
}

}  // namespace

std::string select_ca_bundle(const std::function<const char*(const char*)>& getenv,
                             const std::function<bool(const std::string&)>& exists, const std::string& curl_default) {
  for (const char* variable : {"AWS_CA_BUNDLE", "SSL_CERT_FILE"}) {
    const char* value = getenv(variable);
    if (value != nullptr && *value != '\0') return value;
  }
  if (!curl_default.empty() && exists(curl_default)) return curl_default;
  for (const char* known : {"/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt",
                            "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem"}) {
    if (exists(known)) return known;
  }
  return "";
}

struct HttpClient::Handle {
  CURL* curl = nullptr;
  std::string user_agent;
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

HttpClient::HttpClient(std::string user_agent) : handle_(std::make_unique<Handle>()) {
  init_curl_once();
  handle_->curl = curl_easy_init();
  if (handle_->curl == nullptr) throw Error(ErrorCode::internal, "libcurl could not create a handle");
  handle_->user_agent = std::move(user_agent);
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

namespace {

// The redirect rule's state for one transfer: the scope of its first request's address, and
// the refused address, if any. CURLOPT_PREREQFUNCTION calls it before every request of the
// transfer (the first and each redirect), on new and reused connections alike.
struct RedirectGuard {
  const HttpRequest* request = nullptr;
  bool started = false;
  bool from_public = false;
  std::string origin{};
  std::string refused{};  // "ip:port" of a refused redirect target
};

int check_redirect(void* data, char* primary_ip, char* /*local_ip*/, int primary_port, int /*local_port*/) {
  auto& g = *static_cast<RedirectGuard*>(data);
  const std::string ip = primary_ip != nullptr ? primary_ip : "";
  const AddressScope scope = g.request->scope_of ? g.request->scope_of(ip, primary_port) : address_scope(ip);
  const std::string where = fmt::format("{}:{}", ip, primary_port);
  if (!g.started) {
    g.started = true;
    g.from_public = scope == AddressScope::public_address;
    g.origin = where;
    return CURL_PREREQFUNC_OK;
  }
  if (g.from_public && scope == AddressScope::internal) {
    g.refused = where;
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

}  // namespace

AddressScope address_scope(std::string_view ip) {
  const std::string text(ip);
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    const uint32_t a = ntohl(v4.s_addr);
    const uint32_t top = a >> 24;
    const bool internal = top == 127 || top == 0 || (a >> 16) == ((169u << 8) | 254u);
    return internal ? AddressScope::internal : AddressScope::public_address;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) != 1) return AddressScope::internal;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    char mapped[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &v6.s6_addr[12], mapped, sizeof mapped);
    return address_scope(mapped);
  }
  static const in6_addr kAwsMetadata = [] {
    in6_addr a{};
    ::inet_pton(AF_INET6, "fd00:ec2::254", &a);
    return a;
  }();
  const bool internal = IN6_IS_ADDR_LOOPBACK(&v6) || IN6_IS_ADDR_UNSPECIFIED(&v6) || IN6_IS_ADDR_LINKLOCAL(&v6) ||
                        IN6_ARE_ADDR_EQUAL(&v6, &kAwsMetadata);
  return internal ? AddressScope::internal : AddressScope::public_address;
}

HttpResponse HttpClient::send(const HttpRequest& request) {
  CURL* curl = handle_->curl;
  // Reset clears the previous request's options but keeps the live connections.
  curl_easy_reset(curl);
  HttpResponse response;
  HeaderList headers;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    headers.add(name + ": " + value);
    has_content_type = has_content_type || to_lower_ascii(name) == "content-type";
  }
  headers.add("Expect:");  // no 100-continue round trip before bodies
  // libcurl would label any body form-encoded; a signed request must carry what it signed.
  if (!has_content_type) headers.add("Content-Type:");

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: safe in threads
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  if (request.accept_compressed) curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // all libcurl decodes
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  // "*" matches every host, so libcurl ignores http_proxy, ALL_PROXY and the rest.
  if (!request.use_proxy) curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  if (const auto& bundle = ca_bundle(curl); !bundle.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, bundle.c_str());
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  RedirectGuard guard{&request};
  // The handle is reused: the callback of an earlier request must not stay behind.
  curl_easy_setopt(curl, CURLOPT_PREREQFUNCTION, request.refuse_internal_redirects ? check_redirect : nullptr);
  curl_easy_setopt(curl, CURLOPT_PREREQDATA, &guard);
  if (!handle_->user_agent.empty()) curl_easy_setopt(curl, CURLOPT_USERAGENT, handle_->user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  BodySink sink{&response.body, request.max_response_bytes};
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET" || !request.body.empty()) {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }

  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    const std::string where = fmt::format("{} {}", request.method, without_query(request.url));
    if (code == CURLE_ABORTED_BY_CALLBACK && !guard.refused.empty())
      throw invalid_input(
          fmt::format("{}: a redirect from the public address {} to the internal address {} (this "
                      "host or its link, where cloud metadata answers) is refused",
                      where, guard.origin, guard.refused));
    switch (code) {
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL: throw invalid_input(fmt::format("{}: {}", where, curl_easy_strerror(code)));
      case CURLE_WRITE_ERROR:
        if (sink.overflowed)
          throw invalid_input(
              fmt::format("{}: the response is larger than {} bytes", where, request.max_response_bytes));
        throw Error(ErrorCode::transient, fmt::format("{}: {}", where, curl_easy_strerror(code)));
      case CURLE_OPERATION_TIMEDOUT: {
        // Whether the connection was ever made tells which of the two limits ran out.
        curl_off_t connected = 0;
        curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
        const auto limit = connected > 0 ? request.timeout : request.connect_timeout;
        throw Error(ErrorCode::transient, fmt::format("{}: timed out after {} ms{}", where, limit.count(),
                                                      connected > 0 ? "" : " while connecting"));
      }
      default: throw Error(ErrorCode::transient, fmt::format("{}: {}", where, curl_easy_strerror(code)));
    }
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  const std::string wanted = to_lower_ascii(name);
  for (const auto& [key, value] : headers)
    if (key == wanted) return value;
  return std::nullopt;
}

bool is_retryable_status(long status) { return status == 429 || (status >= 500 && status != 501); }

}  // namespace sentiflow
