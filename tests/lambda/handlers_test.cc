// The Lambda handlers on AWS's services as moto_server serves them: the consumer on an SQS event
// built from real SQS messages, writing to S3; the producer scanning DynamoDB into SQS, never
// twice for one tick, and handing a run cut by its deadline to a new invocation.
//
// Moto runs with its auth off for these tests: in auth mode it refuses correct signatures for S3
// keys holding ':' or '=' (docs/AWS.md), and every result key holds both (run=2026-…T06:00:00Z/);
// the signatures themselves are checked by the aws, queue, table and store tests in auth mode,
// and the Invoke request's below by a strict fake and by moto in auth mode. Moto's Lambda runs a
// function only in Docker; with {"lambda": {"use_docker": false}} it accepts an Invoke without
// running anything, so what the request carries is checked by our fake (docs/LAMBDA.md).
#include "lambda/handlers.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "aws/sigv4.h"
#include "config/loader.h"
#include "pipeline/consumer.h"
#include "pipeline/message.h"
#include "assembly/backends.h"
#include "state/dynamodb_run_state.h"
#include "state/sqlite_run_state.h"
#include "store/s3_store.h"
#include "support/aws_env.h"
#include "support/local_server.h"
#include "support/moto.h"
#include "support/poll.h"
#include "support/runtime_api_server.h"
#include "support/sigv4_check.h"
#include "support/spawned.h"
#include "support/temp_dir.h"
#include "table/dynamodb_table.h"

