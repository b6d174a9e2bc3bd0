// The enrich step against a cpp-httplib server started by each test on 127.0.0.1.
#include "pipeline/enrich.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace sentiflow::pipeline {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kAgent = "sentiflow-test/1.0 (https://example.com/sentiflow; ops@example.com)";

// cpp-httplib on a free port of 127.0.0.1, serving the routes `setup` adds from its own
// thread while the test runs. `before_stop` runs first in the destructor: it releases
// handlers that a test keeps waiting, so that stopping does not wait for them.
class LocalServer {
 public:
  explicit LocalServer(const std::function<void(httplib::Server&)>& setup, std::function<void()> before_stop = {})
      : before_stop_(std::move(before_stop)) {
    setup(server_);
    // Without it the server's header and body writes meet Nagle and delayed ACKs: 40 ms a
    // request on a kept-alive connection.
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    const auto deadline = Clock::now() + 10s;
    while (!server_.is_running() && Clock::now() < deadline) std::this_thread::yield();
  }
  ~LocalServer() {
    if (before_stop_) before_stop_();
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

 private:
  httplib::Server server_;
  std::function<void()> before_stop_;
  int port_ = 0;
  std::thread thread_;
};

void reply_json(httplib::Response& res, const nlohmann::json& body) {
  res.set_content(body.dump(), "application/json");
}

// Answers GET /page/<name> with {"extract": "About <name>"} and counts the requests.
std::function<void(httplib::Server&)> summaries(std::atomic<int>& requests) {
  return [&requests](httplib::Server& s) {
    s.Get(R"(/page/(.+))", [&requests](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      reply_json(res, {{"extract", "About " + std::string(req.matches[1])}});
    });
  };
}

PipelineConfig::Enrich options_for(const LocalServer& server, const std::string& path = "/page/{name}") {
  PipelineConfig::Enrich options;
  options.url = server.url(path);
  options.text = "/extract";
  options.timeout = 5s;
  options.retries = 3;
  options.concurrency = 4;
  options.rate_limit = 1000;
  options.user_agent = kAgent;
  options.cache_entries = 0;
  options.cache_ttl = 1h;
  return options;
}

// An item with these attributes.
Enricher::AttributeLookup item(std::map<std::string, std::string, std::less<>> attributes) {
  return [attributes = std::move(attributes)](std::string_view name) -> std::optional<std::string> {
    const auto found = attributes.find(name);
    if (found == attributes.end()) return std::nullopt;
    return found->second;
  };
}

std::vector<Enricher::AttributeLookup> named(const std::vector<std::string>& names) {
  std::vector<Enricher::AttributeLookup> items;
  for (const auto& name : names) items.push_back(item({{"name", name}}));
  return items;
}

std::string reason(const Enricher::Outcome& outcome) { return outcome.error ? outcome.error->what() : "(no error)"; }

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

double counter(Metrics& metrics, const std::string& name, const Labels& labels = {}) {
  return metrics.counter(name, "", labels).value();
}

// A door that handlers wait at until the test opens it (or a deadline passes, so that a
// failing test cannot hang).
class Gate {
 public:
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  void wait(std::chrono::milliseconds limit = 5s) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, limit, [&] { return open_; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
};

TEST(Enricher, EncodesAttributesIntoTheUrl) {
  std::mutex mutex;
  std::string target;
  LocalServer server([&](httplib::Server& s) {
    s.Get(R"(/page/(.+))", [&](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex);
      target = req.target;
      reply_json(res, {{"extract", "About " + std::string(req.matches[1])}});
    });
  });
  Metrics metrics;
  Enricher enricher(options_for(server), metrics);
  const std::string name = "AT&T / Zürich ☃?x=1";
  const auto outcomes = enricher.fetch_all(named({name}));
  ASSERT_EQ(outcomes.size(), 1u);
  ASSERT_TRUE(outcomes[0].ok()) << reason(outcomes[0]);
  EXPECT_EQ(outcomes[0].text, "About " + name) << "the server decoded the path back to the attribute";
  std::lock_guard lock(mutex);
  if (!target.empty()) {  // older cpp-httplib builds leave the raw target out
    EXPECT_EQ(target, "/page/AT%26T%20%2F%20Z%C3%BCrich%20%E2%98%83%3Fx%3D1");
  }
  EXPECT_EQ(counter(metrics, "sentiflow_enrich_requests_total", {{"outcome", "ok"}}), 1);
}

TEST(Enricher, SendsTheUserAgent) {
  LocalServer server([](httplib::Server& s) {
    s.Get("/agent", [](const httplib::Request& req, httplib::Response& res) {
      reply_json(res, {{"agent", req.get_header_value("User-Agent")}});
    });
  });
  auto options = options_for(server, "/agent");
  options.text = "/agent";
  Enricher enricher(options);
  const auto outcomes = enricher.fetch_all(named({"x"}));
  ASSERT_TRUE(outcomes[0].ok()) << reason(outcomes[0]);
  EXPECT_EQ(outcomes[0].text, kAgent);
}

TEST(Enricher, FollowsAPointerToANestedString) {
  LocalServer server([](httplib::Server& s) {
    s.Get("/doc", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"query": {"pages": [{"title": "T", "extract": "deep \"text\" é"}], "n": 1}})",
                      "application/json");
    });
  });
  auto options = options_for(server, "/doc");
  options.text = "/query/pages/0/extract";
  Enricher enricher(options);
  const auto outcomes = enricher.fetch_all(named({"x"}));
  ASSERT_TRUE(outcomes[0].ok()) << reason(outcomes[0]);
  EXPECT_EQ(outcomes[0].text, "deep \"text\" é");

  options.text = "/query/n";
  Enricher number(options);
  const auto wrong = number.fetch_all(named({"x"}));
  ASSERT_FALSE(wrong[0].ok());
  EXPECT_EQ(wrong[0].error->code(), ErrorCode::invalid_input);
  EXPECT_TRUE(contains(reason(wrong[0]), "not a string")) << reason(wrong[0]);
}

