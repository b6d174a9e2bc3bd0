// FaultProxy: an HTTP proxy of ours on a free port of 127.0.0.1 that forwards every request to
// one upstream (a moto_server) unchanged, except those that a rule picks: they get a
// throttling answer, a 5xx, a dropped connection or a delay instead. Placed as the endpoint of
// an AWS client, it is how the tests make moto fail the way AWS does, on cue.
//
//   testing_support::FaultProxy proxy(moto.endpoint());
//   proxy.add({.match = "DynamoDB_20120810.Scan", .fault = FaultProxy::Fault::throttle, .times = 2});
//   proxy.add({.match = "PUT /results/", .fault = FaultProxy::Fault::unavailable});
//   … point AWS_ENDPOINT_URL_DYNAMODB / aws.endpoint_url at proxy.endpoint() …
//   EXPECT_EQ(proxy.injected("DynamoDB_20120810.Scan"), 2);
//
// A rule matches a request by its X-Amz-Target header (the JSON protocols: DynamoDB, SQS,
// Comprehend), exactly, or by "METHOD /path-prefix" with the path percent-decoded (S3's REST
// calls: "PUT /bucket/run=1/"). The first
// rule that matches and has faults left answers; the rest are forwarded. Requests are forwarded
// byte for byte where it counts: the raw target (path and query as signed), every header but
// hop-by-hop ones (Host included, so SigV4 signatures stay valid at moto) and the body; the
// answer comes back with its status, headers and body.
//
// The faults, shaped as AWS sends them (JSON `__type` for a request with an X-Amz-Target, an S3
// XML <Error> otherwise):
//   throttle     400 ThrottlingException (JSON) / 503 SlowDown (S3): code `throttled`
//   unavailable  503 ServiceUnavailable: `transient`
//   internal     500 InternalFailure (JSON) / InternalError (S3): `transient`
//   drop         the connection ends after the headers, before the body; the request never
//                reaches moto
//   drop_after   the request reaches moto (it takes effect), then the answer is cut the same way:
//                the client must retry a call that already happened
//   delay        waits `delay`, then forwards: a slow service
//
// With `serialize`, requests reach the upstream one at a time, over one kept-alive connection.
// DynamoDB applies each request atomically; moto 5 evaluates a ConditionExpression and applies
// the write in Python without a lock, so two requests that reach it at the same instant can both
// pass their condition (two racing creators both "won" in about 1 of 40 runs under load).
// Serialized, moto sees the requests of racing threads one after another, as DynamoDB orders
// them, while the threads still interleave between requests: the races a test provokes are
// those of our code. Faults are given before the queue (a delay holds up no other request).
//
// Thread-safe: rules may be added and counters read while requests are served.
#pragma once

#include <httplib.h>

#include <cctype>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/local_server.h"
#include "support/poll.h"

namespace sentiflow::testing_support {

struct FaultProxyOptions {
  bool serialize = false;  // forward one request at a time (above)
};

class FaultProxy {
 public:
  enum class Fault { throttle, unavailable, internal, drop, drop_after, delay };

  struct Rule {
    std::string match;  // an X-Amz-Target value, or "METHOD /path-prefix"
    Fault fault = Fault::unavailable;
    int times = 1;                       // matching requests that get the fault; -1: every one
    std::chrono::milliseconds delay{0};  // Fault::delay only
  };

  // Starts serving; `upstream` is "http://127.0.0.1:PORT". Throws std::runtime_error when no
  // port can be bound.
  explicit FaultProxy(std::string upstream, FaultProxyOptions options = {})
      : upstream_(std::move(upstream)), options_(options), server_([this](httplib::Server& server) {
          // Every client connection holds a thread while it is kept alive, and the pipeline keeps
          // several (one per AWS client and thread): enough threads that none waits for another's
          // idle connection to time out.
          server.new_task_queue = [] { return new httplib::ThreadPool(64); };
          server.set_keep_alive_max_count(100000);
          server.set_payload_max_length(64u << 20);
          const auto handler = [this](const httplib::Request& request, httplib::Response& response) {
            serve(request, response);
          };
          server.Get(".*", handler);  // HEAD too
          server.Post(".*", handler);
          server.Put(".*", handler);
          server.Delete(".*", handler);
          server.Patch(".*", handler);
          server.Options(".*", handler);
        }) {}
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::string endpoint() const { return server_.url(); }

