// A strict Lambda Runtime API of our own (API version 2018-06-01), for tests of the runtime loop
// and of the packaged `bootstrap`: @vercel/fun's runtime hands out a constant Deadline-Ms and no
// trace id; this one hands out what a test asks for and records every protocol mistake.
//
//   testing_support::RuntimeApiServer api;                 // 127.0.0.1, a free port
//   api.add_event({.body = R"({"Records": []})", .trace_id = "Root=1-…"});
//   Spawned child(SENTIFLOW_BINARY, {}, {.env = {{"AWS_LAMBDA_RUNTIME_API", api.address()}, …}});
//   ASSERT_TRUE(api.wait_for_outcomes(1));
//   EXPECT_EQ(api.responses()[0].body, …);
//   EXPECT_TRUE(api.violations().empty());
//
// What it checks, each failure recorded in violations() (and answered as the real API would,
// 4xx): only GET …/runtime/invocation/next, POST …/invocation/{id}/response, POST
// …/invocation/{id}/error and POST …/runtime/init/error exist; an answer names an id this server
// handed out and not yet answered (one answer per id, response or error); `next` is not asked
// while an invocation is unanswered; init/error comes before any `next`; an error body is a JSON
// object with string errorMessage, string errorType and array stackTrace, and carries the header
// Lambda-Runtime-Function-Error-Type. `next` blocks until an event is queued (as Lambda's does)
// or the server stops (then 500: the runtime's next `next` finds no server and ends).
//
// The process it serves (the binary as Lambda runs it, with Lambda's environment variables) is a
// Spawned (support/spawned.h).
// Header-only; thread-safe (the server's handlers run on cpp-httplib's threads).
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/local_server.h"
#include "support/poll.h"

namespace sentiflow::testing_support {

class RuntimeApiServer {
 public:
  struct Event {
    std::string body = "{}";
    std::string request_id{};  // empty: "req-<n>"
    // Lambda-Runtime-Deadline-Ms in Unix milliseconds; nullopt: 60 s after it is handed out.
    std::optional<int64_t> deadline_ms{};
    std::string function_arn = "arn:aws:lambda:us-east-1:000000000000:function:sentiflow-test";
    std::optional<std::string> trace_id{};  // nullopt: no Lambda-Runtime-Trace-Id header
  };
  struct Response {
    std::string request_id;
    std::string body;
  };
  struct ErrorPost {
    std::string request_id;  // "" for init/error
    std::string error_type_header;
    std::string body;
    nlohmann::json document;  // the parsed body (null when it is not JSON)
  };

  // Serves from a free port of 127.0.0.1. Throws std::runtime_error when it cannot bind or start.
  RuntimeApiServer() : server_([this](httplib::Server& server) { install(server); }) {}

  ~RuntimeApiServer() { stop(); }
  RuntimeApiServer(const RuntimeApiServer&) = delete;
  RuntimeApiServer& operator=(const RuntimeApiServer&) = delete;

  // AWS_LAMBDA_RUNTIME_API's value: "127.0.0.1:PORT".
  std::string address() const { return "127.0.0.1:" + std::to_string(server_.port()); }

  // Queues an event for the next `next`.
  void add_event(Event event) {
    std::lock_guard lock(mutex_);
    if (event.request_id.empty()) event.request_id = "req-" + std::to_string(++generated_ids_);
    pending_.push_back(std::move(event));
    changed_.notify_all();
  }