// The bytes held by responses in flight are bounded: a response over 4 MiB (decompressed) fails
// its item instead of being held whole (before, up to 64 MiB each) (issue 14, fault 10).
TEST(Enricher, AResponseOverFourMebibytesFailsItsItem) {
  std::atomic<int> requests{0};
  LocalServer server([&](httplib::Server& s) {
    s.Get("/big", [&](const httplib::Request&, httplib::Response& res) {
      ++requests;
      res.set_content(R"({"extract": ")" + std::string((4u << 20) + 1, 'a') + R"("})", "application/json");
    });
    s.Get("/small", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"extract": "fine"})", "application/json");
    });
  });
  Enricher big(options_for(server, "/big"));
  const auto outcomes = big.fetch_all(named({"x"}));
  ASSERT_FALSE(outcomes[0].ok());
  EXPECT_EQ(outcomes[0].error->code(), ErrorCode::invalid_input);
  EXPECT_TRUE(contains(reason(outcomes[0]), "larger than 4194304 bytes")) << reason(outcomes[0]);
  EXPECT_EQ(requests, 1) << "not retried";
  Enricher small(options_for(server, "/small"));
  EXPECT_TRUE(small.fetch_all(named({"x"}))[0].ok());
}

TEST(Enricher, AMissingPointerFailsTheItem) {
  std::atomic<int> requests{0};
  LocalServer server(summaries(requests));
  auto options = options_for(server);
  options.text = "/query/extract";
  Enricher enricher(options);
  const auto outcomes = enricher.fetch_all(named({"x"}));
  ASSERT_FALSE(outcomes[0].ok());
  EXPECT_EQ(outcomes[0].error->code(), ErrorCode::invalid_input);
  EXPECT_TRUE(contains(reason(outcomes[0]), "nothing at /query/extract")) << reason(outcomes[0]);
  EXPECT_EQ(requests, 1) << "not retried";
}

