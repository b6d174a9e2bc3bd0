// Tests against a live moto_server (github.com/getmoto/moto) in auth mode: it checks SigV4 with
// botocore's code and IAM policies, so a passing test means AWS would accept our signatures.
//
// Getting a signed client to a fresh moto:
//
//   testing_support::AuthMoto moto;                  // starts moto_server, creates an IAM user
//   if (!moto.skip_reason().empty()) GTEST_SKIP() << moto.skip_reason();
//   const auto sqs = moto.client(aws::kSqs);         // signed with that user's access key
//
// AuthMoto starts moto_server on a free port of 127.0.0.1 in its own process group (stopped with
// the AuthMoto), with INITIAL_NO_AUTH_ACTION_COUNT=3: the first three requests (CreateUser,
// PutUserPolicy with an allow-all policy, CreateAccessKey) pass unsigned checks, every later one
// must be signed by a known key. Tests GTEST_SKIP when moto_server is not on PATH or exits at
// start (moto[server] not installed for that Python); a moto that does not answer within 60 s, or
// an IAM setup that fails, throws std::runtime_error (a test failure, not a skip). Starting moto
// takes seconds: share one per test suite (SetUpTestSuite) where the tests allow it.
// start_open_moto gives a moto with auth off, where a test needs no signatures checked.
// Header-only; the pieces (find_on_path, MotoServer, create_iam_user, and free_port from
// support/local_server.h) are usable alone.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "aws/client.h"
#include "aws/xml.h"
#include "core/error.h"
#include "net/url.h"
#include "support/local_server.h"  // free_port

extern char** environ;

namespace sentiflow::testing_support {

// The full path of `program` in a PATH directory where it is executable, or nullopt.
inline std::optional<std::string> find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::string_view rest(path);
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    const auto dir = rest.substr(0, colon);
    const auto candidate = std::filesystem::path(dir) / program;
    if (!dir.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

// moto_server in its own process group, stopped (the group) when this ends. Authentication
// starts after `free_actions` requests: those create the IAM user whose keys the tests sign with.
class MotoServer {
 public:
  MotoServer(const std::string& program, int free_actions) : port_(free_port()) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view entry(*e);
      if (!entry.starts_with("INITIAL_NO_AUTH_ACTION_COUNT=")) env_strings.emplace_back(entry);
    }
    env_strings.push_back("INITIAL_NO_AUTH_ACTION_COUNT=" + std::to_string(free_actions));
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = {program, "-H", "127.0.0.1", "-p", std::to_string(port_)};
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attributes, 0);
    if (::posix_spawn(&pid_, program.c_str(), &actions, &attributes, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }
  // SIGTERM to the group, then SIGKILL if moto has not exited within 10 s: a moto busy in a
  // request (a long poll) has been seen to outlive SIGTERM, and a test binary must never hang
  // at exit waiting for its peer.
  ~MotoServer() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a child's exit has no fd to poll
    }
  }
  MotoServer(const MotoServer&) = delete;
  MotoServer& operator=(const MotoServer&) = delete;

  enum class Start { ready, exited, timed_out };

  // Polls until moto answers (its dashboard API), the process exits, or a deadline passes.
  Start wait_ready() {
    if (pid_ <= 0) return Start::exited;
    HttpClient client;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return Start::exited;
      }
      try {
        if (client.send({.url = endpoint() + "/moto-api/", .timeout = std::chrono::milliseconds(2000)}).status == 200)
          return Start::ready;
      } catch (const Error&) {}
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // moto is still importing: nothing else to poll
    }
    return Start::timed_out;
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  pid_t pid_ = -1;
};

// A client of `service` at `endpoint`, us-east-1, signing with `credentials`. One attempt by
// default: a test should see moto's first answer, not a retried one.
inline aws::AwsClient moto_client(const aws::ServiceInfo& service, const std::string& endpoint,
                                  aws::Credentials credentials, int max_attempts = 1) {
  return aws::AwsClient(service, {.region = "us-east-1",
                                  .endpoint = endpoint,
                                  .credentials = aws::static_credentials(std::move(credentials)),
                                  .retry = {.max_attempts = max_attempts}});
}

