// The HTTP client against a real HTTP server started by the test on 127.0.0.1.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "net/backoff.h"
#include "net/http_client.h"
#include "net/url.h"
#include "support/aws_env.h"  // ScopedEnv
#include "support/local_server.h"

namespace sentiflow {
namespace {

// The test's endpoints on a free port of 127.0.0.1.
class LocalServer : public testing_support::LocalHttpServer {
 public:
  LocalServer() : LocalHttpServer(routes) {}

 private:
  static void routes(httplib::Server& server) {
    server.Get("/hello", [](const httplib::Request& req, httplib::Response& res) {
      res.set_header("X-Echo-Agent", req.get_header_value("User-Agent"));
      res.set_header("X-Client-Port", std::to_string(req.remote_port));
      res.set_content("hello " + req.get_param_value("name"), "text/plain");
    });
    server.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 201;
      res.set_header("X-Method", req.method);
      res.set_header("X-Custom", req.get_header_value("X-Custom"));
      res.set_header("X-Content-Type", req.has_header("Content-Type") ? req.get_header_value("Content-Type") : "none");
      res.set_content(req.body, "application/json");
    });
    server.Put("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.method + ":" + req.body, "text/plain");
    });
    server.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      // Longer than the client's timeout in the test: the server is what is slow here.
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      res.set_content("late", "text/plain");
    });
    server.Get("/moved",
               [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/hello?name=moved"); });
    server.Get("/busy", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_header("Retry-After", "1");
    });
  }
};

// The Lambda zip carries Debian's libcurl onto Amazon Linux 2023: its compiled-in bundle path
// is missing there and the system's must be found, or every HTTPS call fails.
TEST(HttpClient, CaBundleIsTheEnvironmentsElseCurlsElseTheDistributionsOwn) {
  const auto env = [](std::map<std::string, std::string> values) {
    return [values = std::move(values)](const char* name) -> const char* {
      const auto found = values.find(name);
      return found == values.end() ? nullptr : found->second.c_str();
    };
  };
  const auto files = [](std::set<std::string> present) {
    return [present = std::move(present)](const std::string& path) { return present.count(path) > 0; };
  };
  const std::string debian = "/etc/ssl/certs/ca-certificates.crt";
  const std::string amazon = "/etc/pki/tls/certs/ca-bundle.crt";
  // On Amazon Linux: Debian's compiled-in default is missing, the system's bundle is used.
  EXPECT_EQ(select_ca_bundle(env({}), files({amazon}), debian), amazon);
  // On Debian: libcurl's own default.
  EXPECT_EQ(select_ca_bundle(env({}), files({debian, amazon}), debian), debian);
  // The environment wins, AWS's variable first; an empty value does not count.
  EXPECT_EQ(select_ca_bundle(env({{"SSL_CERT_FILE", "/x.pem"}, {"AWS_CA_BUNDLE", "/a.pem"}}), files({debian}), debian),
            "/a.pem");
  EXPECT_EQ(select_ca_bundle(env({{"SSL_CERT_FILE", "/x.pem"}, {"AWS_CA_BUNDLE", ""}}), files({debian}), debian),
            "/x.pem");
  // Nothing known exists: libcurl keeps its default.
  EXPECT_EQ(select_ca_bundle(env({}), files({}), debian), "");
}

TEST(HttpClient, GetsWithUserAgentAndKeepsTheConnection) {
  LocalServer server;
  HttpClient client("sentiflow-test/1.0 (ops@example.com)");
  const auto first = client.send({.url = server.url("/hello?name=ada")});
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "hello ada");
  EXPECT_EQ(first.header("x-echo-agent"), "sentiflow-test/1.0 (ops@example.com)");
  EXPECT_EQ(first.header("Content-Type"), "text/plain");
  const auto second = client.send({.url = server.url("/hello?name=bob")});
  EXPECT_EQ(second.body, "hello bob");
  EXPECT_EQ(first.header("x-client-port"), second.header("x-client-port")) << "the connection was not reused";
}

TEST(HttpClient, SendsBodiesAndHeadersWithAnyMethod) {
  LocalServer server;
  HttpClient client;
  const auto posted = client.send(
      {.method = "POST", .url = server.url("/echo"), .headers = {{"X-Custom", "yes"}}, .body = R"({"a":1})"});
  EXPECT_EQ(posted.status, 201);
  EXPECT_EQ(posted.body, R"({"a":1})");
  EXPECT_EQ(posted.header("x-method"), "POST");
  EXPECT_EQ(posted.header("x-custom"), "yes");
  EXPECT_EQ(posted.header("x-content-type"), "none") << "no Content-Type is invented for a body";
  const auto typed = client.send({.method = "POST",
                                  .url = server.url("/echo"),
                                  .headers = {{"Content-Type", "application/x-amz-json-1.0"}},
                                  .body = "{}"});
  EXPECT_EQ(typed.header("x-content-type"), "application/x-amz-json-1.0");
  const auto put = client.send({.method = "PUT", .url = server.url("/echo"), .body = "data"});
  EXPECT_EQ(put.body, "PUT:data");
}