TEST(Enricher, ABodyThatIsNotJsonFailsTheItem) {
  std::atomic<int> requests{0};
  LocalServer server([&](httplib::Server& s) {
    s.Get("/html", [&](const httplib::Request&, httplib::Response& res) {
      ++requests;
      res.set_content("<html>hello</html>", "text/html");
    });
  });
  Enricher enricher(options_for(server, "/html"));
  const auto outcomes = enricher.fetch_all(named({"x"}));
  ASSERT_FALSE(outcomes[0].ok());
  EXPECT_EQ(outcomes[0].error->code(), ErrorCode::invalid_input);
  EXPECT_TRUE(contains(reason(outcomes[0]), "not JSON")) << reason(outcomes[0]);
  EXPECT_EQ(requests, 1);
}

TEST(Enricher, AMissingTemplateAttributeFailsOnlyThatItem) {
  std::atomic<int> requests{0};
  LocalServer server(summaries(requests));
  Enricher enricher(options_for(server));
  std::vector<Enricher::AttributeLookup> items{item({{"name", "a"}}), item({{"title", "b"}}), item({{"name", "c"}})};
  const auto outcomes = enricher.fetch_all(items);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].text, "About a");
  ASSERT_FALSE(outcomes[1].ok());
  EXPECT_EQ(outcomes[1].error->code(), ErrorCode::invalid_input);
  EXPECT_TRUE(contains(reason(outcomes[1]), "'name'")) << reason(outcomes[1]);
  EXPECT_EQ(outcomes[2].text, "About c");
  EXPECT_EQ(requests, 2);
}

TEST(Enricher, NotFoundFailsOnlyThatItem) {
  std::atomic<int> missing{0};
  LocalServer server([&](httplib::Server& s) {
    s.Get(R"(/page/(.+))", [&](const httplib::Request& req, httplib::Response& res) {
      if (req.matches[1] == "Nobody") {
        ++missing;
        res.status = 404;
        reply_json(res, {{"title", "Not found."}, {"detail", "Page or revision not found."}});
        return;
      }
      reply_json(res, {{"extract", "About " + std::string(req.matches[1])}});
    });
  });
  Metrics metrics;
  Enricher enricher(options_for(server, "/page/{name}?redirect=true&key=secret"), metrics);
  const auto outcomes = enricher.fetch_all(named({"Ada", "Nobody", "Grace"}));
  EXPECT_EQ(outcomes[0].text, "About Ada");
  EXPECT_EQ(outcomes[2].text, "About Grace");
  ASSERT_FALSE(outcomes[1].ok());
  EXPECT_EQ(outcomes[1].error->code(), ErrorCode::not_found);
  const std::string why = reason(outcomes[1]);
  EXPECT_TRUE(contains(why, server.url("/page/Nobody") + ": HTTP 404")) << why;
  EXPECT_TRUE(contains(why, "Page or revision not found")) << why;
  EXPECT_FALSE(contains(why, "secret")) << "the query stays out of reasons: " << why;
  EXPECT_EQ(missing, 1) << "a 404 is not retried";
  EXPECT_EQ(counter(metrics, "sentiflow_enrich_requests_total", {{"outcome", "ok"}}), 2);
  EXPECT_EQ(counter(metrics, "sentiflow_enrich_requests_total", {{"outcome", "not_found"}}), 1);
}

TEST(Enricher, RetriesServerErrorsThenSucceeds) {
  std::atomic<int> requests{0};
  LocalServer server([&](httplib::Server& s) {
    s.Get("/flaky", [&](const httplib::Request&, httplib::Response& res) {
      if (++requests <= 2) {
        res.status = 503;
        return;
      }
      reply_json(res, {{"extract", "at last"}});
    });
  });
  Metrics metrics;
  Enricher enricher(options_for(server, "/flaky"), metrics);
  const auto outcomes = enricher.fetch_all(named({"x"}));
  ASSERT_TRUE(outcomes[0].ok()) << reason(outcomes[0]);
  EXPECT_EQ(outcomes[0].text, "at last");
  EXPECT_EQ(requests, 3);
  EXPECT_EQ(counter(metrics, "sentiflow_enrich_retries_total"), 2);
}

