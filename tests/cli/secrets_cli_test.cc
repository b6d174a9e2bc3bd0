// No secret in any output (issue 14, fault 6): values a pipeline file takes from the
// environment (${NAME}) are shown as ${NAME} by `validate` and `validate --json`, and appear in
// no log line, error message, error record or dead-letter reason of a run, even when the enrich
// URL carries them in its query and the peer echoes them in its 403 body. (A URL with
// user:password@ is refused by the loader: credentials in URLs are not accepted.)
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/local_server.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using sentiflow::testing_support::Outcome;
using sentiflow::testing_support::read_whole_file;
using sentiflow::testing_support::run_sentiflow;

constexpr const char* kKey = "planted-api-key-7c1e9";
constexpr const char* kPassword = "planted-password-42af";

// /page/<name>?key=K answers {"extract": ...}; names that start with "Bad" get a 403 whose
// body echoes the key it was given, as many APIs do.
void routes(httplib::Server& server) {
  server.Get(R"(/page/(.+))", [](const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches[1];
    if (name.starts_with("Bad")) {
      res.status = 403;
      res.set_content("invalid key " + req.get_param_value("key") + " for " + name, "text/plain");
      return;
    }
    res.set_content(nlohmann::json{{"extract", name + " is a wonderful company"}}.dump(), "application/json");
  });
}

class SecretsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_.path() / "seed.jsonl") << R"({"name": "Good1"})"
                                              << "\n"
                                              << R"({"name": "Bad1"})"
                                              << "\n"
                                              << R"({"name": "Good2"})"
                                              << "\n";
    std::ofstream(dir_.path() / "pipeline.yaml")
        << "name: secrets-test\nstate_dir: state\n"
           "source: {table: local://items, key: name, seed: seed.jsonl}\n"
           "queue: {max_receive_count: 1, visibility_timeout: 1s}\n"
           "consumer: {batch_size: 10, enrich: {url: 'http://127.0.0.1:"
        << server_.port() << "/page/{name}?key=${SECRET_KEY}&token=${SECRET_PASSWORD}&lang=en', text: /extract}}\n"
        << "sink: {store: out/}\n";
  }

  Outcome run(const std::string& args) const {
    return run_sentiflow(args, {.cwd = dir_.path(), .env = {{"SECRET_KEY", kKey}, {"SECRET_PASSWORD", kPassword}}});
  }

  // Every file the commands wrote (results, error records, the queue and state files, their
  // WALs) holds neither secret; the pipeline file itself only names the variables.
  void expect_no_secret_in_files() const {
    for (const auto& entry : fs::recursive_directory_iterator(dir_.path())) {
      if (!entry.is_regular_file()) continue;
      const std::string bytes = read_whole_file(entry.path());
      EXPECT_EQ(bytes.find(kKey), std::string::npos) << entry.path();
      EXPECT_EQ(bytes.find(kPassword), std::string::npos) << entry.path();
    }
  }

  static void expect_no_secret(const std::string& text, const std::string& what) {
    EXPECT_EQ(text.find(kKey), std::string::npos) << what << ":\n" << text;
    EXPECT_EQ(text.find(kPassword), std::string::npos) << what << ":\n" << text;
  }

  sentiflow::testing_support::TempDir dir_{"secrets"};
  sentiflow::testing_support::LocalHttpServer server_{routes};
};

TEST_F(SecretsCli, ValidateShowsTheReferencesNotTheValues) {
  Outcome r = run("validate pipeline.yaml");
  ASSERT_EQ(r.status, 0) << r.err;
  expect_no_secret(r.out + r.err, "validate");
  EXPECT_NE(r.out.find("${SECRET_PASSWORD}"), std::string::npos) << r.out;
  r = run("validate pipeline.yaml --json");
  ASSERT_EQ(r.status, 0) << r.err;
  expect_no_secret(r.out + r.err, "validate --json");
  const auto url = nlohmann::json::parse(r.out)["config"]["consumer"]["enrich"]["url"].get<std::string>();
  EXPECT_NE(url.find("key=${SECRET_KEY}"), std::string::npos) << url;
}

TEST_F(SecretsCli, NoOutputOfARunHoldsASecret) {
  Outcome r = run("run pipeline.yaml --once --no-progress --log-level debug");
  EXPECT_EQ(r.status, 1) << r.err;  // Bad1 became a dead letter
  expect_no_secret(r.out + r.err, "run");

  r = run("results pipeline.yaml --errors");
  expect_no_secret(r.out + r.err, "results --errors");
  EXPECT_NE(r.out.find("HTTP 403"), std::string::npos) << "the error record keeps the status: " << r.out;
  EXPECT_NE(r.out.find("invalid key ${SECRET_KEY}"), std::string::npos) << "the body excerpt is redacted: " << r.out;
  EXPECT_EQ(r.out.find("lang=en"), std::string::npos) << "no query in reasons: " << r.out;
  r = run("status pipeline.yaml --json");
  expect_no_secret(r.out + r.err, "status");
  EXPECT_EQ(nlohmann::json::parse(r.out)["dead_letter_queue"]["messages"], 1);
  expect_no_secret_in_files();
}

}  // namespace
