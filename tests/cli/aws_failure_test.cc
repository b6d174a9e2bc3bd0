// `sentiflow run` on dynamodb://, sqs:// and s3:// when AWS fails: throttling and 5xx answers,
// connections cut before and after a call took effect (tests/support/fault_proxy.h, a proxy of
// ours in front of moto), bad credentials, a missing table, queue or bucket, and a run killed or
// stopped half-way. Every case ends with every item stored once, or with a clear error that
// lost nothing.
//
// The peers: DynamoDB and SQS on a moto_server in auth mode (an IAM user's key signs every
// request, through the proxy, which keeps the Host header); S3 on a second moto_server with its
// auth off, because in auth mode moto refuses correct signatures for the result keys, which hold
// '=' and ':' (docs/AWS.md). Endpoints come from AWS_ENDPOINT_URL_DYNAMODB, _SQS and _S3. Queue
// depths stay at a few hundred: moto's SQS slows sharply with thousands. Skipped where
// moto_server is not installed.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "store/s3_store.h"
#include "support/aws_env.h"
#include "support/fault_proxy.h"
#include "support/moto.h"
#include "support/poll.h"
#include "support/run_binary.h"
#include "support/spawned.h"
#include "support/temp_dir.h"
#include "table/dynamodb_table.h"

namespace sentiflow {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing_support::FaultProxy;
using testing_support::Outcome;
using testing_support::poll_until;
using testing_support::Spawned;
using testing_support::TempDir;
using Fault = FaultProxy::Fault;

constexpr const char* kScan = "DynamoDB_20120810.Scan";
constexpr const char* kDescribeTable = "DynamoDB_20120810.DescribeTable";
constexpr const char* kSend = "AmazonSQS.SendMessageBatch";
constexpr const char* kReceive = "AmazonSQS.ReceiveMessage";
constexpr const char* kDelete = "AmazonSQS.DeleteMessageBatch";
constexpr const char* kPutResult = "PUT /results/sentiment/run=";

class AwsFailures : public ::testing::Test {
 protected:
  void SetUp() override {
    moto_ = std::make_unique<testing_support::AuthMoto>();
    if (!moto_->skip_reason().empty()) GTEST_SKIP() << moto_->skip_reason();
    s3_moto_ = testing_support::start_open_moto();
    ASSERT_TRUE(s3_moto_) << "moto_server started in auth mode but not with auth off";
    aws_proxy_ = std::make_unique<FaultProxy>(moto_->endpoint());
    s3_proxy_ = std::make_unique<FaultProxy>(s3_moto_->endpoint());

    // What the sentiflow processes inherit: the IAM user's key, a region, the proxies as
    // endpoints, and nothing of the machine's own AWS settings.
    env_.set("AWS_ACCESS_KEY_ID", moto_->credentials().access_key_id);
    env_.set("AWS_SECRET_ACCESS_KEY", moto_->credentials().secret_access_key);
    env_.set("AWS_REGION", "us-east-1");
    env_.set("AWS_ENDPOINT_URL_DYNAMODB", aws_proxy_->endpoint());
    env_.set("AWS_ENDPOINT_URL_SQS", aws_proxy_->endpoint());
    env_.set("AWS_ENDPOINT_URL_S3", s3_proxy_->endpoint());
    env_.set("AWS_CONFIG_FILE", testing_support::kNoAwsConfigFile);
    env_.set("AWS_SHARED_CREDENTIALS_FILE", testing_support::kNoAwsCredentialsFile);
    env_.set("AWS_EC2_METADATA_DISABLED", "true");
    for (const char* name : {"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION",
                             "AWS_MAX_ATTEMPTS", "AWS_ENDPOINT_URL_COMPREHEND"})
      env_.unset(name);
  }
  void TearDown() override { env_.restore(); }

