// The metrics and dashboard server on 127.0.0.1, fetched with sentiflow's own HTTP client;
// /metrics is read with the strict exposition-format parser of tests/support.
#include "observe_server/observe_server.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <vector>
#include <thread>

#include "core/error.h"
#include "net/http_client.h"
#include "support/poll.h"
#include "support/prometheus_parser.h"

namespace sentiflow {
namespace {

namespace prom = testing_support::prometheus;
using nlohmann::json;

constexpr std::string_view kMarker = R"(<script id="sentiflow-data" type="application/json">null</script>)";

const ListenAddress kAnyLocalPort{"127.0.0.1", 0};

json demo_status() {
  return {{"pipeline", "demo"},
          {"runs", json::array({{{"id", "manual-1"}, {"kind", "manual"}, {"state", "consuming"}, {"processed", 12}}})},
          {"dead_letters", 2}};
}

class Fetch {
 public:
  explicit Fetch(const ObserveServer& server) : base_("http://127.0.0.1:" + std::to_string(server.port())) {}
  HttpResponse operator()(const std::string& path, const std::string& method = "GET", HttpHeaders headers = {}) {
    return client_.send(
        {.method = method, .url = base_ + path, .headers = std::move(headers), .timeout = std::chrono::seconds(10)});
  }

 private:
  std::string base_;
  HttpClient client_{"observe-server-test"};
};

TEST(ObserveServer, ServesPrometheusTextThatAStrictParserAccepts) {
  Metrics metrics;
  metrics.counter("sentiflow_test_served_total", "Things served.").add(5);
  metrics.counter("sentiflow_test_labelled_total", "By label.", {{"label", "POSITIVE"}}).add(2);
  metrics.gauge("sentiflow_test_workers", "Workers.").set(3);
  metrics.histogram("sentiflow_test_seconds", "Latency.").observe(0.02);
  ObserveServer server(kAnyLocalPort, metrics, demo_status);
  server.start();
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(server.url(), "http://127.0.0.1:" + std::to_string(server.port()) + "/");
  Fetch fetch(server);

  const auto response = fetch("/metrics");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const auto families = prom::parse(response.body);
  const auto* served = prom::find(families, "sentiflow_test_served_total");
  ASSERT_NE(served, nullptr);
  EXPECT_EQ(served->type, "counter");
  EXPECT_EQ(served->help, "Things served.");
  EXPECT_EQ(served->value("sentiflow_test_served_total"), 5);
  EXPECT_EQ(prom::find(families, "sentiflow_test_seconds")->value("sentiflow_test_seconds_count"), 1);

  // Counters move between scrapes: the next scrape shows it.
  metrics.counter("sentiflow_test_served_total", "Things served.").add(1);
  EXPECT_EQ(prom::find(prom::parse(fetch("/metrics").body), "sentiflow_test_served_total")
                ->value("sentiflow_test_served_total"),
            6);
  EXPECT_EQ(fetch("/metrics", "HEAD").status, 200);
}

TEST(ObserveServer, ScrapesDuringUpdatesAlwaysParse) {
  Metrics metrics;
  auto& counter = metrics.counter("sentiflow_test_events_total", "Events.");
  auto& latency = metrics.histogram("sentiflow_test_seconds", "Latency.");
  ObserveServer server(kAnyLocalPort, metrics, demo_status);
  server.start();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; !done; ++i) {
      counter.add();
      latency.observe(0.001 * (i % 5000));
      // A new labelled series now and then, as a run's first records of a label do.
      if (i % 1000 == 0)
        metrics.counter("sentiflow_test_labelled_total", "By label.", {{"n", std::to_string(i)}}).add();
    }
  });
  Fetch fetch(server);
  double previous = 0;
  for (int scrape = 0; scrape < 30; ++scrape) {
    const auto response = fetch("/metrics");
    ASSERT_EQ(response.status, 200);
    std::vector<prom::Family> families;
    ASSERT_NO_THROW(families = prom::parse(response.body)) << response.body;
    const double now = *prom::find(families, "sentiflow_test_events_total")->value("sentiflow_test_events_total");
    EXPECT_GE(now, previous);
    previous = now;
  }
  done = true;
  writer.join();
}

