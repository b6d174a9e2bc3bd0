// The credentials chain: environment, shared files (temp files), container credentials and
// IMDSv2 (local servers on 127.0.0.1), refresh before expiry, and no secret in any message.
#include "aws/credentials.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <array>
#include <atomic>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "support/aws_env.h"
#include "support/local_server.h"
#include "support/temp_dir.h"

namespace sentiflow::aws {
namespace {

using testing_support::LocalHttpServer;
using testing_support::TempDir;
using Vars = std::map<std::string, std::string, std::less<>>;

constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYzSECRET";
constexpr const char* kToken = "IQoJb3JpZ2luX2VjTOKEN//////////wEaCXVzLWVhc3QtMSJGMEQCIF";

std::string credentials_json(const std::string& key_id, const std::string& expiration) {
  return std::string(R"({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": ")") + key_id +
         R"(", "SecretAccessKey": ")" + kSecret + R"(", "Token": ")" + kToken + R"(", "Expiration": ")" + expiration +
         R"("})";
}

// Files that do not exist, and IMDS switched off: a chain that finds nothing unless told.
Vars isolated(Vars extra = {}) {
  Vars vars = {{"AWS_CONFIG_FILE", "/nonexistent/sentiflow/config"},
               {"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/sentiflow/credentials"},
               {"AWS_EC2_METADATA_DISABLED", "true"}};
  for (auto& [k, v] : extra) vars[k] = v;
  return vars;
}

std::shared_ptr<CredentialsProvider> chain(const Vars& vars, AwsSettings settings = {},
                                           std::function<Seconds()> now = now_seconds) {
  CredentialsOptions options;
  options.environment = fixed_environment(vars);
  options.now = std::move(now);
  options.metadata_timeout = std::chrono::milliseconds(2000);
  return default_chain(settings, std::move(options));
}