TEST(Enricher, HonoursRetryAfter) {
  std::atomic<int> requests{0};
  LocalServer server([&](httplib::Server& s) {
    s.Get("/busy", [&](const httplib::Request&, httplib::Response& res) {
      if (++requests == 1) {
        res.status = 429;
        res.set_header("Retry-After", "1");
        return;
      }
      reply_json(res, {{"extract", "ok"}});
    });
  });
  Enricher enricher(options_for(server, "/busy"));
  const auto started = Clock::now();
  const auto outcomes = enricher.fetch_all(named({"x"}));
  const auto elapsed = Clock::now() - started;
  ASSERT_TRUE(outcomes[0].ok()) << reason(outcomes[0]);
  EXPECT_EQ(requests, 2);
  // The jittered first delay is at most 100 ms: only the header explains a second's wait.
  EXPECT_GE(elapsed, 950ms);
}

TEST(Enricher, GivesUpWhenTheRetriesRunOut) {
  std::atomic<int> requests{0};
  LocalServer server([&](httplib::Server& s) {
    s.Get("/down", [&](const httplib::Request&, httplib::Response& res) {
      ++requests;
      res.status = 503;
    });
    s.Get("/throttled", [](const httplib::Request&, httplib::Response& res) { res.status = 429; });
  });
  auto options = options_for(server, "/down");
  options.retries = 2;
  Metrics metrics;
  Enricher enricher(options, metrics);
  const auto outcomes = enricher.fetch_all(named({"x"}));
  ASSERT_FALSE(outcomes[0].ok());
  EXPECT_EQ(outcomes[0].error->code(), ErrorCode::transient);
  EXPECT_TRUE(contains(reason(outcomes[0]), "HTTP 503")) << reason(outcomes[0]);
  EXPECT_TRUE(contains(reason(outcomes[0]), "3 attempts")) << reason(outcomes[0]);
  EXPECT_EQ(requests, 3);
  EXPECT_EQ(counter(metrics, "sentiflow_enrich_requests_total", {{"outcome", "transient"}}), 1);

  options = options_for(server, "/throttled");
  options.retries = 0;
  Enricher once(options);
  const auto throttled = once.fetch_all(named({"x"}));
  ASSERT_FALSE(throttled[0].ok());
  EXPECT_EQ(throttled[0].error->code(), ErrorCode::throttled);
  EXPECT_TRUE(contains(reason(throttled[0]), "HTTP 429")) << reason(throttled[0]);
}

TEST(Enricher, ATimeoutIsATransientFailure) {
  Gate gate;
  LocalServer server(
      [&](httplib::Server& s) {
        s.Get("/stuck", [&](const httplib::Request&, httplib::Response& res) {
          gate.wait();
          reply_json(res, {{"extract", "too late"}});
        });
      },
      [&] { gate.open(); });
  auto options = options_for(server, "/stuck");
  options.timeout = 200ms;
  options.retries = 0;
  Enricher enricher(options);
  const auto started = Clock::now();
  const auto outcomes = enricher.fetch_all(named({"x"}));
  ASSERT_FALSE(outcomes[0].ok());
  EXPECT_EQ(outcomes[0].error->code(), ErrorCode::transient);
  EXPECT_TRUE(contains(reason(outcomes[0]), "timed out")) << reason(outcomes[0]);
  EXPECT_LT(Clock::now() - started, 3s);
}

TEST(Enricher, KeepsAtMostConcurrencyRequestsInFlight) {
  std::mutex mutex;
  std::condition_variable changed;
  int in_flight = 0;
  int most = 0;
  int arrivals = 0;
  LocalServer server([&](httplib::Server& s) {
    s.Get(R"(/page/(.+))", [&](const httplib::Request& req, httplib::Response& res) {
      std::unique_lock lock(mutex);
      most = std::max(most, ++in_flight);
      const int me = ++arrivals;
      changed.notify_all();
      // Hold each request until another one arrives: two always overlap, and a pool that
      // allowed more than two would have them all here at once.
      changed.wait_for(lock, 2s, [&] { return in_flight >= 2 || arrivals > me; });
      --in_flight;
      lock.unlock();
      reply_json(res, {{"extract", "About " + std::string(req.matches[1])}});
    });
  });
  auto options = options_for(server);
  options.concurrency = 2;
  Enricher enricher(options);
  const auto outcomes = enricher.fetch_all(named({"a", "b", "c", "d", "e", "f", "g", "h"}));
  for (const auto& outcome : outcomes) EXPECT_TRUE(outcome.ok()) << reason(outcome);
  std::lock_guard lock(mutex);
  EXPECT_LE(most, 2);
  EXPECT_GT(most, 1);
}