TEST(ObserveServer, AnswersHealthAndReadiness) {
  Metrics metrics;
  ObserveServer server(kAnyLocalPort, metrics, demo_status);
  server.start();
  Fetch fetch(server);
  const auto health = fetch("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  EXPECT_EQ(fetch("/readyz").status, 503);
  server.set_ready(true);
  const auto ready = fetch("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
  server.set_ready(false);
  EXPECT_EQ(fetch("/readyz").status, 503);
}

// The descriptors this process holds now (its /proc/self/fd entries).
size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

// Issue 14, fault 5: 600 clients that connect and send nothing. The server holds at most its
// threads and a bounded queue of them (the rest wait in the kernel's listen queue, not as our
// descriptors), drops each idle one after its read timeout, and answers again once they are
// gone; stop() does not hang on them. Before, every connection was accepted and queued behind
// the eight threads: 600 descriptors of the process, and with a low limit the sink's opens
// failed.
TEST(ObserveServer, SixHundredIdleClientsHoldFewDescriptorsAndDoNotWedgeIt) {
  Metrics metrics;
  ObserveServer server(kAnyLocalPort, metrics, demo_status);
  server.start();
  const size_t before = open_descriptors();
  std::vector<int> clients;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < 600; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    ASSERT_GE(fd, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);  // in progress is fine
    clients.push_back(fd);
  }
  // Give the accept loop time to take what it will: it must stop at its bound.
  testing_support::poll_until([&] { return open_descriptors() >= before + 600 + 40; }, std::chrono::seconds(2),
                              std::chrono::milliseconds(50));
  // The clients' own 600, the server's threads' and its queue's connections: not 600 more.
  EXPECT_LT(open_descriptors(), before + 600 + 8 + 32 + 10);
  for (const int fd : clients) ::close(fd);
  Fetch fetch(server);
  EXPECT_TRUE(testing_support::poll_until(
      [&] {
        try {
          return fetch("/healthz").status == 200;
        } catch (const Error&) {
          return false;
        }
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100)));
  const auto stop_started = std::chrono::steady_clock::now();
  server.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - stop_started, std::chrono::seconds(10));
}

TEST(ObserveServer, LiveDataHoldsThePointsAndTheStatus) {
  Metrics metrics;
  std::atomic<int> status_calls{0};
  ObserveServer server(kAnyLocalPort, metrics, [&] {
    ++status_calls;
    return demo_status();
  });
  server.start();
  Fetch fetch(server);

  auto live = fetch("/api/live");
  ASSERT_EQ(live.status, 200);
  EXPECT_EQ(live.header("content-type"), "application/json");
  EXPECT_EQ(live.header("cache-control"), "no-store");
  const json empty = json::parse(live.body);
  EXPECT_EQ(empty["seq"], 0);
  EXPECT_EQ(empty["points"], json::array());
  EXPECT_EQ(empty["status"], demo_status());
  EXPECT_GT(empty["boot"].get<int64_t>(), 0);

  std::vector<json> points;
  for (int i = 0; i < 3; ++i) {
    points.push_back({{"t", "2026-01-01T10:00:0" + std::to_string(i) + "Z"},
                      {"processed", 10 * i},
                      {"workers", i + 1},
                      {"labels", {{"POSITIVE", i}}},
                      {"p99", 0.25}});
    server.add_point(points.back());
  }
  const json all = json::parse(fetch("/api/live").body);
  EXPECT_EQ(all["seq"], 3);
  EXPECT_EQ(all["points"], json(points));
  EXPECT_EQ(all["status"], demo_status());
  EXPECT_EQ(all["boot"], empty["boot"]);
  EXPECT_EQ(status_calls.load(), 2);

  // A dashboard that holds points up to 2 gets only the third; one from another server's
  // life (a `since` ahead of the server) gets everything again.
  EXPECT_EQ(json::parse(fetch("/api/live?since=2").body)["points"], json::array({points[2]}));
  EXPECT_EQ(json::parse(fetch("/api/live?since=3").body)["points"], json::array());
  EXPECT_EQ(json::parse(fetch("/api/live?since=0").body)["points"], json(points));
  EXPECT_EQ(json::parse(fetch("/api/live?since=99").body)["points"], json(points));
  EXPECT_EQ(fetch("/api/live?since=two").status, 400);
}