TEST(HttpClient, RefusesBodiesOverTheLimit) {
  LocalServer server;
  HttpClient client;
  try {
    client.send({.url = server.url("/hello?name=" + std::string(100, 'x')), .max_response_bytes = 50});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("larger than 50 bytes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(client.send({.url = server.url("/hello?name=ok")}).body, "hello ok") << "the client stays usable";
}

TEST(HttpClient, ReturnsErrorStatusesAndFollowsRedirectsOnlyWhenAsked) {
  LocalServer server;
  HttpClient client;
  const auto busy = client.send({.url = server.url("/busy")});
  EXPECT_EQ(busy.status, 503);
  EXPECT_TRUE(is_retryable_status(busy.status));
  EXPECT_EQ(client.send({.url = server.url("/moved")}).status, 302);
  const auto followed = client.send({.url = server.url("/moved"), .follow_redirects = true});
  EXPECT_EQ(followed.status, 200);
  EXPECT_EQ(followed.body, "hello moved");
}

TEST(HttpClient, TimeoutsAndRefusedConnectionsAreTransient) {
  LocalServer server;
  HttpClient client;
  try {
    client.send({.url = server.url("/slow?token=secret"), .timeout = std::chrono::milliseconds(200)});
    FAIL() << "no timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::transient);
    EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << "the query must not be in errors";
  }
  try {
    client.send({.url = "http://127.0.0.1:" + std::to_string(testing_support::free_port()) + "/",
                 .timeout = std::chrono::milliseconds(5000)});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::transient);
  }
  EXPECT_THROW(client.send({.url = "ftp://127.0.0.1/x"}), Error);
}

// Lambda's Runtime API is on 127.0.0.1 while a function's environment may name a proxy for its
// own calls: use_proxy = false must reach the local server whatever http_proxy and ALL_PROXY say.
TEST(HttpClient, UseProxyFalseIgnoresTheProxyVariables) {
  LocalServer server;
  const std::string dead_proxy = "http://127.0.0.1:" + std::to_string(testing_support::free_port());
  testing_support::ScopedEnv environment;
  environment.set("http_proxy", dead_proxy);
  environment.set("ALL_PROXY", dead_proxy);
  environment.unset("all_proxy");
  environment.unset("no_proxy");
  environment.unset("NO_PROXY");
  // The proxy is honoured by default: the request goes to the dead port and fails.
  HttpClient proxied;
  EXPECT_THROW(proxied.send({.url = server.url("/hello?name=proxied")}), Error) << "http_proxy was not used";
  HttpClient direct;
  const auto answer = direct.send({.url = server.url("/hello?name=direct"), .use_proxy = false});
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.body, "hello direct");
}

TEST(AddressScope, LoopbackLinkLocalMetadataAndUnspecifiedAreInternal) {
  for (const char* ip : {"127.0.0.1", "127.9.9.9", "169.254.169.254", "169.254.0.1", "0.0.0.0", "::1", "::", "fe80::1",
                         "::ffff:127.0.0.1", "::ffff:169.254.169.254", "fd00:ec2::254", "not an address"})
    EXPECT_EQ(address_scope(ip), AddressScope::internal) << ip;
  for (const char* ip : {"8.8.8.8", "10.0.0.1", "192.168.1.1", "169.253.0.1", "2001:db8::1", "::ffff:8.8.8.8"})
    EXPECT_EQ(address_scope(ip), AddressScope::public_address) << ip;
}

