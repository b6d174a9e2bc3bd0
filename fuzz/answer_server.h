// A stand-in AWS endpoint on 127.0.0.1 for the targets that fuzz AWS's answers: every request,
// whatever its path or action, gets the status and body set last (answer()). The backends under
// test are built against it once with well-formed answers, then each input becomes the answer to
// one call. Clients built by client() make one attempt (no retries, no backoff), so one input is
// one exchange. Not thread-safe: one target calls it from one thread, while the server's own
// thread reads the answer under a lock.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "aws/client.h"
#include "aws/credentials.h"
#include "support/local_server.h"

namespace sentiflow::fuzz {

class AnswerServer {
 public:
  AnswerServer()
      : server_([this](httplib::Server& s) {
          s.set_keep_alive_max_count(1'000'000);
          const auto serve = [this](const httplib::Request&, httplib::Response& res) {
            const std::lock_guard lock(mutex_);
            res.status = status_;
            res.set_content(body_, content_type_);
          };
          s.Post(".*", serve);
          s.Get(".*", serve);
          s.Put(".*", serve);
          s.Delete(".*", serve);
          s.Options(".*", serve);
        }) {}

  // Every request from now on is answered with `status` and `body`.
  void answer(int status, std::string_view body, std::string content_type = "application/x-amz-json-1.0") {
    const std::lock_guard lock(mutex_);
    status_ = status;
    body_ = std::string(body);
    content_type_ = std::move(content_type);
  }

  // A client of `service` that sends to this server: static credentials, one attempt.
  std::shared_ptr<aws::AwsClient> client(const aws::ServiceInfo& service) const {
    aws::AwsClientOptions options{
        .region = "us-east-1",
        .endpoint = server_.url(),
        .credentials = aws::static_credentials({.access_key_id = "AKIDFUZZ", .secret_access_key = "fuzz-secret"}),
        .retry = {.max_attempts = 1},
        .timeout = std::chrono::milliseconds(5'000),
        .sleep = [](std::chrono::milliseconds) {}};
    return std::make_shared<aws::AwsClient>(service, std::move(options));
  }

  std::string url(std::string_view path = "") const { return server_.url(path); }

 private:
  std::mutex mutex_;
  int status_ = 200;
  std::string body_;
  std::string content_type_;
  testing_support::LocalHttpServer server_;  // last: stopped before what its handler reads goes
};

}  // namespace sentiflow::fuzz