TEST(ObserveServer, APointOfTheSameSecondReplacesTheNewest) {
  Metrics metrics;
  ObserveServer server(kAnyLocalPort, metrics, demo_status);
  server.start();
  const json first = {{"t", "2026-01-01T10:00:00Z"}, {"processed", 1}};
  const json regular = {{"t", "2026-01-01T10:00:01Z"}, {"processed", 5}};
  const json final_point = {{"t", "2026-01-01T10:00:01Z"}, {"processed", 7}};
  server.add_point(first);
  server.add_point(regular);
  server.add_point(final_point);
  Fetch fetch(server);
  const json live = json::parse(fetch("/api/live").body);
  EXPECT_EQ(live["seq"], 2);
  EXPECT_EQ(live["points"], json::array({first, final_point}));
  // The replaced point keeps its number: asking from the one before it gets the new values.
  EXPECT_EQ(json::parse(fetch("/api/live?since=1").body)["points"], json::array({final_point}));
}

TEST(ObserveServer, KeepsTheLastFifteenMinutesOfPoints) {
  Metrics metrics;
  ObserveServer server(kAnyLocalPort, metrics, demo_status);
  server.start();
  for (int i = 1; i <= 1000; ++i) server.add_point({{"i", i}});
  Fetch fetch(server);
  const json live = json::parse(fetch("/api/live").body);
  EXPECT_EQ(live["seq"], 1000);
  ASSERT_EQ(live["points"].size(), ObserveServer::max_points);
  EXPECT_EQ(live["points"].front()["i"], 101);
  EXPECT_EQ(live["points"].back()["i"], 1000);
  // Points that fell out of the window cannot be continued from: all of the window comes back.
  EXPECT_EQ(json::parse(fetch("/api/live?since=50").body)["points"].size(), ObserveServer::max_points);
  EXPECT_EQ(json::parse(fetch("/api/live?since=100").body)["points"].size(), ObserveServer::max_points);
  EXPECT_EQ(json::parse(fetch("/api/live?since=998").body)["points"].size(), 2u);
}

TEST(ObserveServer, AStatusProviderThatThrowsFailsThatRequestOnly) {
  Metrics metrics;
  std::atomic<bool> fail{true};
  ObserveServer server(kAnyLocalPort, metrics, [&]() -> json {
    if (fail) throw Error(ErrorCode::transient, "the state is busy");
    return demo_status();
  });
  server.start();
  Fetch fetch(server);
  const auto failed = fetch("/api/live");
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(json::parse(failed.body)["error"], "the state is busy");
  fail = false;
  EXPECT_EQ(fetch("/api/live").status, 200);
}