  // `n` items straight into moto (not through the proxy): item-000 … with a text.
  void seed_table(const std::string& name, int n) const {
    DynamoDbTableOptions options;
    options.name = name;
    options.key_schema = KeySchema{"name"};
    options.create_if_missing = true;
    DynamoDbTable table(std::make_shared<const aws::AwsClient>(moto_->client(aws::kDynamoDb)), options);
    std::vector<std::string> batch;
    for (int i = 0; i < n; ++i) {
      batch.push_back(
          fmt::format(R"({{"name":"item-{:03}","description":"a good and helpful thing, number {}"}})", i, i));
      if (batch.size() == 25 || i == n - 1) {
        ASSERT_TRUE(table.put_batch(batch).empty());
        batch.clear();
      }
    }
  }
  std::unique_ptr<S3Store> bucket(bool create = true) const {
    return std::make_unique<S3Store>(
        testing_support::moto_client(aws::kS3, s3_moto_->endpoint(),
                                     {.access_key_id = "AKIDS3", .secret_access_key = "s3"}),
        S3StoreOptions{.bucket = "results", .create_bucket = create});
  }

  void write_pipeline(const std::string& table, const std::string& queue, const std::string& bucket_name,
                      // One consumer: moto's ReceiveMessage is not atomic, and two concurrent
                      // receives may get one message (docs/AWS.md), which would store an item
                      // twice in the raw objects for a reason that is moto's, not a fault's.
                      const std::string& consumer = "{batch_size: 10, concurrency: {min: 1, max: 1}}",
                      const std::string& visibility = "2s") const {
    std::ofstream(dir_.path() / "p.yaml") << fmt::format(
        R"(name: aws-failures
state_dir: state
source: {{table: "dynamodb://{}", key: name, text: description, page_size: 25, segments: 2}}
queue: {{url: "sqs://{}", dead_letter: {}-dead, visibility_timeout: {}, max_receive_count: 5}}
consumer: {}
sink: {{store: "s3://{}/sentiment/"}}
)",
        table, queue, queue, visibility, consumer, bucket_name);
  }
  Outcome sentiflow(const std::string& args) const {
    return testing_support::run_sentiflow(args, {.cwd = dir_.path()});
  }

  // The (run, key) pairs of `sentiflow results` (which keeps each once) and how often each
  // key is in the raw result objects of the bucket.
  struct Stored {
    std::map<std::string, int> results;  // key -> lines of `sentiflow results`
    std::map<std::string, int> raw;      // key -> records in the objects
    std::set<std::string> runs;
  };
  Stored stored() const {
    Stored s;
    const Outcome r = sentiflow("results p.yaml");
    EXPECT_EQ(r.status, 0) << r.err;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      const auto record = nlohmann::json::parse(line);
      ++s.results[record["key"].get<std::string>()];
      s.runs.insert(record["run"].get<std::string>());
    }
    auto store = bucket(false);
    std::string token;
    do {
      const ListPage page = store->list(ListRequest{.prefix = "sentiment/run=", .continuation_token = token});
      for (const auto& object : page.objects) {
        std::istringstream records(store->get(object.key)->data);
        for (std::string line; std::getline(records, line);)
          if (!line.empty()) ++s.raw[nlohmann::json::parse(line)["key"].get<std::string>()];
      }
      token = page.next_token;
    } while (!token.empty());
    return s;
  }
  static void expect_each_once(const std::map<std::string, int>& keys, int n, const std::string& what) {
    EXPECT_EQ(keys.size(), static_cast<size_t>(n)) << what;
    for (const auto& [key, count] : keys) EXPECT_EQ(count, 1) << what << ": " << key << " " << count << " times";
  }
  nlohmann::json status() const {
    const Outcome r = sentiflow("status p.yaml --json");
    EXPECT_EQ(r.status, 0) << r.err;
    return r.status == 0 ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }

  std::unique_ptr<testing_support::AuthMoto> moto_;
  std::unique_ptr<testing_support::MotoServer> s3_moto_;
  std::unique_ptr<FaultProxy> aws_proxy_;
  std::unique_ptr<FaultProxy> s3_proxy_;
  TempDir dir_{"aws-failures"};
  testing_support::ScopedEnv env_;  // the variables SetUp and the tests change
};

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(AwsFailures, ThrottlingAndServerErrorsAreRetriedAndEveryItemIsStoredOnce) {
  constexpr int kItems = 150;
  seed_table("things", kItems);
  bucket();
  write_pipeline("things", "work", "results");
  // At most two faults for any one call: the third attempt (AWS's standard mode) gets through.
  aws_proxy_->add({.match = kScan, .fault = Fault::throttle, .times = 2});
  aws_proxy_->add({.match = kSend, .fault = Fault::unavailable, .times = 1});
  aws_proxy_->add({.match = kSend, .fault = Fault::throttle, .times = 1});
  aws_proxy_->add({.match = kReceive, .fault = Fault::internal, .times = 2});
  aws_proxy_->add({.match = kDelete, .fault = Fault::throttle, .times = 1});
  aws_proxy_->add({.match = kDelete, .fault = Fault::unavailable, .times = 1});
  s3_proxy_->add({.match = kPutResult, .fault = Fault::throttle, .times = 1});  // S3's SlowDown
  s3_proxy_->add({.match = kPutResult, .fault = Fault::internal, .times = 1});

  const Outcome run = sentiflow("--log-level debug run p.yaml --once --no-progress");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.out.find(fmt::format("{} scanned · {} sent · 0 error records", kItems, kItems)), std::string::npos)
      << run.out;

  // Every fault was served, and each one was retried (the debug log names every retry).
  EXPECT_EQ(aws_proxy_->injected(kScan), 2);
  EXPECT_EQ(aws_proxy_->injected(kSend), 2);
  EXPECT_EQ(aws_proxy_->injected(kReceive), 2);
  EXPECT_EQ(aws_proxy_->injected(kDelete), 2);
  EXPECT_EQ(s3_proxy_->injected(kPutResult), 2);
  const int faults = aws_proxy_->injected_total() + s3_proxy_->injected_total();
  EXPECT_GE(count_of(run.err, "retrying an AWS call"), static_cast<size_t>(faults)) << run.err;
  EXPECT_NE(run.err.find("code=throttled"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find(moto_->credentials().secret_access_key), std::string::npos);

  const Stored s = stored();
  expect_each_once(s.results, kItems, "sentiflow results");
  expect_each_once(s.raw, kItems, "raw result objects");
  const auto st = status();
  EXPECT_EQ(st["runs"][0]["state"], "finished") << st.dump();
  EXPECT_EQ(st["queue"]["counts"]["visible"], 0);
  EXPECT_EQ(st["dead_letter_queue"]["messages"], 0);
}