TEST(Enricher, StartsAtMostRateLimitRequestsPerSecond) {
  std::atomic<int> requests{0};
  LocalServer server(summaries(requests));
  auto options = options_for(server);
  options.rate_limit = 20;  // a burst of 2, then one every 50 ms
  options.concurrency = 8;
  Enricher enricher(options);
  const auto started = Clock::now();
  const auto outcomes = enricher.fetch_all(named({"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}));
  const auto elapsed = Clock::now() - started;
  for (const auto& outcome : outcomes) EXPECT_TRUE(outcome.ok()) << reason(outcome);
  EXPECT_EQ(requests, 10);
  EXPECT_GE(elapsed, 350ms);  // 8 requests past the burst, 50 ms apart
}

TEST(Enricher, CachesTextsByUrl) {
  std::atomic<int> requests{0};
  LocalServer server(summaries(requests));
  auto options = options_for(server);
  options.cache_entries = 10;
  Metrics metrics;
  Enricher enricher(options, metrics);
  const auto first = enricher.fetch_all(named({"a", "a", "b"}));
  EXPECT_EQ(first[0].text, "About a");
  EXPECT_EQ(first[1].text, "About a");
  EXPECT_EQ(first[2].text, "About b");
  EXPECT_EQ(requests, 2) << "duplicates in one call share a fetch";
  EXPECT_EQ(counter(metrics, "sentiflow_enrich_cache_hits_total"), 0);

  const auto second = enricher.fetch_all(named({"a"}));
  EXPECT_EQ(second[0].text, "About a");
  EXPECT_EQ(requests, 2) << "answered from the cache";
  EXPECT_EQ(counter(metrics, "sentiflow_enrich_cache_hits_total"), 1);
}

TEST(Enricher, EvictsTheLeastRecentlyUsedAndCachesNoFailures) {
  std::atomic<int> requests{0};
  LocalServer server([&](httplib::Server& s) {
    s.Get(R"(/page/(.+))", [&](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      if (req.matches[1] == "gone") {
        res.status = 410;
        return;
      }
      reply_json(res, {{"extract", "About " + std::string(req.matches[1])}});
    });
  });
  auto options = options_for(server);
  options.cache_entries = 2;
  Enricher enricher(options);
  for (const char* name : {"a", "b", "a", "c", "a", "b"}) enricher.fetch_all(named({name}));
  // a, b fetched; a hit; c evicts b (a was used last); a hit; b fetched again.
  EXPECT_EQ(requests, 4);
  enricher.fetch_all(named({"gone"}));
  const auto again = enricher.fetch_all(named({"gone"}));
  EXPECT_EQ(requests, 6) << "a failure is fetched again";
  ASSERT_FALSE(again[0].ok());
  EXPECT_EQ(again[0].error->code(), ErrorCode::not_found);
}

TEST(Enricher, ServesManyCallersAtOnce) {
  std::atomic<int> requests{0};
  LocalServer server(summaries(requests));
  auto options = options_for(server);
  options.concurrency = 3;
  Enricher enricher(options);
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      std::vector<std::string> names;
      for (int i = 0; i < 10; ++i) names.push_back(std::to_string(c) + "-" + std::to_string(i));
      const auto outcomes = enricher.fetch_all(named(names));
      for (size_t i = 0; i < names.size(); ++i)
        if (outcomes[i].text != "About " + names[i]) ++wrong;
    });
  }
  for (auto& caller : callers) caller.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(requests, 40);
}

}  // namespace
}  // namespace sentiflow::pipeline