TEST(Credentials, EnvironmentComesFirst) {
  TempDir dir("aws-creds");
  std::ofstream(dir.path() / "credentials") << "[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = s\n";
  const auto provider = chain(isolated({{"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                        {"AWS_SECRET_ACCESS_KEY", kSecret},
                                        {"AWS_SESSION_TOKEN", kToken},
                                        {"AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "credentials").string()}}));
  const auto credentials = provider->get();
  EXPECT_EQ(credentials.access_key_id, "AKIDENV");
  EXPECT_EQ(credentials.secret_access_key, kSecret);
  EXPECT_EQ(credentials.session_token, kToken);
  EXPECT_FALSE(credentials.expiry);
  EXPECT_EQ(provider->source(), "environment");
}

TEST(Credentials, SharedFilesByProfile) {
  TempDir dir("aws-creds");
  std::ofstream(dir.path() / "credentials") << "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = d\n"
                                            << "[dev]\naws_access_key_id = DEVKEY\naws_secret_access_key = devsecret\n"
                                            << "aws_session_token = devtoken\n";
  std::ofstream(dir.path() / "config") << "[profile cfg]\naws_access_key_id = CFGKEY\naws_secret_access_key = c\n";
  Vars vars = isolated({{"AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "credentials").string()},
                        {"AWS_CONFIG_FILE", (dir.path() / "config").string()}});
  EXPECT_EQ(chain(vars)->get().access_key_id, "DEFAULTKEY");
  auto provider = chain(vars, {.profile = "dev"});
  const auto dev = provider->get();
  EXPECT_EQ(dev.access_key_id, "DEVKEY");
  EXPECT_EQ(dev.session_token, "devtoken");
  EXPECT_EQ(provider->source(), "profile dev");
  EXPECT_EQ(chain(vars, {.profile = "cfg"})->get().access_key_id, "CFGKEY") << "keys in the config file count too";
  vars["AWS_PROFILE"] = "dev";
  EXPECT_EQ(chain(vars)->get().access_key_id, "DEVKEY");
}

TEST(Credentials, AProfileInThePipelineFileBeatsEnvironmentKeys) {
  TempDir dir("aws-creds");
  std::ofstream(dir.path() / "credentials") << "[dev]\naws_access_key_id = DEVKEY\naws_secret_access_key = s\n";
  const Vars vars = isolated({{"AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "credentials").string()},
                              {"AWS_ACCESS_KEY_ID", "AKIDENV"},
                              {"AWS_SECRET_ACCESS_KEY", "s"}});
  EXPECT_EQ(chain(vars, {.profile = "dev"})->get().access_key_id, "DEVKEY");
  auto with_env_profile = vars;
  with_env_profile["AWS_PROFILE"] = "dev";
  EXPECT_EQ(chain(with_env_profile)->get().access_key_id, "AKIDENV") << "AWS_PROFILE does not hide the keys";
}

TEST(Credentials, ContainerEndpointWithAuthorizationToken) {
  std::atomic<int> calls{0};
  std::string seen_authorization;
  LocalHttpServer server([&](httplib::Server& s) {
    s.Get("/v2/credentials/abc", [&](const httplib::Request& req, httplib::Response& res) {
      ++calls;
      seen_authorization = req.get_header_value("Authorization");
      res.set_content(credentials_json("ASIACONTAINER", "2026-01-02T05:00:00Z"), "application/json");
    });
  });
  TempDir dir("aws-creds");
  std::ofstream(dir.path() / "token") << "file-token-value\n";
  auto provider = chain(isolated({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/v2/credentials/abc")},
                                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-token"},
                                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (dir.path() / "token").string()}}),
                        {}, [] { return parse_utc("2026-01-02T04:00:00Z"); });
  const auto credentials = provider->get();
  EXPECT_EQ(credentials.access_key_id, "ASIACONTAINER");
  EXPECT_EQ(credentials.session_token, kToken);
  EXPECT_EQ(credentials.expiry, parse_utc("2026-01-02T05:00:00Z"));
  EXPECT_EQ(seen_authorization, "file-token-value") << "the token file wins over the variable";
  EXPECT_EQ(provider->source(), "container");
  provider->get();
  EXPECT_EQ(calls.load(), 1) << "cached while valid";
}

TEST(Credentials, ContainerFullUriMustBeLocalOrHttps) {
  try {
    container_credentials(fixed_environment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds"}}),
                          std::chrono::milliseconds(500));
    FAIL() << "fetched credentials over plain http from a public host";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
  }
}

// An IMDSv2 server: a token first, then the role, then its credentials. The expiry moves on
// with each fetch.
class FakeImds {
 public:
  FakeImds()
      : server_([this](httplib::Server& s) {
          s.Put("/latest/api/token", [this](const httplib::Request& req, httplib::Response& res) {
            if (req.get_header_value("X-aws-ec2-metadata-token-ttl-seconds").empty()) {
              res.status = 400;
              return;
            }
            res.set_content("imds-session-token", "text/plain");
          });
          s.Get("/latest/meta-data/iam/security-credentials/",
                [this](const httplib::Request& req, httplib::Response& res) {
                  if (!authorized(req, res)) return;
                  res.set_content("sentiflow-role\n", "text/plain");
                });
          s.Get("/latest/meta-data/iam/security-credentials/sentiflow-role",
                [this](const httplib::Request& req, httplib::Response& res) {
                  if (!authorized(req, res)) return;
                  const int n = ++fetches;
                  if (failing) {
                    res.status = 500;
                    res.set_content(credentials_json("ASIAFAIL", "x"), "application/json");  // a body with secrets
                    return;
                  }
                  const auto expiration = n <= 3 ? expirations[n - 1] : std::string("2026-01-02T07:00:00Z");
                  res.set_content(credentials_json("ASIAIMDS" + std::to_string(n), expiration), "application/json");
                });
        }) {}

  std::string url() const { return server_.url(); }
  std::atomic<int> fetches{0};
  std::atomic<bool> failing{false};
  const std::array<std::string, 3> expirations = {"2026-01-02T04:00:00Z", "2026-01-02T05:00:00Z",
                                                  "2026-01-02T06:00:00Z"};

 private:
  static bool authorized(const httplib::Request& req, httplib::Response& res) {
    if (req.get_header_value("X-aws-ec2-metadata-token") == "imds-session-token") return true;
    res.status = 401;
    return false;
  }
  LocalHttpServer server_;
};

// The container and instance metadata endpoints are this host's or link-local: a proxy in the
// environment (http_proxy, ALL_PROXY, set for the pipeline's own calls) must never see these
// requests, which carry the container's token and answer with credentials (issue 14, fault 10).
// The proxy here is a port nobody listens on: through it, both sources would fail.
TEST(Credentials, MetadataRequestsNeverGoThroughAProxy) {
  testing_support::ScopedEnv env;
  const std::string dead_proxy = "http://127.0.0.1:" + std::to_string(testing_support::free_port());
  for (const char* name : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
    env.set(name, dead_proxy);
  for (const char* name : {"no_proxy", "NO_PROXY"}) env.unset(name);

  LocalHttpServer container([&](httplib::Server& s) {
    s.Get("/v2/credentials/abc", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(credentials_json("ASIACONTAINER", "2026-01-02T05:00:00Z"), "application/json");
    });
  });
  auto from_container = chain(isolated({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", container.url("/v2/credentials/abc")}}),
                              {}, [] { return parse_utc("2026-01-02T04:00:00Z"); });
  EXPECT_EQ(from_container->get().access_key_id, "ASIACONTAINER");

  FakeImds imds;
  Vars vars = isolated({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url() + "/"}});
  vars.erase("AWS_EC2_METADATA_DISABLED");
  auto from_instance = chain(vars, {}, [] { return parse_utc("2026-01-02T03:00:00Z"); });
  EXPECT_EQ(from_instance->get().access_key_id, "ASIAIMDS1");
}

TEST(Credentials, InstanceMetadataV2AndRefreshBeforeExpiry) {
  FakeImds imds;
  std::atomic<int64_t> now{parse_utc("2026-01-02T03:00:00Z").time_since_epoch().count()};
  auto clock = [&now] { return Seconds(std::chrono::seconds(now.load())); };
  Vars vars = isolated({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url() + "/"}});
  vars.erase("AWS_EC2_METADATA_DISABLED");
  auto provider = chain(vars, {}, clock);
  EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS1");
  EXPECT_EQ(provider->source(), "instance metadata");
  now += 50 * 60;  // 03:50, more than 5 minutes before 04:00: still good
  EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS1");
  EXPECT_EQ(imds.fetches.load(), 1);
  now += 6 * 60;  // 03:56: within 5 minutes of expiry, so refreshed
  EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS2");
  EXPECT_EQ(imds.fetches.load(), 2);

  // A failed refresh keeps the current credentials while they last, then fails.
  imds.failing = true;
  now = parse_utc("2026-01-02T04:58:00Z").time_since_epoch().count();
  EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS2");
  now = parse_utc("2026-01-02T05:00:00Z").time_since_epoch().count();
  try {
    provider->get();
    FAIL() << "used expired credentials";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::transient);
    EXPECT_EQ(std::string(e.what()).find(kSecret), std::string::npos);
  }
  // Once the endpoint is back, the next call fetches (fetches 3 and 4 were the failed ones).
  imds.failing = false;
  EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS5");
  // invalidate() fetches anew even far from the refresh window.
  provider->invalidate();
  EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS6");
}

TEST(Credentials, AFailedRefreshIsTriedAgainAfterAPauseNotOnEveryCall) {
  FakeImds imds;
  std::atomic<int64_t> now{parse_utc("2026-01-02T03:00:00Z").time_since_epoch().count()};
  auto clock = [&now] { return Seconds(std::chrono::seconds(now.load())); };
  Vars vars = isolated({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url() + "/"}});
  vars.erase("AWS_EC2_METADATA_DISABLED");
  auto provider = chain(vars, {}, clock);
  EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS1");  // expires 04:00
  imds.failing = true;
  now = parse_utc("2026-01-02T03:56:00Z").time_since_epoch().count();  // in the refresh window
  for (int i = 0; i < 20; ++i) EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS1");
  EXPECT_EQ(imds.fetches.load(), 2) << "one failed refresh, then the cached credentials";
  now += 29;
  EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS1");
  EXPECT_EQ(imds.fetches.load(), 2);
  now += 1;  // 30 s after the failure: asked again
  imds.failing = false;
  EXPECT_EQ(provider->get().access_key_id, "ASIAIMDS3");
  EXPECT_EQ(imds.fetches.load(), 3);
}

TEST(Credentials, UnreachableInstanceMetadataMeansNoCredentials) {
  // A port that nobody listens on: bind one, then close the server.
  std::string dead_url;
  {
    LocalHttpServer gone([](httplib::Server&) {});
    dead_url = gone.url();
  }
  Vars vars = isolated({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", dead_url}});
  vars.erase("AWS_EC2_METADATA_DISABLED");
  try {
    chain(vars)->get();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("no AWS credentials found"), std::string::npos) << e.what();
  }
}

TEST(Credentials, DisabledInstanceMetadataIsNotAsked) {
  FakeImds imds;
  auto vars = isolated({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}});  // disabled by isolated()
  EXPECT_THROW(chain(vars)->get(), Error);
  EXPECT_EQ(imds.fetches.load(), 0);
}

// Every way the chain can fail, with the secret and the token around wherever they could leak
// into a message: none of the messages may contain them.
TEST(Credentials, NoSecretInAnyErrorMessage) {
  TempDir dir("aws-creds");
  std::ofstream(dir.path() / "only-secret")
      << "[default]\naws_secret_access_key = " << kSecret << "\naws_session_token = " << kToken << "\n";
  std::ofstream(dir.path() / "role") << "[default]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = base\n";
  std::ofstream(dir.path() / "token-with-newline") << kToken << "\nsecond line " << kSecret;
  LocalHttpServer server([](httplib::Server& s) {
    s.Get("/500", [](const httplib::Request&, httplib::Response& res) {
      res.status = 500;
      res.set_content(credentials_json("AK", "2026-01-01T00:00:00Z"), "application/json");
    });
    s.Get("/403", [](const httplib::Request&, httplib::Response& res) {
      res.status = 403;
      res.set_content(std::string("bad token ") + kToken, "text/plain");
    });
    s.Get("/bad-expiry", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(credentials_json("AK", kSecret), "application/json");
    });
    s.Get("/no-key-id", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(R"({"SecretAccessKey": ")") + kSecret + R"(", "Token": ")" + kToken + "\"}",
                      "application/json");
    });
    s.Get("/not-json", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string("SecretAccessKey=") + kSecret, "text/plain");
    });
  });
  const std::vector<Vars> failing = {
      isolated({{"AWS_SECRET_ACCESS_KEY", kSecret}, {"AWS_SESSION_TOKEN", kToken}}),
      isolated({{"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SESSION_TOKEN", kToken}}),
      isolated({{"AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "only-secret").string()}}),
      isolated({{"AWS_SHARED_CREDENTIALS_FILE", (dir.path() / "role").string()}}),
      isolated({{"AWS_PROFILE", "missing"}, {"AWS_SESSION_TOKEN", kToken}}),
      isolated(
          {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/500")}, {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kToken}}),
      isolated({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/403?token=") + kToken},
                {"AWS_CONTAINER_AUTHORIZATION_TOKEN", kToken}}),
      isolated({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/bad-expiry")}}),
      isolated({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/no-key-id")}}),
      isolated({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/not-json")}}),
      isolated({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/500")},
                {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (dir.path() / "token-with-newline").string()}}),
      isolated({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds?token=" + std::string(kToken)}}),
      isolated({{"AWS_SESSION_TOKEN", kToken}}),  // nothing at all
  };
  for (size_t i = 0; i < failing.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    try {
      const auto credentials = chain(failing[i])->get();
      ADD_FAILURE() << "found credentials " << credentials.access_key_id;
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_FALSE(message.empty());
      EXPECT_EQ(message.find(kSecret), std::string::npos) << message;
      EXPECT_EQ(message.find(kToken), std::string::npos) << message;
    }
  }
}

TEST(Credentials, StaticProviderGivesWhatItWasGiven) {
  const auto provider = static_credentials({.access_key_id = "AK", .secret_access_key = "S"});
  EXPECT_EQ(provider->get().access_key_id, "AK");
  provider->invalidate();
  EXPECT_EQ(provider->get().secret_access_key, "S");
}

TEST(Credentials, ConcurrentCallersShareOneFetch) {
  std::atomic<int> calls{0};
  LocalHttpServer server([&](httplib::Server& s) {
    s.Get("/creds", [&](const httplib::Request&, httplib::Response& res) {
      ++calls;
      res.set_content(credentials_json("ASIASHARED", "2099-01-01T00:00:00Z"), "application/json");
    });
  });
  auto provider = chain(isolated({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url("/creds")}}));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      if (provider->get().access_key_id == "ASIASHARED") ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(calls.load(), 1);
}

}  // namespace
}  // namespace sentiflow::aws
