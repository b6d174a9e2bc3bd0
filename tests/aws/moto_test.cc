// One live smoke test: signed calls to a moto server in auth mode (it checks SigV4 with
// botocore's code and IAM policies), started on a free port of 127.0.0.1. Skipped where
// moto_server is not installed. The backends' own tests against moto are theirs.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "aws/client.h"
#include "core/error.h"
#include "net/url.h"

extern char** environ;

namespace sentiflow::aws {
namespace {

constexpr ServiceInfo kIam{"IAM", "iam", "iam"};

std::optional<std::string> find_on_path(const std::string& program) {
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

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  const int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}

// moto_server in its own process group, stopped (the group) when the test ends. Authentication
// starts after `free_actions` requests: those create the IAM user whose keys the test signs with.
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
  ~MotoServer() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
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
      } catch (const Error&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // moto is still importing: nothing else to poll
    }
    return Start::timed_out;
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int port_;
  pid_t pid_ = -1;
};

std::string xml_value(const std::string& xml, const std::string& tag) {
  const auto start = xml.find("<" + tag + ">");
  const auto end = xml.find("</" + tag + ">");
  if (start == std::string::npos || end == std::string::npos) return "";
  return xml.substr(start + tag.size() + 2, end - start - tag.size() - 2);
}

AwsClient client_for(const ServiceInfo& service, const std::string& endpoint, Credentials credentials) {
  return AwsClient(service, {.region = "us-east-1",
                             .endpoint = endpoint,
                             .credentials = static_credentials(std::move(credentials)),
                             .retry = {.max_attempts = 1}});
}

AwsRequest iam_action(const std::string& operation, const std::string& params) {
  return {.operation = operation,
          .headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
          .body = "Action=" + operation + "&Version=2010-05-08&" + params};
}

AwsRequest json_call(const std::string& operation, const std::string& target) {
  return {.operation = operation,
          .headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", target}},
          .body = "{}"};
}

TEST(AwsMoto, SignedCallsPassAuthAndAWrongSecretIsRefused) {
  const auto program = find_on_path("moto_server");
  if (!program) GTEST_SKIP() << "moto_server is not installed (pip install 'moto[server]')";
  MotoServer moto(*program, 3);  // CreateUser, PutUserPolicy, CreateAccessKey
  const auto start = moto.wait_ready();
  if (start == MotoServer::Start::exited)
    GTEST_SKIP() << *program << " exited at start (moto[server] not installed for it?)";
  ASSERT_EQ(start, MotoServer::Start::ready) << "moto_server did not answer within 60 s";

  const auto setup = client_for(kIam, moto.endpoint(), {.access_key_id = "AKIDSETUP", .secret_access_key = "setup"});
  setup.call(iam_action("CreateUser", "UserName=sentiflow-smoke"));
  const std::string policy = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})";
  setup.call(
      iam_action("PutUserPolicy", "UserName=sentiflow-smoke&PolicyName=all&PolicyDocument=" + url_encode(policy)));
  const auto created = setup.call(iam_action("CreateAccessKey", "UserName=sentiflow-smoke")).body;
  const Credentials good{.access_key_id = xml_value(created, "AccessKeyId"),
                         .secret_access_key = xml_value(created, "SecretAccessKey")};
  ASSERT_FALSE(good.access_key_id.empty()) << created;
  ASSERT_FALSE(good.secret_access_key.empty()) << created;

  // Authentication is on now: correctly signed calls pass.
  const auto sqs = client_for(kSqs, moto.endpoint(), good);
  EXPECT_EQ(sqs.call(json_call("ListQueues", "AmazonSQS.ListQueues")).status, 200);
  const auto dynamodb = client_for(kDynamoDb, moto.endpoint(), good);
  EXPECT_NE(dynamodb.call(json_call("ListTables", "DynamoDB_20120810.ListTables")).body.find("TableNames"),
            std::string::npos);
  // S3: a key with spaces, written, read back and listed. moto 5's S3 auth check itself rejects
  // keys with '+', '=', ':', '(' or non-ASCII letters, even from boto3, so the key stays plain here;
  // the vectors cover the rest against botocore.
  const auto s3 = client_for(kS3, moto.endpoint(), good);
  s3.call({.operation = "CreateBucket", .method = "PUT", .path = "/sentiflow-smoke"});
  const std::string key = "/sentiflow-smoke/reports/run 1/a b.jsonl";
  s3.call({.operation = "PutObject", .method = "PUT", .path = key, .body = "{\"k\": 1}\n"});
  EXPECT_EQ(s3.call({.operation = "GetObject", .method = "GET", .path = key}).body, "{\"k\": 1}\n");
  // (moto's check also fails boto3's own listings whose prefix holds '/' or ':'.)
  const auto listed = s3.call({.operation = "ListObjectsV2",
                               .method = "GET",
                               .path = "/sentiflow-smoke",
                               .query = {{"list-type", "2"}, {"prefix", "reports"}}});
  EXPECT_NE(listed.body.find("<KeyCount>1</KeyCount>"), std::string::npos) << listed.body;
  const auto none = s3.call({.operation = "ListObjectsV2",
                             .method = "GET",
                             .path = "/sentiflow-smoke",
                             .query = {{"prefix", "no such prefix"}, {"list-type", "2"}}});
  EXPECT_NE(none.body.find("<KeyCount>0</KeyCount>"), std::string::npos) << none.body;

  // A wrong secret and an unknown key: refused, invalid_input, and the secret is in no message.
  const std::string wrong_secret = good.secret_access_key + "WRONG";
  const auto bad =
      client_for(kSqs, moto.endpoint(), {.access_key_id = good.access_key_id, .secret_access_key = wrong_secret});
  try {
    bad.call(json_call("ListQueues", "AmazonSQS.ListQueues"));
    FAIL() << "moto accepted a wrong secret";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    EXPECT_NE(std::string(e.what()).find("SQS ListQueues: SignatureDoesNotMatch"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(wrong_secret), std::string::npos);
  }
  const auto unknown =
      client_for(kDynamoDb, moto.endpoint(), {.access_key_id = "AKIDUNKNOWN0000000", .secret_access_key = "x"});
  try {
    unknown.call(json_call("ListTables", "DynamoDB_20120810.ListTables"));
    FAIL() << "moto accepted an unknown key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
  }
}

}  // namespace
}  // namespace sentiflow::aws