TEST(ObserveServer, ServesTheDashboardAndRefusesOtherPathsAndMethods) {
  Metrics metrics;
  ObserveServer server(kAnyLocalPort, metrics, demo_status);
  server.start();
  Fetch fetch(server);
  const auto page = fetch("/");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.body, dashboard_html());
  EXPECT_NE(page.header("content-security-policy").value_or("").find("default-src 'none'"), std::string::npos);

  const auto missing = fetch("/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, "not found\n");
  EXPECT_EQ(fetch("/metrics/extra").status, 404);
  const auto post = fetch("/metrics", "POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.header("allow"), "GET, HEAD");
  EXPECT_EQ(fetch("/", "DELETE").status, 405);
}

TEST(ObserveServer, OnLoopbackAnswersOnlyToItsOwnHostNames) {
  Metrics metrics;
  ObserveServer server(kAnyLocalPort, metrics, demo_status);
  server.start();
  Fetch fetch(server);
  const std::string port = std::to_string(server.port());
  EXPECT_EQ(fetch("/api/live").status, 200);  // Host: 127.0.0.1:PORT
  for (const std::string& host : {"localhost:" + port, "LocalHost:" + port, "[::1]:" + port})
    EXPECT_EQ(fetch("/healthz", "GET", {{"Host", host}}).status, 200) << host;
  // DNS rebinding: a page of attacker.example whose name now resolves to 127.0.0.1.
  for (const std::string& host :
       {std::string("attacker.example"), "attacker.example:" + port, std::string("127.0.0.1:1")}) {
    const auto refused = fetch("/api/live", "GET", {{"Host", host}});
    EXPECT_EQ(refused.status, 421) << host;
    EXPECT_EQ(refused.body.find("\"points\""), std::string::npos) << host;
    EXPECT_NE(refused.body.find("misdirected"), std::string::npos) << refused.body;
  }
  EXPECT_EQ(fetch("/metrics", "GET", {{"Host", "attacker.example"}}).status, 421);
}

TEST(ObserveServer, RefusesAPortInUseNamingTheAddress) {
  Metrics metrics;
  ObserveServer first(kAnyLocalPort, metrics, demo_status);
  first.start();
  const ListenAddress taken{"127.0.0.1", first.port()};
  ObserveServer second(taken, metrics, demo_status);
  try {
    second.start();
    FAIL() << "a second server bound " << taken.text();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find(taken.text()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
  // The first one still serves.
  EXPECT_EQ(Fetch(first)("/healthz").status, 200);
}

TEST(ObserveServer, RefusesAnAddressOfAnotherMachine) {
  Metrics metrics;
  // TEST-NET-1 (RFC 5737): never an address of this machine; binding it sends nothing.
  ObserveServer server({"192.0.2.1", 0}, metrics, demo_status);
  try {
    server.start();
    FAIL() << "bound 192.0.2.1";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("192.0.2.1:0"), std::string::npos) << e.what();
  }
}

TEST(ObserveServer, RefusesASecondStartAndRebindsItsPortAfterStopping) {
  Metrics metrics;
  uint16_t port = 0;
  {
    HttpClient client;  // outlives the server: a connection it would keep must not hold stop() up
    ObserveServer server(kAnyLocalPort, metrics, demo_status);
    server.start();
    EXPECT_THROW(server.start(), Error);
    port = server.port();
    EXPECT_EQ(client.send({.url = server.url() + "healthz"}).status, 200);
    server.stop();
    server.stop();  // idempotent
  }
  // A restarted run gets its port back at once, the old connections in TIME_WAIT or not.
  ObserveServer again({"127.0.0.1", port}, metrics, demo_status);
  again.start();
  EXPECT_EQ(again.port(), port);
  EXPECT_EQ(Fetch(again)("/healthz").status, 200);
}

TEST(Dashboard, IsOneSelfContainedPageWithTheDataMarker) {
  const std::string_view page = dashboard_html();
  ASSERT_FALSE(page.empty());
  EXPECT_TRUE(page.starts_with("<!doctype html>"));
  const size_t marker = page.find(kMarker);
  ASSERT_NE(marker, std::string_view::npos);
  EXPECT_EQ(page.find(kMarker, marker + 1), std::string_view::npos);
  // Nothing from elsewhere: no absolute URLs, no protocol-relative ones, no imports.
  EXPECT_EQ(page.find("http://"), std::string_view::npos);
  EXPECT_EQ(page.find("https://"), std::string_view::npos);
  EXPECT_EQ(page.find("\"//"), std::string_view::npos);
  EXPECT_EQ(page.find("'//"), std::string_view::npos);
  EXPECT_EQ(page.find("@import"), std::string_view::npos);
  // Every src= and href= is inline data or a fragment.
  for (std::string_view attribute : {"src=", "href="}) {
    for (size_t at = page.find(attribute); at != std::string_view::npos; at = page.find(attribute, at + 1)) {
      const std::string_view value = page.substr(at + attribute.size(), 6);
      EXPECT_TRUE(value.starts_with("\"data:") || value.starts_with("\"#")) << page.substr(at, 40);
    }
  }
  EXPECT_EQ(page.find("url("), std::string_view::npos);
  EXPECT_NE(page.find("/api/live"), std::string_view::npos);
}

TEST(Dashboard, StaticPageCarriesTheDataSafelyInsideItsScript) {
  const json data = {{"points", json::array({{{"t", "2026-01-01T10:00:00Z"}, {"processed", 3}}})},
                     {"status", {{"pipeline", "</script><script>alert(1)</script> & <!--"}, {"runs", json::array()}}}};
  const std::string page = static_dashboard(data);
  EXPECT_EQ(page.find(kMarker), std::string::npos);
  EXPECT_EQ(page.find("alert(1)</script>"), std::string::npos);
  const std::string open = R"(<script id="sentiflow-data" type="application/json">)";
  const size_t start = page.find(open);
  ASSERT_NE(start, std::string::npos);
  const size_t end = page.find("</script>", start);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(json::parse(page.substr(start + open.size(), end - start - open.size())), data);
  // Everything else is the page as served.
  EXPECT_EQ(page.size() - (end - start - open.size()), dashboard_html().size() - 4);
}

}  // namespace
}  // namespace sentiflow