// A fresh moto_server with authentication off (every request passes, signed with any key), ready
// to answer: for S3, whose result keys moto's auth mode refuses, and for suites that share one
// moto and need no IAM. nullptr when moto_server is not on PATH or exits at start (the test
// should GTEST_SKIP with *why, when given); throws std::runtime_error when it does not answer
// within 60 s (a failure, as for AuthMoto).
inline std::unique_ptr<MotoServer> start_open_moto(std::string* why = nullptr) {
  const auto program = find_on_path("moto_server");
  if (!program) {
    if (why != nullptr) *why = "moto_server is not installed (pip install 'moto[server]')";
    return nullptr;
  }
  auto server = std::make_unique<MotoServer>(*program, INT_MAX);
  const auto start = server->wait_ready();
  if (start == MotoServer::Start::timed_out) throw std::runtime_error("moto_server did not answer within 60 s");
  if (start == MotoServer::Start::exited) {
    if (why != nullptr) *why = *program + " exited at start (moto[server] not installed for it?)";
    return nullptr;
  }
  return server;
}

// The requests create_iam_user makes: MotoServer's `free_actions` for it.
inline constexpr int kIamSetupActions = 3;

// Creates IAM user `user_name` with an allow-all inline policy and an access key, and returns
// that key. Meant for the first kIamSetupActions requests of a fresh moto (they pass unsigned
// checks, so the setup key is a dummy). Throws Error when moto refuses a step.
inline aws::Credentials create_iam_user(const std::string& endpoint, const std::string& user_name) {
  static constexpr aws::ServiceInfo kIam{"IAM", "iam", "iam"};
  const auto setup = moto_client(kIam, endpoint, {.access_key_id = "AKIDSETUP", .secret_access_key = "setup"});
  const auto iam_action = [](const std::string& operation, const std::string& params) {
    return aws::AwsRequest{.operation = operation,
                           .headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
                           .body = "Action=" + operation + "&Version=2010-05-08&" + params};
  };
  setup.call(iam_action("CreateUser", "UserName=" + user_name));
  const std::string policy = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
  setup.call(
      iam_action("PutUserPolicy", "UserName=" + user_name + "&PolicyName=all&PolicyDocument=" + url_encode(policy)));
  const auto created = setup.call(iam_action("CreateAccessKey", "UserName=" + user_name)).body;
  return {.access_key_id = aws::xml_value(created, "AccessKeyId").value_or(""),
          .secret_access_key = aws::xml_value(created, "SecretAccessKey").value_or("")};
}

// A fresh moto in auth mode with one allow-all IAM user; see the top of this file.
class AuthMoto {
 public:
  explicit AuthMoto(const std::string& user_name = "sentiflow-test") {
    const auto program = find_on_path("moto_server");
    if (!program) {
      skip_reason_ = "moto_server is not installed (pip install 'moto[server]')";
      return;
    }
    server_ = std::make_unique<MotoServer>(*program, kIamSetupActions);
    const auto start = server_->wait_ready();
    if (start == MotoServer::Start::exited) {
      skip_reason_ = *program + " exited at start (moto[server] not installed for it?)";
      return;
    }
    if (start == MotoServer::Start::timed_out) throw std::runtime_error("moto_server did not answer within 60 s");
    credentials_ = create_iam_user(server_->endpoint(), user_name);
    if (credentials_.access_key_id.empty() || credentials_.secret_access_key.empty())
      throw std::runtime_error("moto's CreateAccessKey answer held no key");
  }

  // Non-empty: moto is not available here, and the test should GTEST_SKIP with this reason.
  const std::string& skip_reason() const { return skip_reason_; }
  std::string endpoint() const { return server_ ? server_->endpoint() : std::string(); }
  const aws::Credentials& credentials() const { return credentials_; }
  // A client of `service` signed with the IAM user's key.
  aws::AwsClient client(const aws::ServiceInfo& service, int max_attempts = 1) const {
    return moto_client(service, endpoint(), credentials_, max_attempts);
  }

 private:
  std::string skip_reason_;
  std::unique_ptr<MotoServer> server_;
  aws::Credentials credentials_;
};

}  // namespace sentiflow::testing_support
