// A strict Lambda Runtime API of our own (API version 2018-06-01), for tests of the runtime loop
// and of the packaged `bootstrap`: @vercel/fun's runtime hands out a constant Deadline-Ms and no
// trace id; this one hands out what a test asks for and records every protocol mistake.
//
//   testing_support::RuntimeApiServer api;                 // 127.0.0.1, a free port
//   api.add_event({.body = R"({"Records": []})", .trace_id = "Root=1-…"});
//   RuntimeChild child(SENTIFLOW_BINARY, {}, {{"AWS_LAMBDA_RUNTIME_API", api.address()}, …});
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
// RuntimeChild: a process (the binary as Lambda runs it) with extra environment variables and
// its stdout and stderr in files; killed at the end of the test if still running.
// Header-only; thread-safe (the server's handlers run on cpp-httplib's threads).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/poll.h"
#include "support/run_binary.h"

extern char** environ;

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

  RuntimeApiServer() {
    server_.Get(R"(/2018-06-01/runtime/invocation/next)", [this](const httplib::Request&, httplib::Response& res) {
      next(res);
    });
    server_.Post(R"(/2018-06-01/runtime/invocation/([^/]+)/response)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   std::lock_guard lock(mutex_);
                   if (!answerable(req.matches[1], "response", res)) return;
                   responses_.push_back({req.matches[1], req.body});
                   answered(req.matches[1], res);
                 });
    server_.Post(R"(/2018-06-01/runtime/invocation/([^/]+)/error)",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   std::lock_guard lock(mutex_);
                   if (!answerable(req.matches[1], "error", res)) return;
                   errors_.push_back(error_post(req.matches[1], req));
                   answered(req.matches[1], res);
                 });
    server_.Post(R"(/2018-06-01/runtime/init/error)", [this](const httplib::Request& req, httplib::Response& res) {
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
    server_.Get(".*", unknown);
    server_.Post(".*", unknown);
    server_.Put(".*", unknown);
    server_.Delete(".*", unknown);
    server_.Patch(".*", unknown);
    server_.new_task_queue = [] { return new httplib::ThreadPool(8); };
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("the Runtime API test server cannot bind 127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    if (!poll_until([this] { return server_.is_running(); }))
      throw std::runtime_error("the Runtime API test server did not start");
  }

  ~RuntimeApiServer() { stop(); }
  RuntimeApiServer(const RuntimeApiServer&) = delete;
  RuntimeApiServer& operator=(const RuntimeApiServer&) = delete;

  // AWS_LAMBDA_RUNTIME_API's value: "127.0.0.1:PORT".
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

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
    if (thread_.joinable()) thread_.join();
  }

 private:
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

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
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
};

// A child process with extra environment variables; stdout and stderr go to files read by
// out() and err(). The destructor kills (SIGKILL) and reaps it when it still runs.
class RuntimeChild {
 public:
  RuntimeChild(const std::string& program, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env,
               const std::vector<std::string>& unset = {}) {
    static std::atomic<int> counter{0};
    const std::string stem = "sentiflow-child-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    out_ = std::filesystem::temp_directory_path() / (stem + ".out");
    err_ = std::filesystem::temp_directory_path() / (stem + ".err");
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry(*e);
      const std::string name = entry.substr(0, entry.find('='));
      bool drop = env.count(name) > 0;
      for (const auto& u : unset) drop = drop || u == name;
      if (!drop) env_strings.push_back(entry);
    }
    for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_strings = {program};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = ::posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + program);
  }
  ~RuntimeChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove(out_, ec);
    std::filesystem::remove(err_, ec);
  }
  RuntimeChild(const RuntimeChild&) = delete;
  RuntimeChild& operator=(const RuntimeChild&) = delete;

  // The exit status once the child exits within `limit` (-1 when killed by a signal), or
  // nullopt while it still runs.
  std::optional<int> wait_exit(std::chrono::steady_clock::duration limit = std::chrono::seconds(30)) {
    if (pid_ <= 0) return exit_status_;
    poll_until(
        [&] {
          int status = 0;
          if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
          pid_ = -1;
          exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
          return true;
        },
        limit);
    return pid_ <= 0 ? exit_status_ : std::nullopt;
  }
  bool running() { return pid_ > 0 && !wait_exit(std::chrono::milliseconds(0)); }
  pid_t pid() const { return pid_; }

  std::string out() const { return read_whole_file(out_); }
  std::string err() const { return read_whole_file(err_); }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::filesystem::path out_;
  std::filesystem::path err_;
};

}  // namespace sentiflow::testing_support