namespace sentiflow::lambda {
namespace {

using std::chrono::milliseconds;
using testing_support::TempDir;

const aws::Credentials kCredentials{.access_key_id = "AKIDLAMBDATEST", .secret_access_key = "lambda-secret"};

TEST(DeadlineMargin, IsTheLargerOfOneSecondAndATenthButNeverOverHalf) {
  EXPECT_EQ(deadline_margin(milliseconds(900'000)), milliseconds(90'000));
  EXPECT_EQ(deadline_margin(milliseconds(5'000)), milliseconds(1'000));
  EXPECT_EQ(deadline_margin(milliseconds(1'000)), milliseconds(500));
  EXPECT_EQ(deadline_margin(milliseconds(-5)), milliseconds(0));
}

TEST(LambdaConsumer, AChunkThatCannotBeStoredIsHandedBackWithTheRestAfterEarlierChunksWereStored) {
  // A local pipeline whose sink folder turns into a file while the second chunk is fetched: its
  // results and its error records cannot be written, the first chunk's are.
  TempDir dir("lambda-consumer-sink");
  std::atomic<int> requests{0};
  const testing_support::LocalHttpServer pages([&](httplib::Server& server) {
    server.set_keep_alive_max_count(1);
    server.Get(R"(/summary/([^/]+))", [&](const httplib::Request&, httplib::Response& res) {
      if (++requests == 3) {
        std::filesystem::remove_all(dir.path() / "out");
        std::ofstream(dir.path() / "out") << "not a folder";
      }
      res.set_content(R"({"extract":"a wonderful day"})", "application/json");
    });
  });
  const int port = pages.port();
  std::ofstream(dir.path() / "pipeline.yaml") << fmt::format(R"(name: sink-fails
state_dir: state
source: {{table: local://items, key: name}}
queue: {{url: local://q, visibility_timeout: 60s}}
consumer: {{enrich: {{url: "http://127.0.0.1:{}/summary/{{name}}", text: /extract, concurrency: 2, retries: 0}}}}
sink: {{store: out/}}
)",
                                                             port);
  const PipelineConfig config = load_pipeline_or_throw(dir.path() / "pipeline.yaml");
  auto state = std::make_shared<SqliteRunState>(config.state_dir);
  const std::string run = "2026-11-26T12:00:00Z";
  state->start_run(run, RunKind::scheduled, now_millis());
  pipeline::SqsEvent event;
  for (int i = 0; i < 5; ++i) {
    pipeline::SqsEventRecord r;
    r.message_id = fmt::format("m{}", i);
    r.receipt_handle = "rh";
    r.body = pipeline::encode_message(run, fmt::format("k{}", i), fmt::format(R"({{"name":"k{}"}})", i));
    r.receive_count = 1;
    r.event_source_arn = "arn:aws:sqs:local:000000000000:q";
    r.aws_region = "local";
    event.records.push_back(r);
  }
  ConsumerHandler handler(config, state);
  const auto answer = nlohmann::json::parse(
      handler(pipeline::to_json(event), InvocationContext{"sink", now_millis() + std::chrono::seconds(60), "arn", ""}));
  std::set<std::string> failures;
  for (const auto& f : answer.at("batchItemFailures")) failures.insert(f.at("itemIdentifier").get<std::string>());
  EXPECT_EQ(failures, (std::set<std::string>{"m2", "m3", "m4"}));
  EXPECT_EQ(state->run(run).value().counts.processed, 2);
  EXPECT_EQ(requests.load(), 4);  // the fifth record was never fetched
}

class LambdaHandlers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { moto_ = testing_support::start_open_moto(); }  // no action ever needs auth
  static void TearDownTestSuite() { moto_.reset(); }

  void SetUp() override {
    if (!moto_) GTEST_SKIP() << "moto_server is not installed or did not start";
    ::setenv("AWS_ACCESS_KEY_ID", kCredentials.access_key_id.c_str(), 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", kCredentials.secret_access_key.c_str(), 1);
    ::unsetenv("AWS_SESSION_TOKEN");
    ::unsetenv("AWS_PROFILE");
    ::setenv("AWS_CONFIG_FILE", testing_support::kNoAwsConfigFile, 1);
    ::setenv("AWS_SHARED_CREDENTIALS_FILE", testing_support::kNoAwsCredentialsFile, 1);
    ::setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    // Each test its own resources in the shared moto.
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    name_ = fmt::format("h{}", std::hash<std::string>{}(test) % 1000000);
  }

  std::shared_ptr<const aws::AwsClient> client(const aws::ServiceInfo& service) const {
    return std::make_shared<const aws::AwsClient>(
        testing_support::moto_client(service, moto_->endpoint(), kCredentials));
  }

  PipelineConfig pipeline(const std::string& extra = "") {
    std::ofstream(dir_.path() / "pipeline.yaml") << fmt::format(R"(name: {0}
state_dir: state
source: {{table: "dynamodb://{0}-items", key: name, text: description, page_size: 5}}
queue: {{url: "sqs://{0}-queue", visibility_timeout: 60s, max_receive_count: 3}}
sink: {{store: "s3://{0}-results/sentiment/"}}
aws: {{region: us-east-1, endpoint_url: "{1}"}}
{2}
)",
                                                                name_, moto_->endpoint(), extra);
    return load_pipeline_or_throw(dir_.path() / "pipeline.yaml");
  }

  // The resources the SAM template would create: the bucket, the queue (with its DLQ), the
  // table, the state table.
  std::shared_ptr<RunState> provision(const PipelineConfig& config, const std::vector<std::string>& items) {
    S3Store(testing_support::moto_client(aws::kS3, moto_->endpoint(), kCredentials),
            S3StoreOptions{.bucket = config.sink.store.bucket, .create_bucket = true});
    (void)assembly::open_queue(config, assembly::QueueAccess::work);
    DynamoDbTableOptions t;
    t.name = config.source.table.name;
    t.key_schema = KeySchema{"name"};
    t.create_if_missing = true;
    DynamoDbTable table(client(aws::kDynamoDb), t);
    for (const auto& item : items) table.put(item);
    DynamoDbRunStateOptions s;
    s.table = config.name + "-state";
    s.create_if_missing = true;
    return std::make_shared<DynamoDbRunState>(client(aws::kDynamoDb), s);
  }

  static InvocationContext context(const std::string& id, milliseconds left = milliseconds(60'000)) {
    return InvocationContext{id, now_millis() + left, "arn:aws:lambda:us-east-1:000000000000:function:f", ""};
  }

  // Every message now in the queue (received, so they stay in flight for 60 s).
  static std::vector<ReceivedMessage> receive_all(Queue& queue, size_t expected) {
    std::vector<ReceivedMessage> all;
    testing_support::poll_until([&] {
      for (auto& m : queue.receive({.max_messages = 10, .visibility_timeout = milliseconds(60'000)}))
        all.push_back(std::move(m));
      return all.size() >= expected;
    });
    return all;
  }

  static inline std::unique_ptr<testing_support::MotoServer> moto_;  // one per suite; null: skip
  std::string name_;
  TempDir dir_{"lambda-handlers"};
};

TEST_F(LambdaHandlers, ConsumerStoresTheGoodRecordsInS3AndReturnsExactlyThePoisonOnes) {
  const PipelineConfig config = pipeline();
  const auto state = provision(config, {});
  const std::string run = "2026-11-26T06:00:00Z";
  state->start_run(run, RunKind::scheduled, now_millis());

  auto queue = assembly::open_queue(config, assembly::QueueAccess::inspect);
  std::vector<SendEntry> entries;
  std::set<std::string> good;
  for (int i = 0; i < 6; ++i) {
    const std::string key = fmt::format("company-{}", i);
    good.insert(key);
    entries.push_back(
        {fmt::format("e{}", i),
         pipeline::encode_message(run, key,
                                  fmt::format(R"({{"name":"{}","description":"a great and helpful company"}})", key))});
  }
  entries.push_back({"notjson", "{this is not JSON"});
  entries.push_back({"notext", pipeline::encode_message(run, "silent", R"({"name":"silent"})")});
  for (const auto& result : queue->send(entries)) ASSERT_FALSE(result.error) << result.error->what();
  const auto messages = receive_all(*queue, entries.size());
  ASSERT_EQ(messages.size(), entries.size());
  std::set<std::string> poison;
  for (const auto& m : messages)
    if (m.body == "{this is not JSON" || m.body.find("silent") != std::string::npos) poison.insert(m.message_id);
  ASSERT_EQ(poison.size(), 2u);

  ConsumerHandler handler(config, state);
  const std::string event = pipeline::to_json(
      pipeline::make_sqs_event(messages, assembly::queue_arn(config), assembly::queue_region(config)));
  const auto answer = nlohmann::json::parse(handler(event, context("consumer-1")));
  std::set<std::string> failures;
  for (const auto& f : answer.at("batchItemFailures")) failures.insert(f.at("itemIdentifier").get<std::string>());
  EXPECT_EQ(failures, poison);

  // The good records are in S3, under the run's folder; the poison ones are error records.
  S3Store bucket(testing_support::moto_client(aws::kS3, moto_->endpoint(), kCredentials),
                 S3StoreOptions{.bucket = config.sink.store.bucket});
  std::set<std::string> stored;
  for (const auto& object : bucket.list({.prefix = "sentiment/run=" + run + "/"}).objects) {
    std::istringstream lines(bucket.get(object.key).value().data);
    for (std::string line; std::getline(lines, line);) {
      const auto record = nlohmann::json::parse(line);
      stored.insert(record.at("key").get<std::string>());
      EXPECT_EQ(record.at("sentiment"), "POSITIVE");
    }
  }
  EXPECT_EQ(stored, good);
  EXPECT_FALSE(bucket.list({.prefix = "sentiment/_errors/"}).objects.empty());

  // The run's counts; no message deleted (Lambda does that): all eight are still in flight.
  const auto counts = state->run(run).value().counts;
  EXPECT_EQ(counts.processed, 6);
  EXPECT_EQ(counts.failed, 1);  // "silent" names the run; the body that is not JSON names none
  EXPECT_EQ(queue->counts().in_flight, 8);
}

TEST_F(LambdaHandlers, ConsumerFinishesADrainedRunOnceItsProducerIsDone) {
  const PipelineConfig config = pipeline();
  const auto state = provision(config, {});
  const std::string run = "2026-11-26T07:00:00Z";
  state->start_run(run, RunKind::scheduled, now_millis());
  state->mark_produced(run, now_millis());
  auto queue = assembly::open_queue(config, assembly::QueueAccess::inspect);
  const SendEntry entry{"one", pipeline::encode_message(run, "k", R"({"name":"k","description":"fine"})")};
  queue->send(std::span<const SendEntry>(&entry, 1));
  const auto messages = receive_all(*queue, 1);
  ConsumerHandler handler(config, state);
  handler(pipeline::to_json(
              pipeline::make_sqs_event(messages, assembly::queue_arn(config), assembly::queue_region(config))),
          context("c"));
  // Its own record is the only one in flight: the run is finished.
  EXPECT_EQ(state->run(run).value().phase, RunPhase::finished);
}

TEST_F(LambdaHandlers, ConsumerHandsBackWhatTheDeadlineLeaves) {
  const PipelineConfig config = pipeline();
  const auto state = provision(config, {});
  const std::string run = "2026-11-26T08:00:00Z";
  state->start_run(run, RunKind::scheduled, now_millis());
  pipeline::SqsEvent event;
  for (int i = 0; i < 3; ++i) {
    pipeline::SqsEventRecord r;
    r.message_id = fmt::format("late-{}", i);
    r.receipt_handle = "rh";
    r.body = pipeline::encode_message(run, fmt::format("k{}", i), R"({"name":"k","description":"fine"})");
    r.receive_count = 1;
    r.event_source_arn = assembly::queue_arn(config);
    r.aws_region = "us-east-1";
    event.records.push_back(r);
  }
  // The deadline is already inside the margin: nothing is taken.
  ConsumerHandler handler(config, state);
  const auto answer = nlohmann::json::parse(handler(pipeline::to_json(event), context("late", milliseconds(-1))));
  EXPECT_EQ(answer["batchItemFailures"].size(), 3u);
  EXPECT_EQ(state->run(run).value().counts.processed, 0);
}

TEST_F(LambdaHandlers, ConsumerStopsTakingChunksAtTheMarginAndHandsBackTheRest) {
  // With an enrich step of concurrency 2 the consumer takes two records at a time; a clock that
  // moves two seconds per look leaves time for one chunk before the margin.
  const testing_support::LocalHttpServer pages([](httplib::Server& server) {
    server.Get(R"(/summary/([^/]+))", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"extract":"a wonderful day"})", "application/json");
    });
    server.set_keep_alive_max_count(1);  // so that stop() does not wait out a kept-alive connection
  });
  const int port = pages.port();
  const PipelineConfig config = pipeline(fmt::format(
      R"(consumer: {{enrich: {{url: "http://127.0.0.1:{}/summary/{{name}}", text: /extract, concurrency: 2}}}})",
      port));
  EXPECT_EQ(consumer_chunk_size(config), 2u);
  const auto state = provision(config, {});
  const std::string run = "2026-11-26T08:30:00Z";
  state->start_run(run, RunKind::scheduled, now_millis());
  pipeline::SqsEvent event;
  for (int i = 0; i < 5; ++i) {
    pipeline::SqsEventRecord r;
    r.message_id = fmt::format("m{}", i);
    r.receipt_handle = "rh";
    r.body = pipeline::encode_message(run, fmt::format("k{}", i), fmt::format(R"({{"name":"k{}"}})", i));
    r.receive_count = 1;
    r.event_source_arn = assembly::queue_arn(config);
    r.aws_region = "us-east-1";
    event.records.push_back(r);
  }
  const Millis start = now_millis();
  auto now = std::make_shared<Millis>(start);
  LambdaHandlerOptions options;
  options.clock = [now] { return *now += std::chrono::seconds(2); };
  ConsumerHandler handler(config, state, options);
  // Six seconds: the first look (start) sees four left, a margin of one; the second (+4 s) takes
  // a chunk; the third (+6 s) is past the margin.
  const auto answer = nlohmann::json::parse(
      handler(pipeline::to_json(event), InvocationContext{"cut", start + std::chrono::seconds(6), "arn", ""}));
  std::set<std::string> failures;
  for (const auto& f : answer.at("batchItemFailures")) failures.insert(f.at("itemIdentifier").get<std::string>());
  EXPECT_EQ(failures, (std::set<std::string>{"m2", "m3", "m4"}));
  EXPECT_EQ(state->run(run).value().counts.processed, 2);
  EXPECT_EQ(state->run(run).value().counts.failed, 0);  // handed back, not failed
}

TEST_F(LambdaHandlers, ProducerFillsTheQueueFromTheTableAndATickNeverProducesTwice) {
  std::vector<std::string> items;
  for (int i = 0; i < 23; ++i) items.push_back(fmt::format(R"({{"name":"c{:02}","description":"company {}"}})", i, i));
  items.push_back(R"({"name":"no-text"})");
  const PipelineConfig config = pipeline();
  const auto state = provision(config, items);
  ProducerHandler handler(config, state);
  const std::string tick = R"({"version":"0","id":"e1","detail-type":"Scheduled Event","source":"aws.events",)"
                           R"("account":"000000000000","time":"2026-11-26T06:00:00Z","region":"us-east-1",)"
                           R"("resources":["arn:aws:events:us-east-1:000000000000:rule/r"],"detail":{}})";
  const auto answer = nlohmann::json::parse(handler(tick, context("producer-1")));
  EXPECT_EQ(answer["run"], "2026-11-26T06:00:00Z");
  EXPECT_EQ(answer["status"], "produced");
  EXPECT_EQ(answer["sent"], 23);
  EXPECT_EQ(answer["error_records"], 1);

  auto queue = assembly::open_queue(config, assembly::QueueAccess::inspect);
  const auto messages = receive_all(*queue, 23);
  std::set<std::string> keys;
  for (const auto& m : messages) {
    const auto message = pipeline::decode_message(m.body);
    EXPECT_EQ(message.run, "2026-11-26T06:00:00Z");
    keys.insert(message.key);
  }
  EXPECT_EQ(keys.size(), 23u);
  const RunRecord run = state->run("2026-11-26T06:00:00Z").value();
  EXPECT_EQ(run.phase, RunPhase::draining);
  EXPECT_EQ(run.counts.sent, 23);
  EXPECT_EQ(run.counts.producer_errors, 1);

  // EventBridge delivers at least once: the same tick again, and the same tick from Scheduler.
  for (const std::string& again : {tick, std::string(R"({"time":"2026-11-26T06:00:00Z"})")}) {
    const auto duplicate = nlohmann::json::parse(handler(again, context("producer-2")));
    EXPECT_EQ(duplicate["status"], "duplicate");
    EXPECT_EQ(duplicate["sent"], 0);
  }
  const QueueCounts counts = queue->counts();
  EXPECT_EQ(counts.visible + counts.in_flight + counts.delayed, 23);
  EXPECT_EQ(state->run("2026-11-26T06:00:00Z").value().counts.sent, 23);

  // The next tick while the 06:00 run still has messages in the queue: skipped and counted, as
  // in the local scheduler (DESIGN.md, "Runs").
  const auto skipped = nlohmann::json::parse(handler(R"({"time":"2026-11-26T07:00:00Z"})", context("producer-3")));
  EXPECT_EQ(skipped["status"], "skipped");
  EXPECT_EQ(state->skipped_ticks(), 1);
  EXPECT_FALSE(state->run("2026-11-26T07:00:00Z").has_value());

  // Once the queue is empty, the next tick finishes the 06:00 run (no consumer saw it drained:
  // these messages were deleted by hand) and runs.
  std::vector<DeleteEntry> deletes;
  for (const auto& m : messages) deletes.push_back({.id = m.message_id, .receipt_handle = m.receipt_handle});
  for (size_t i = 0; i < deletes.size(); i += 10)
    queue->delete_messages(std::span(deletes).subspan(i, std::min<size_t>(10, deletes.size() - i)));
  const auto next = nlohmann::json::parse(handler(R"({"time":"2026-11-26T08:00:00Z"})", context("producer-4")));
  EXPECT_EQ(next["run"], "2026-11-26T08:00:00Z");
  EXPECT_EQ(next["status"], "produced");
  EXPECT_EQ(next["sent"], 23);
  EXPECT_EQ(state->run("2026-11-26T06:00:00Z").value().phase, RunPhase::finished);
  EXPECT_EQ(state->skipped_ticks(), 1);
}

TEST_F(LambdaHandlers, ATickResumesARunWhoseProducerIsGoneBeforeItsOwn) {
  std::vector<std::string> items;
  for (int i = 0; i < 6; ++i) items.push_back(fmt::format(R"({{"name":"c{}","description":"company {}"}})", i, i));
  const PipelineConfig config = pipeline();
  const auto state = provision(config, items);
  // A run left producing by an invocation that died: its lease ran out, no continuation came.
  const std::string orphan = "2026-11-26T09:00:00Z";
  state->set_last_tick(parse_utc(orphan));
  state->start_run(orphan, RunKind::scheduled, now_millis());
  ASSERT_TRUE(state->acquire_producer_lease(orphan, "dead-invocation", now_millis() - std::chrono::seconds(60),
                                            now_millis() - std::chrono::seconds(1)));
  ProducerHandler handler(config, state);
  const auto answer = nlohmann::json::parse(handler(R"({"time":"2026-11-26T10:00:00Z"})", context("producer-1")));
  EXPECT_EQ(answer["run"], orphan);
  EXPECT_EQ(answer["status"], "produced");
  EXPECT_EQ(answer["sent"], 6);
  EXPECT_EQ(state->skipped_ticks(), 1);
  EXPECT_FALSE(state->run("2026-11-26T10:00:00Z").has_value());
  EXPECT_EQ(state->run(orphan).value().phase, RunPhase::draining);
}

TEST_F(LambdaHandlers, TheBinaryOnLambdaKeepsItsRunStateInTheDynamoDbTable) {
  // The whole path Lambda takes: the binary as bootstrap, the pipeline file at the task root,
  // the run state in DynamoDB (SENTIFLOW_STATE_TABLE naming the table), the producer then the
  // consumer on the messages it sent.
  std::vector<std::string> items;
  for (int i = 0; i < 7; ++i) items.push_back(fmt::format(R"({{"name":"c{}","description":"a happy company"}})", i));
  const PipelineConfig config = pipeline();
  provision(config, items);
  DynamoDbRunStateOptions custom;
  custom.table = name_ + "-custom-state";
  custom.create_if_missing = true;
  DynamoDbRunState state(client(aws::kDynamoDb), custom);

  const auto run_function = [&](const std::string& handler, const std::string& event) {
    testing_support::RuntimeApiServer api;
    api.add_event({.body = event, .request_id = handler + "-request"});
    testing_support::Spawned child(SENTIFLOW_BINARY, {},
                                   {.env = {{"AWS_LAMBDA_RUNTIME_API", api.address()},
                                            {"_HANDLER", handler},
                                            {"LAMBDA_TASK_ROOT", dir_.path().string()},
                                            {"SENTIFLOW_STATE_TABLE", custom.table},
                                            {"AWS_LAMBDA_FUNCTION_NAME", name_ + "-" + handler}},
                                    .unset = {"SENTIFLOW_RUN_STATE", "SENTIFLOW_PIPELINE"}});
    EXPECT_TRUE(api.wait_for_outcomes(1)) << child.err();
    EXPECT_TRUE(api.errors().empty()) << child.err();
    EXPECT_TRUE(api.violations().empty());
    return api.response_to(handler + "-request").value_or("{}");
  };
  const auto produced = nlohmann::json::parse(run_function("producer", R"({"time":"2026-11-26T11:00:00Z"})"));
  EXPECT_EQ(produced["status"], "produced");
  EXPECT_EQ(produced["sent"], 7);

  auto queue = assembly::open_queue(config, assembly::QueueAccess::inspect);
  const auto messages = receive_all(*queue, 7);
  ASSERT_EQ(messages.size(), 7u);
  const auto consumed = nlohmann::json::parse(
      run_function("consumer", pipeline::to_json(pipeline::make_sqs_event(messages, assembly::queue_arn(config),
                                                                          assembly::queue_region(config)))));
  EXPECT_TRUE(consumed["batchItemFailures"].empty());

  const RunRecord run = state.run("2026-11-26T11:00:00Z").value();
  EXPECT_EQ(run.counts.sent, 7);
  EXPECT_EQ(run.counts.processed, 7);
  EXPECT_EQ(run.counts.labels.at("POSITIVE"), 7);
  // Its own seven records were the only ones in flight: the consumer finished the run.
  EXPECT_EQ(run.phase, RunPhase::finished);
}

TEST_F(LambdaHandlers, InvokeKeepsTheRunStateInTheTableThatSentiflowStateTableNames) {
  const PipelineConfig config = pipeline();
  provision(config, {R"({"name":"a","description":"x"})", R"({"name":"b","description":"y"})"});
  DynamoDbRunStateOptions named;
  named.table = name_ + "-invoke-state";
  named.create_if_missing = true;
  DynamoDbRunState state(client(aws::kDynamoDb), named);
  std::ofstream(dir_.path() / "tick.json") << R"({"time":"2026-11-26T13:00:00Z"})";
  ::setenv("SENTIFLOW_STATE_TABLE", named.table.c_str(), 1);
  const auto out = testing_support::run_sentiflow("invoke producer --event '" + (dir_.path() / "tick.json").string() +
                                                  "' --pipeline '" + (dir_.path() / "pipeline.yaml").string() + "'");
  ::unsetenv("SENTIFLOW_STATE_TABLE");
  ASSERT_EQ(out.status, 0) << out.err;
  EXPECT_EQ(nlohmann::json::parse(out.out)["sent"], 2);
  EXPECT_EQ(state.run("2026-11-26T13:00:00Z").value().counts.sent, 2);
  EXPECT_FALSE(std::filesystem::exists(config.state_dir / "state.sqlite"));  // nothing local
}

// source.incremental on Lambda: the fingerprints live in the DynamoDB state table. The consumer
// handler records them for the results it stored; the next tick sends only what changed.
TEST_F(LambdaHandlers, AnIncrementalTickSendsOnlyWhatChangedSinceItsResultsWereStored) {
  std::vector<std::string> items;
  for (int i = 0; i < 12; ++i) items.push_back(fmt::format(R"({{"name":"c{:02}","description":"company {}"}})", i, i));
  const PipelineConfig config = [&] {  // the fixture's pipeline() with incremental: true
    std::ofstream(dir_.path() / "pipeline.yaml") << fmt::format(R"(name: {0}
state_dir: state
source: {{table: "dynamodb://{0}-items", key: name, text: description, page_size: 5, incremental: true}}
queue: {{url: "sqs://{0}-queue", visibility_timeout: 60s, max_receive_count: 3}}
sink: {{store: "s3://{0}-results/sentiment/"}}
aws: {{region: us-east-1, endpoint_url: "{1}"}}
)",
                                                                name_, moto_->endpoint());
    return load_pipeline_or_throw(dir_.path() / "pipeline.yaml");
  }();
  ASSERT_TRUE(config.source.incremental);
  const auto state = provision(config, items);
  ProducerHandler producer(config, state);
  ConsumerHandler consumer(config, state);
  auto queue = assembly::open_queue(config, assembly::QueueAccess::inspect);
  // One tick: produce, consume everything as the event source mapping would, delete.
  const auto tick = [&](const std::string& time, int64_t expected_sent) {
    const auto answer = nlohmann::json::parse(producer(fmt::format(R"({{"time":"{}"}})", time), context("p-" + time)));
    EXPECT_EQ(answer["status"], "produced") << answer.dump();
    EXPECT_EQ(answer["sent"], expected_sent) << time;
    const auto messages = receive_all(*queue, static_cast<size_t>(expected_sent));
    if (!messages.empty()) {
      const auto handled =
          nlohmann::json::parse(consumer(pipeline::to_json(pipeline::make_sqs_event(
                                             messages, assembly::queue_arn(config), assembly::queue_region(config))),
                                         context("c-" + time)));
      EXPECT_TRUE(handled["batchItemFailures"].empty());
      std::vector<DeleteEntry> deletes;
      for (const auto& m : messages) deletes.push_back({.id = m.message_id, .receipt_handle = m.receipt_handle});
      for (size_t i = 0; i < deletes.size(); i += 10)
        queue->delete_messages(std::span(deletes).subspan(i, std::min<size_t>(10, deletes.size() - i)));
    }
    return state->run(time).value();
  };
  EXPECT_EQ(tick("2026-11-26T06:00:00Z", 12).counts.unchanged, 0);
  EXPECT_EQ(state->fingerprints({"c00", "c11"}).size(), 2u);  // recorded in the DynamoDB state table
  EXPECT_EQ(tick("2026-11-26T07:00:00Z", 0).counts.unchanged, 12);
  DynamoDbTableOptions t;
  t.name = config.source.table.name;
  t.key_schema = KeySchema{"name"};
  DynamoDbTable(client(aws::kDynamoDb), t).put(R"({"name":"c05","description":"a company that changed"})");
  const RunRecord third = tick("2026-11-26T08:00:00Z", 1);
  EXPECT_EQ(third.counts.unchanged, 11);
  EXPECT_EQ(third.counts.sent, 1);
}

TEST_F(LambdaHandlers, ProducerLeavesARunThatAnotherInvocationIsProducing) {
  const PipelineConfig config = pipeline();
  const auto state = provision(config, {R"({"name":"a","description":"x"})"});
  const std::string run = "2026-11-26T09:00:00Z";
  state->start_run(run, RunKind::scheduled, now_millis());
  ASSERT_TRUE(
      state->acquire_producer_lease(run, "other-request", now_millis(), now_millis() + std::chrono::minutes(5)));
  ProducerHandler handler(config, state);
  const auto answer = nlohmann::json::parse(handler(R"({"time":"2026-11-26T09:00:00Z"})", context("mine")));
  EXPECT_EQ(answer["status"], "duplicate");
  EXPECT_EQ(assembly::open_queue(config, assembly::QueueAccess::inspect)->counts().visible, 0);
}

TEST_F(LambdaHandlers, ProducerRejectsAnEventOfNoKnownShape) {
  const PipelineConfig config = pipeline();
  const auto state = provision(config, {});
  ProducerHandler handler(config, state);
  for (const char* event : {"[]", "{}", "not json", R"({"time":"yesterday"})", R"({"run":"a/b"})"}) {
    try {
      handler(event, context("bad"));
      ADD_FAILURE() << event;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input) << event;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The asynchronous re-invoke of a cut run.

// Lambda's Invoke API as far as the producer uses it, strict: the path, the invocation type, the
// content, and a SigV4 signature recomputed here from what arrived.
class FakeLambda {
 public:
  struct Invocation {
    std::string function;
    std::string payload;
  };

  FakeLambda() : server_([this](httplib::Server& server) { install(server); }) {}

  std::string endpoint() const { return server_.url(); }
  std::vector<Invocation> invocations() {
    std::lock_guard lock(mutex_);
    return invocations_;
  }
  std::vector<std::string> problems() {
    std::lock_guard lock(mutex_);
    return problems_;
  }

 private:
  void install(httplib::Server& server) {
    server.Post(R"(/2015-03-31/functions/([^/]+)/invocations)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  std::lock_guard lock(mutex_);
                  std::string problem;
                  if (req.get_header_value("X-Amz-Invocation-Type") != "Event")
                    problem = "X-Amz-Invocation-Type is not Event";
                  else if (!testing_support::signature_holds(req, endpoint(), "lambda", kCredentials))
                    problem = "the signature does not match the request";
                  else if (nlohmann::json::parse(req.body, nullptr, false).is_discarded())
                    problem = "the payload is not JSON";
                  if (!problem.empty()) {
                    problems_.push_back(problem);
                    res.status = 403;
                    res.set_content(R"({"message":")" + problem + "\"}", "application/json");
                    return;
                  }
                  invocations_.push_back({req.matches[1], req.body});
                  res.status = 202;
                });
    server.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex_);
      problems_.push_back("unexpected " + req.path);
      res.status = 404;
    });
  }

  std::mutex mutex_;
  std::vector<Invocation> invocations_;
  std::vector<std::string> problems_;
  // Last: destroyed, and its handlers stopped, before what they use.
  testing_support::LocalHttpServer server_;
};

TEST_F(LambdaHandlers, AProducerCutByItsDeadlineReinvokesItselfAndTheContinuationFinishesTheRun) {
  std::vector<std::string> items;
  for (int i = 0; i < 20; ++i) items.push_back(fmt::format(R"({{"name":"c{:02}","description":"company {}"}})", i, i));
  const PipelineConfig config = pipeline();  // page_size 5: four pages
  const auto state = provision(config, items);
  FakeLambda lambda;

  // A clock that moves three seconds per look: of an invocation's ten seconds, the first page
  // ends at the ninth, and another page of three seconds would end past the deadline.
  auto now = std::make_shared<Millis>(now_millis());
  LambdaHandlerOptions options;
  options.clock = [now] { return *now += std::chrono::seconds(3); };
  options.function_name = "fang-producer";
  options.invoker = [&] {
    return std::make_unique<LambdaInvoker>(std::make_shared<const aws::AwsClient>(
        testing_support::moto_client(aws::kLambda, lambda.endpoint(), kCredentials)));
  };
  ProducerHandler handler(config, state, options);
  const auto cut_context = [&](const std::string& id) {
    return InvocationContext{id, *now + std::chrono::seconds(10), "arn", ""};
  };
  auto answer = nlohmann::json::parse(handler(R"({"time":"2026-11-26T10:00:00Z"})", cut_context("first")));
  ASSERT_EQ(answer["status"], "continued") << answer.dump();
  int64_t sent = answer["sent"].get<int64_t>();
  EXPECT_LT(sent, 20);
  EXPECT_TRUE(lambda.problems().empty()) << lambda.problems()[0];
  ASSERT_EQ(lambda.invocations().size(), 1u);
  EXPECT_EQ(lambda.invocations()[0].function, "fang-producer");
  EXPECT_EQ(nlohmann::json::parse(lambda.invocations()[0].payload),
            nlohmann::json::parse(R"({"run":"2026-11-26T10:00:00Z","checkpoint":true})"));
  EXPECT_EQ(answer["continuation"], nlohmann::json::parse(lambda.invocations()[0].payload));

  // The continuations, as Lambda would deliver them, until the run is produced.
  for (int i = 0; i < 10 && answer["status"] == "continued"; ++i) {
    answer =
        nlohmann::json::parse(handler(lambda.invocations().back().payload, cut_context(fmt::format("next-{}", i))));
    sent += answer["sent"].get<int64_t>();
  }
  EXPECT_EQ(answer["status"], "produced");
  EXPECT_EQ(sent, 20);  // each page once: every continuation resumed from the checkpoints
  auto queue = assembly::open_queue(config, assembly::QueueAccess::inspect);
  std::set<std::string> keys;
  for (const auto& m : receive_all(*queue, 20)) keys.insert(pipeline::decode_message(m.body).key);
  EXPECT_EQ(keys.size(), 20u);
  EXPECT_EQ(queue->counts().visible, 0);
  EXPECT_EQ(state->run("2026-11-26T10:00:00Z").value().counts.sent, 20);
  EXPECT_TRUE(lambda.problems().empty()) << lambda.problems()[0];
}

TEST(LambdaInvokerOnMoto, MotoInAuthModeAcceptsTheSignedAsynchronousInvoke) {
  testing_support::AuthMoto moto;
  if (!moto.skip_reason().empty()) GTEST_SKIP() << moto.skip_reason();
  // Moto runs functions in Docker; this setting makes it accept an Invoke without running one.
  HttpClient http;
  const auto configured = http.send({.method = "POST",
                                     .url = moto.endpoint() + "/moto-api/config",
                                     .headers = {{"Content-Type", "application/json"}},
                                     .body = R"({"lambda":{"use_docker":false}})"});
  ASSERT_EQ(configured.status, 201) << configured.body;
  LambdaInvoker invoker(std::make_shared<const aws::AwsClient>(moto.client(aws::kLambda)));
  EXPECT_NO_THROW(invoker.invoke_async("fang-producer", R"({"run":"2026-11-26T10:00:00Z","checkpoint":true})"));
  // A key moto does not know is refused: the signature is checked.
  LambdaInvoker stranger(std::make_shared<const aws::AwsClient>(testing_support::moto_client(
      aws::kLambda, moto.endpoint(), {.access_key_id = "AKIDUNKNOWN", .secret_access_key = "x"})));
  EXPECT_THROW(stranger.invoke_async("fang-producer", "{}"), Error);
}

}  // namespace
}  // namespace sentiflow::lambda