  // Waits until `n` invocations are answered (response or error) or `limit` passes.
  bool wait_for_outcomes(size_t n, std::chrono::steady_clock::duration limit = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return responses_.size() + errors_.size() >= n; });
  }
  // Waits until an init/error came or `limit` passes.
  bool wait_for_init_error(std::chrono::steady_clock::duration limit = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return init_error_.has_value(); });
  }
  // Waits until a runtime is blocked in `next` with nothing to hand out (it is idle).
  bool wait_for_idle_next(std::chrono::steady_clock::duration limit = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return waiting_ > 0 && pending_.empty(); });
  }

  std::vector<Response> responses() const {
    std::lock_guard lock(mutex_);
    return responses_;
  }
  std::vector<ErrorPost> errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }
  std::optional<ErrorPost> init_error() const {
    std::lock_guard lock(mutex_);
    return init_error_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }
  size_t next_calls() const {
    std::lock_guard lock(mutex_);
    return next_calls_;
  }
  // The body of request `id`'s response, or nullopt.
  std::optional<std::string> response_to(const std::string& id) const {
    std::lock_guard lock(mutex_);
    for (const auto& r : responses_)
      if (r.request_id == id) return r.body;
    return std::nullopt;
  }

  // Stops serving: a runtime blocked in `next` gets a 500, later requests find no server.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    server_.stop();
  }

 private:
  void install(httplib::Server& server) {
    server.Get(R"(/2018-06-01/runtime/invocation/next)",
               [this](const httplib::Request&, httplib::Response& res) { next(res); });
    server.Post(R"(/2018-06-01/runtime/invocation/([^/]+)/response)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  std::lock_guard lock(mutex_);
                  if (!answerable(req.matches[1], "response", res)) return;
                  responses_.push_back({req.matches[1], req.body});
                  answered(req.matches[1], res);
                });
    server.Post(R"(/2018-06-01/runtime/invocation/([^/]+)/error)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  std::lock_guard lock(mutex_);
                  if (!answerable(req.matches[1], "error", res)) return;
                  errors_.push_back(error_post(req.matches[1], req));
                  answered(req.matches[1], res);
                });
    server.Post(R"(/2018-06-01/runtime/init/error)", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      if (next_calls_ > 0) violation("init/error after invocation/next");
      if (init_error_) violation("a second init/error");
      init_error_ = error_post("", req);
      res.status = 202;
      res.set_content(R"({"status":"OK"})", "application/json");
      changed_.notify_all();
    });
    // Anything else is not the Runtime API.
    const auto unknown = [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      violation(req.method + " " + req.path + " is not part of the Runtime API");
      res.status = 404;
    };
    server.Get(".*", unknown);
    server.Post(".*", unknown);
    server.Put(".*", unknown);
    server.Delete(".*", unknown);
    server.Patch(".*", unknown);
    server.new_task_queue = [] { return new httplib::ThreadPool(8); };
  }

  void next(httplib::Response& res) {
    std::unique_lock lock(mutex_);
    ++next_calls_;
    if (!outstanding_.empty()) violation("invocation/next while " + *outstanding_.begin() + " is unanswered");
    ++waiting_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    --waiting_;
    if (stopping_) {
      res.status = 500;
      return;
    }
    Event event = std::move(pending_.front());
    pending_.pop_front();
    handed_out_.insert(event.request_id);
    outstanding_.insert(event.request_id);
    const int64_t deadline =
        event.deadline_ms.value_or(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch() + std::chrono::seconds(60))
                                       .count());
    res.status = 200;
    res.set_header("Lambda-Runtime-Aws-Request-Id", event.request_id);
    res.set_header("Lambda-Runtime-Deadline-Ms", std::to_string(deadline));
    res.set_header("Lambda-Runtime-Invoked-Function-Arn", event.function_arn);
    if (event.trace_id) res.set_header("Lambda-Runtime-Trace-Id", *event.trace_id);
    res.set_content(event.body, "application/json");
  }

  // Whether `id` may be answered now; records the violation and answers 400 when not.
  bool answerable(const std::string& id, const char* what, httplib::Response& res) {
    if (!handed_out_.count(id)) {
      violation(std::string(what) + " for " + id + ", which was never handed out");
      res.status = 400;
      return false;
    }
    if (!outstanding_.count(id)) {
      violation(std::string("a second answer (") + what + ") for " + id);
      res.status = 400;
      return false;
    }
    return true;
  }

  void answered(const std::string& id, httplib::Response& res) {
    outstanding_.erase(id);
    res.status = 202;
    res.set_content(R"({"status":"OK"})", "application/json");
    changed_.notify_all();
  }

  ErrorPost error_post(const std::string& id, const httplib::Request& req) {
    ErrorPost post;
    post.request_id = id;
    post.body = req.body;
    post.error_type_header = req.get_header_value("Lambda-Runtime-Function-Error-Type");
    if (post.error_type_header.empty()) violation("an error post without Lambda-Runtime-Function-Error-Type");
    post.document = nlohmann::json::parse(req.body, nullptr, false);
    const auto& d = post.document;
    if (d.is_discarded() || !d.is_object() || !d.contains("errorMessage") || !d["errorMessage"].is_string() ||
        !d.contains("errorType") || !d["errorType"].is_string() || !d.contains("stackTrace") ||
        !d["stackTrace"].is_array())
      violation("an error body that is not {errorMessage, errorType, stackTrace}: " + req.body);
    if (d.is_discarded()) post.document = nullptr;
    return post;
  }

  void violation(std::string what) { violations_.push_back(std::move(what)); }

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Event> pending_;
  std::set<std::string> handed_out_;
  std::set<std::string> outstanding_;
  std::vector<Response> responses_;
  std::vector<ErrorPost> errors_;
  std::optional<ErrorPost> init_error_;
  std::vector<std::string> violations_;
  size_t next_calls_ = 0;
  int waiting_ = 0;
  int generated_ids_ = 0;
  bool stopping_ = false;
  // Last: constructed, and serving, after what its handlers use.
  LocalHttpServer server_;
};

}  // namespace sentiflow::testing_support