TEST_F(AwsFailures, ConnectionsCutBeforeAndAfterACallTookEffectLoseNothing) {
  constexpr int kItems = 120;
  seed_table("things", kItems);
  bucket();
  write_pipeline("things", "work", "results", "{batch_size: 10, concurrency: {min: 1, max: 3}}");
  // Cut before moto saw the request: a plain retry. Cut after it took effect: the retry repeats
  // a call that happened — a second copy of sent messages, a second delete, the same object
  // written again — which the pipeline must absorb.
  aws_proxy_->add({.match = kScan, .fault = Fault::drop, .times = 1});
  aws_proxy_->add({.match = kSend, .fault = Fault::drop, .times = 1});
  aws_proxy_->add({.match = kSend, .fault = Fault::drop_after, .times = 1});
  aws_proxy_->add({.match = kReceive, .fault = Fault::drop, .times = 1});
  aws_proxy_->add({.match = kDelete, .fault = Fault::drop_after, .times = 1});
  s3_proxy_->add({.match = kPutResult, .fault = Fault::drop_after, .times = 1});
  s3_proxy_->add({.match = kPutResult, .fault = Fault::drop, .times = 1});

  const Outcome run = sentiflow("--log-level debug run p.yaml --once --no-progress");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(aws_proxy_->injected_total(), 5);
  EXPECT_EQ(s3_proxy_->injected_total(), 2);
  EXPECT_GE(count_of(run.err, "retrying an AWS call"), 7u) << run.err;

  // The resent batch may hold items twice in the raw objects (at least once); `results` keeps
  // each (run, key) once.
  const Stored s = stored();
  expect_each_once(s.results, kItems, "sentiflow results");
  EXPECT_EQ(s.raw.size(), static_cast<size_t>(kItems));
  for (const auto& [key, count] : s.raw) EXPECT_GE(count, 1) << key;
  const auto st = status();
  EXPECT_EQ(st["runs"][0]["state"], "finished") << st.dump();
  EXPECT_EQ(st["dead_letter_queue"]["messages"], 0);
}