  void add(Rule rule) {
    std::lock_guard lock(mutex_);
    rules_.push_back(Active{std::move(rule), 0});
  }
  // Removes every rule: from now on all requests are forwarded.
  void clear() {
    std::lock_guard lock(mutex_);
    rules_.clear();
  }
  // Faults given for rules matching `match` (the rule's own text).
  int injected(const std::string& match) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& r : rules_)
      if (r.rule.match == match) n += r.given;
    return n;
  }
  // Requests seen (faulted or forwarded) with the X-Amz-Target `match`, or, for S3 requests,
  // matching a rule whose text is `match`.
  int seen(const std::string& match) const {
    std::lock_guard lock(mutex_);
    const auto it = seen_.find(match);
    return it == seen_.end() ? 0 : it->second;
  }
  // Requests answered with a fault, all rules together.
  int injected_total() const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& r : rules_) n += r.given;
    return n;
  }

 private:
  struct Active {
    Rule rule;
    int given = 0;
  };

  static bool matches(const std::string& match, const std::string& target, const std::string& method_path) {
    return target.empty() ? method_path.starts_with(match) : match == target;
  }

  void serve(const httplib::Request& request, httplib::Response& response) {
    const std::string target = request.get_header_value("X-Amz-Target");
    const std::string method_path = request.method + " " + request.path;  // decoded: "PUT /b/run=1/x"
    Fault fault{};
    std::chrono::milliseconds delay{0};
    bool faulted = false;
    {
      std::lock_guard lock(mutex_);
      if (!target.empty()) ++seen_[target];
      std::set<std::string> counted;  // an S3 request counts once under each rule text it matches
      for (auto& r : rules_) {
        if (!matches(r.rule.match, target, method_path)) continue;
        if (target.empty() && counted.insert(r.rule.match).second) ++seen_[r.rule.match];
        if (faulted || (r.rule.times >= 0 && r.given >= r.rule.times)) continue;
        ++r.given;
        fault = r.rule.fault;
        delay = r.rule.delay;
        faulted = true;
      }
    }
    const bool json = !target.empty();
    if (!faulted) return forward(request, response);
    switch (fault) {
      case Fault::throttle:
        if (json)
          answer(response, 400, true, "ThrottlingException", "Rate exceeded (fault proxy)");
        else
          answer(response, 503, false, "SlowDown", "Please reduce your request rate. (fault proxy)");
        return;
      case Fault::unavailable:
        answer(response, 503, json, "ServiceUnavailable", "Service unavailable (fault proxy)");
        return;
      case Fault::internal:
        answer(response, 500, json, json ? "InternalFailure" : "InternalError", "Internal error (fault proxy)");
        return;
      case Fault::drop: cut(response); return;
      case Fault::drop_after:
        forward(request, response);
        cut(response);
        return;
      case Fault::delay:
        std::this_thread::sleep_for(delay);  // the fault itself: a slow answer
        forward(request, response);
        return;
    }
  }

  static void answer(httplib::Response& response, int status, bool json, const std::string& code,
                     const std::string& message) {
    response.status = status;
    if (json) {
      response.set_header("x-amzn-ErrorType", code);
      response.set_content(R"({"__type":"com.amazonaws.fault#)" + code + R"(","message":")" + message + R"("})",
                           "application/x-amz-json-1.0");
    } else {
      response.set_content("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + code + "</Code><Message>" +
                               message + "</Message><RequestId>fault</RequestId></Error>",
                           "application/xml");
    }
  }

  // The status line and headers go out, promising a body that never comes: the server closes
  // the connection when the provider fails, and the client sees a cut transfer.
  static void cut(httplib::Response& response) {
    response.status = 200;
    response.headers.clear();
    response.body.clear();  // httplib writes a body in preference to a provider
    response.set_content_provider(64, "application/octet-stream",
                                  [](size_t, size_t, httplib::DataSink&) { return false; });
  }

  static void configure(httplib::Client& client) {
    client.set_url_encode(false);  // the target is already encoded, exactly as it was signed
    client.set_decompress(false);
    client.set_read_timeout(std::chrono::seconds(60));
    client.set_tcp_nodelay(true);
  }

  // Sends `up` to the upstream: over a connection of its own, or, serialized, over the one
  // shared connection while no other request is in flight.
  bool send(httplib::Request& up, httplib::Response& answer, httplib::Error& error) {
    if (!options_.serialize) {
      httplib::Client client(upstream_);
      configure(client);
      return client.send(up, answer, error);
    }
    std::lock_guard lock(serial_mutex_);
    if (!serial_client_) {
      serial_client_ = std::make_unique<httplib::Client>(upstream_);
      configure(*serial_client_);
    }
    return serial_client_->send(up, answer, error);
  }

  void forward(const httplib::Request& request, httplib::Response& response) {
    httplib::Request up;
    up.method = request.method;
    up.path = request.target;
    for (const auto& [name, value] : request.headers)
      if (!hop_by_hop(name)) up.headers.emplace(name, value);
    up.body = request.body;
    httplib::Response answer;
    httplib::Error error = httplib::Error::Success;
    if (!send(up, answer, error)) {
      response.status = 502;
      response.set_content("fault proxy: upstream " + upstream_ + " failed: " + httplib::to_string(error),
                           "text/plain");
      return;
    }
    response.status = answer.status;
    std::string content_type = "application/octet-stream";
    for (const auto& [name, value] : answer.headers) {
      if (hop_by_hop(name)) continue;
      if (equal_ascii(name, "Content-Type")) {
        content_type = value;
        continue;
      }
      response.headers.emplace(name, value);
    }
    response.set_content(answer.body, content_type);
  }

  static bool equal_ascii(const std::string& a, const std::string& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
        return false;
    return true;
  }
  // Headers of one connection, not of the message (and httplib's own REMOTE_/LOCAL_ entries).
  static bool hop_by_hop(const std::string& name) {
    for (const char* h : {"Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Expect", "Te", "Trailer",
                          "Upgrade", "Proxy-Connection", "REMOTE_ADDR", "REMOTE_PORT", "LOCAL_ADDR", "LOCAL_PORT"})
      if (equal_ascii(name, h)) return true;
    return false;
  }

  const std::string upstream_;
  const FaultProxyOptions options_;
  std::mutex serial_mutex_;                         // held while a serialized request is in flight
  std::unique_ptr<httplib::Client> serial_client_;  // the serialized requests' connection
  mutable std::mutex mutex_;
  std::vector<Active> rules_;
  std::map<std::string, int> seen_;
  // Last: constructed, and serving, after what its handlers use; destroyed (stopped) first.
  LocalHttpServer server_;
};

}  // namespace sentiflow::testing_support