// Issue 14, fault 10: enrich follows redirects, but not from a public host to this host or the
// cloud's metadata. A loopback server stands in for the public one (scope_of, by port); the
// "internal" server must never see the request. Before, the redirect was followed.
TEST(HttpClient, ARedirectFromAPublicToAnInternalAddressIsRefused) {
  std::atomic<int> internal_hits{0};
  testing_support::LocalHttpServer internal([&](httplib::Server& s) {
    s.Get("/latest/meta-data", [&](const httplib::Request&, httplib::Response& res) {
      ++internal_hits;
      res.set_content("secret role credentials", "text/plain");
    });
  });
  testing_support::LocalHttpServer other_public([](httplib::Server& s) {
    s.Get("/page", [](const httplib::Request&, httplib::Response& res) { res.set_content("a page", "text/plain"); });
  });
  const std::string to_internal = internal.url("/latest/meta-data");
  const std::string to_public = other_public.url("/page");
  testing_support::LocalHttpServer public_server([&](httplib::Server& s) {
    s.Get("/evil", [&](const httplib::Request&, httplib::Response& res) { res.set_redirect(to_internal); });
    s.Get("/moved", [&](const httplib::Request&, httplib::Response& res) { res.set_redirect(to_public); });
  });
  const int internal_port = internal.port();
  const auto scope = [&](std::string_view, int port) {
    return port == internal_port ? AddressScope::internal : AddressScope::public_address;
  };
  HttpClient client;
  std::string message;
  try {
    client.send({.url = public_server.url("/evil"),
                 .follow_redirects = true,
                 .refuse_internal_redirects = true,
                 .scope_of = scope});
    ADD_FAILURE() << "the redirect was followed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    message = e.what();
  }
  EXPECT_NE(message.find("is refused"), std::string::npos) << message;
  EXPECT_NE(message.find(std::to_string(internal_port)), std::string::npos) << message;
  EXPECT_EQ(internal_hits, 0);
  // Public to public: followed, on the same client (its callback state is per request).
  const auto moved = client.send({.url = public_server.url("/moved"),
                                  .follow_redirects = true,
                                  .refuse_internal_redirects = true,
                                  .scope_of = scope});
  EXPECT_EQ(moved.status, 200);
  EXPECT_EQ(moved.body, "a page");
  // Internal to internal (a server on this host, judged for real): followed.
  const auto local =
      client.send({.url = public_server.url("/evil"), .follow_redirects = true, .refuse_internal_redirects = true});
  EXPECT_EQ(local.status, 200);
  EXPECT_EQ(internal_hits, 1);
}

TEST(Url, EncodesAllButUnreserved) {
  EXPECT_EQ(url_encode("Hello World/ü~-._"), "Hello%20World%2F%C3%BC~-._");
  EXPECT_EQ(url_encode("a/b c", true), "a/b%20c");
  EXPECT_EQ(url_encode("*+?&="), "%2A%2B%3F%26%3D");
}

TEST(Url, ExpandsTemplatesWithEncodedAttributes) {
  const auto lookup = [](std::string_view name) -> std::optional<std::string> {
    if (name == "name") return "AT&T Inc.";
    if (name == "lang") return "en";
    return std::nullopt;
  };
  EXPECT_EQ(expand_url_template("https://{lang}.example.org/page/{name}?x=1", lookup),
            "https://en.example.org/page/AT%26T%20Inc.?x=1");
  EXPECT_THROW(expand_url_template("https://x/{missing}", lookup), Error);
}

// An attribute of "." or ".." would make a dot segment, which curl and servers resolve: the
// fetch would leave the template's path (issue 14, fault 10). Dots inside a segment are fine.
TEST(Url, AnAttributeCannotMakeADotSegment) {
  std::string value;
  const auto lookup = [&](std::string_view) -> std::optional<std::string> { return value; };
  for (const std::string bad : {"..", "."}) {
    value = bad;
    try {
      expand_url_template("https://en.wikipedia.org/api/rest_v1/page/summary/{name}?redirect=false", lookup);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      EXPECT_NE(std::string(e.what()).find("path segment"), std::string::npos) << e.what();
    }
  }
  for (const std::string fine : {"...", "a..b", "..a", ".net"}) {
    value = fine;
    EXPECT_EQ(expand_url_template("https://x/page/{name}", lookup), "https://x/page/" + fine);
  }
  value = ".";
  EXPECT_EQ(expand_url_template("https://x/page/{name}.json", lookup), "https://x/page/..json");
  value = "..";
  EXPECT_EQ(expand_url_template("https://x/page?q={name}", lookup), "https://x/page?q=..");  // a query, not a path
  value = ".";
  EXPECT_THROW(expand_url_template("https://x/page/%2E{name}/y", lookup), Error);  // "%2E." is ".." once decoded
}

TEST(Backoff, FullJitterStaysUnderTheDoublingCeiling) {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::milliseconds(2000), 42);
  EXPECT_EQ(backoff.ceiling(0).count(), 100);
  EXPECT_EQ(backoff.ceiling(3).count(), 800);
  EXPECT_EQ(backoff.ceiling(10).count(), 2000);
  EXPECT_EQ(backoff.ceiling(1000).count(), 2000);
  Backoff negative(std::chrono::milliseconds(100), std::chrono::milliseconds(-1), 1);
  EXPECT_EQ(negative.delay(0).count(), 0) << "a negative cap counts as 0";
  bool varied = false;
  std::chrono::milliseconds previous{-1};
  for (unsigned retry = 0; retry < 50; ++retry) {
    const auto d = backoff.delay(retry % 6);
    EXPECT_GE(d.count(), 0);
    EXPECT_LE(d, backoff.ceiling(retry % 6));
    varied = varied || (previous.count() >= 0 && d != previous);
    previous = d;
  }
  EXPECT_TRUE(varied) << "jitter must vary the delays";
}

}  // namespace
}  // namespace sentiflow