TEST_F(AwsFailures, BadCredentialsAreAClearErrorThatShowsNoSecret) {
  seed_table("things", 10);
  bucket();
  write_pipeline("things", "work", "results");
  const std::string wrong_secret = "wrongSecretValue0123456789abcdefWRONG";
  env_.set("AWS_SECRET_ACCESS_KEY", wrong_secret);
  Outcome run = sentiflow("run p.yaml --once --no-progress");
  EXPECT_EQ(run.status, 2) << "a credential problem is the user's to fix: " << run.err;
  EXPECT_NE(run.err.find("signature"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("credentials"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(moto_->credentials().access_key_id), std::string::npos) << "names the key: " << run.err;
  EXPECT_EQ(run.err.find(wrong_secret), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find(moto_->credentials().secret_access_key), std::string::npos) << run.err;

  env_.set("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000");
  run = sentiflow("run p.yaml --once --no-progress");
  EXPECT_EQ(run.status, 2) << run.err;
  EXPECT_NE(run.err.find("AKIAUNKNOWNKEY000000"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("credentials"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find(wrong_secret), std::string::npos) << run.err;

  env_.unset("AWS_SECRET_ACCESS_KEY");
  run = sentiflow("run p.yaml --once --no-progress");
  EXPECT_EQ(run.status, 2) << run.err;
  EXPECT_NE(run.err.find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << run.err;

  // Nothing was started: with the right key the run is the first, and complete.
  env_.set("AWS_ACCESS_KEY_ID", moto_->credentials().access_key_id);
  env_.set("AWS_SECRET_ACCESS_KEY", moto_->credentials().secret_access_key);
  run = sentiflow("run p.yaml --once --no-progress");
  ASSERT_EQ(run.status, 0) << run.err;
  const Stored s = stored();
  EXPECT_EQ(s.runs.size(), 1u);
  expect_each_once(s.results, 10, "sentiflow results");
}

TEST_F(AwsFailures, AMissingTableQueueOrBucketIsAClearErrorAndLosesNothing) {
  seed_table("things", 20);
  bucket();

  // A missing table: which one, where; no run is recorded.
  write_pipeline("no-such-table", "work", "results");
  Outcome r = sentiflow("run p.yaml --once --no-progress");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no-such-table"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("us-east-1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(aws_proxy_->endpoint()), std::string::npos) << r.err;
  EXPECT_TRUE(status()["runs"].empty());

  // A missing bucket: refused before any message is taken, so none can run out of receives.
  write_pipeline("things", "work", "no-such-bucket");
  r = sentiflow("run p.yaml --once --no-progress");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no-such-bucket"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(s3_proxy_->endpoint()), std::string::npos) << r.err;
  EXPECT_EQ(s3_proxy_->seen(kPutResult), 0);
  r = sentiflow("results p.yaml");  // reading a missing bucket names it too
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("no-such-bucket"), std::string::npos) << r.err;
  // The status shows the rest, and which bucket it could not read, where.
  auto st = status();
  EXPECT_TRUE(st["runs"].empty()) << st.dump();
  EXPECT_EQ(st["error_records"]["total"], 0) << st.dump();
  const std::string missing = st["error_records"].value("missing", "");
  EXPECT_NE(missing.find("no-such-bucket"), std::string::npos) << st.dump();
  EXPECT_NE(missing.find(s3_proxy_->endpoint()), std::string::npos) << st.dump();
  r = sentiflow("status p.yaml");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("not read: sink store s3://no-such-bucket/sentiment/"), std::string::npos) << r.out;
  write_pipeline("things", "work", "results");  // the same state, with a bucket to read
  st = status();
  EXPECT_TRUE(st["runs"].empty()) << st.dump();
  EXPECT_FALSE(st["error_records"].contains("missing")) << st.dump();
  EXPECT_EQ(st["queue"]["counts"]["visible"], 0) << "nothing was sent";

  // A missing queue, for the commands that read it (a run creates its queue).
  write_pipeline("things", "no-such-queue", "results");
  r = sentiflow("queue receive --pipeline p.yaml");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("no-such-queue"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("us-east-1"), std::string::npos) << r.err;

  // A queue given by URL is never created: a missing one stops the run, and creates nothing
  // (not even its dead-letter queue).
  const std::string missing_url = aws_proxy_->endpoint() + "/123456789012/no-such-queue";
  std::ofstream(dir_.path() / "url.yaml") << fmt::format(
      R"(name: aws-failures
state_dir: state
source: {{table: "dynamodb://things", key: name, text: description}}
queue: {{url: "sqs://{}", dead_letter: url-dead}}
sink: {{store: "s3://results/sentiment/"}}
)",
      missing_url);
  const int creates = aws_proxy_->seen("AmazonSQS.CreateQueue");
  r = sentiflow("run url.yaml --once --no-progress");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find(missing_url), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("never created"), std::string::npos) << r.err;
  EXPECT_EQ(aws_proxy_->seen("AmazonSQS.CreateQueue"), creates) << "no queue created";

  // With all three there, the same state runs to the end: nothing was lost on the way.
  write_pipeline("things", "work", "results");
  r = sentiflow("run p.yaml --once --no-progress");
  ASSERT_EQ(r.status, 0) << r.err;
  const Stored s = stored();
  EXPECT_EQ(s.runs.size(), 1u);
  expect_each_once(s.results, 20, "sentiflow results");
  expect_each_once(s.raw, 20, "raw result objects");
}

TEST_F(AwsFailures, ARunKilledThenStoppedResumesAndStoresEveryItemOnce) {
  constexpr int kItems = 300;
  seed_table("things", kItems);
  bucket();
  write_pipeline("things", "work", "results", "{batch_size: 10, concurrency: {min: 1, max: 2}}");
  // A slow SQS: every delete takes 150 ms, so 30 batches take seconds and the signals land
  // mid-run.
  aws_proxy_->add({.match = kDelete, .fault = Fault::delay, .times = -1, .delay = milliseconds(150)});
  const std::vector<std::string> args{"--log-level", "warn", "run", "p.yaml", "--once", "--no-progress"};

  {
    Spawned first(SENTIFLOW_BINARY, args, {.cwd = dir_.path(), .out = "/dev/null", .err = dir_.path() / "started.err"});
    ASSERT_TRUE(poll_until([&] { return aws_proxy_->seen(kDelete) >= 3; }, seconds(60))) << first.err();
    first.signal(SIGKILL);
    ASSERT_TRUE(first.wait_for_end(seconds(10)));
    ASSERT_TRUE(WIFSIGNALED(first.status())) << "it ended before the kill: make the run longer";
  }
  const int deletes_before = aws_proxy_->seen(kDelete);
  {
    Spawned second(SENTIFLOW_BINARY, args,
                   {.cwd = dir_.path(), .out = "/dev/null", .err = dir_.path() / "started.err"});
    ASSERT_TRUE(poll_until([&] { return aws_proxy_->seen(kDelete) >= deletes_before + 3; }, seconds(60)))
        << second.err();
    second.signal(SIGTERM);
    ASSERT_TRUE(second.wait_for_end(seconds(30))) << "SIGTERM did not stop the run: " << second.err();
    EXPECT_TRUE(WIFEXITED(second.status())) << second.err();
  }
  auto st = status();
  ASSERT_EQ(st["runs"].size(), 1u) << st.dump();
  ASSERT_NE(st["runs"][0]["state"], "finished") << "the run ended before SIGTERM: make it longer";

  aws_proxy_->clear();
  const Outcome last = sentiflow("run p.yaml --once --no-progress");
  ASSERT_EQ(last.status, 0) << last.err;
  EXPECT_NE(last.err.find("resuming"), std::string::npos) << last.err;

  const Stored s = stored();
  ASSERT_EQ(s.runs.size(), 1u) << "one run, resumed twice";
  expect_each_once(s.results, kItems, "sentiflow results");
  EXPECT_EQ(s.raw.size(), static_cast<size_t>(kItems))
      << "raw objects hold every item (a batch in hand at the kill may be stored again)";
  st = status();
  EXPECT_EQ(st["runs"][0]["state"], "finished") << st.dump();
  EXPECT_EQ(st["dead_letter_queue"]["messages"], 0);
}

}  // namespace
}  // namespace sentiflow
