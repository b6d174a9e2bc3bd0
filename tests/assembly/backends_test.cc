// The assembly: the run state the factory opens (local and DynamoDB, against moto in auth
// mode), and the parts both runners share — producer options, page and batch recording, the
// drained check.
#include "assembly/backends.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "assembly/parts.h"
#include "config/values.h"
#include "core/error.h"
#include "state/dynamodb_run_state.h"
#include "state/sqlite_run_state.h"
#include "support/moto.h"
#include "support/temp_dir.h"

namespace sentiflow::assembly {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

Millis at_ms(int64_t ms) { return Millis(std::chrono::milliseconds(ms)); }

template <typename F>
ErrorCode error_of(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "no Error thrown";
  return ErrorCode::internal;
}

TEST(OpenRunState, LocalIsThePipelinesOwnFolderOfTheStateDirectory) {
  TempDir dir;
  PipelineConfig config;
  config.name = "p";
  config.state_dir = dir.path() / "state";
  EXPECT_EQ(run_state_dir(config), config.state_dir / "pipelines" / "p");
  EXPECT_EQ(open_existing_run_state(config), nullptr);  // nothing recorded yet: not an error
  auto state = open_run_state(config, RunStateStore::local);
  state->start_run("r", RunKind::manual, at_ms(1));
  EXPECT_TRUE(fs::exists(SqliteRunState::file_in(run_state_dir(config))));
  EXPECT_FALSE(fs::exists(shared_run_state_file(config)));
  EXPECT_TRUE(SqliteRunState(run_state_dir(config)).run("r").has_value());
  ASSERT_NE(open_existing_run_state(config), nullptr);
  EXPECT_TRUE(open_existing_run_state(config)->run("r").has_value());
}

// Issue 14, fault 1: two pipelines of one state folder each have their own runs.
TEST(OpenRunState, TwoPipelinesOfOneFolderNeverSeeEachOthersRuns) {
  TempDir dir;
  PipelineConfig a;
  a.name = "a";
  a.state_dir = dir.path() / "state";
  PipelineConfig b = a;
  b.name = "b";
  open_run_state(a, RunStateStore::local)->start_run("r", RunKind::manual, at_ms(1));
  auto state_b = open_run_state(b, RunStateStore::local);
  EXPECT_FALSE(state_b->newest_unfinished().has_value());
  EXPECT_FALSE(state_b->run("r").has_value());
  EXPECT_EQ(open_existing_run_state(b)->recent_runs(10).size(), 0u);
}

// The state file of an older sentiflow (shared by every pipeline of the folder) stays readable
// while the pipeline has none of its own, and a runner never writes it.
TEST(OpenRunState, TheSharedFileOfAnOlderVersionIsReadNotWritten) {
  TempDir dir;
  PipelineConfig config;
  config.name = "p";
  config.state_dir = dir.path() / "state";
  SqliteRunState(config.state_dir).start_run("old", RunKind::manual, at_ms(1));
  ASSERT_NE(open_existing_run_state(config), nullptr);
  EXPECT_TRUE(open_existing_run_state(config)->run("old").has_value());
  auto state = open_run_state(config, RunStateStore::local);
  EXPECT_FALSE(state->newest_unfinished().has_value()) << "the shared file's unfinished run is not adopted";
  state->start_run("new", RunKind::manual, at_ms(2));
  EXPECT_FALSE(SqliteRunState(config.state_dir).run("new").has_value());
  EXPECT_TRUE(open_existing_run_state(config)->run("new").has_value());
}

// open_run_state(dynamodb): the table named by SENTIFLOW_STATE_TABLE (else <name>-state), through
// the pipeline file's aws: settings and the standard credentials, as the dynamodb:// backend.
TEST(OpenRunState, DynamoDbUsesThePipelinesAwsSettings) {
  testing_support::AuthMoto moto{"sentiflow-assembly"};
  if (!moto.skip_reason().empty()) GTEST_SKIP() << moto.skip_reason();
  const auto client = std::make_shared<const aws::AwsClient>(
      testing_support::moto_client(aws::kDynamoDb, moto.endpoint(), moto.credentials(), 3));
  PipelineConfig config;
  config.name = "assembly-state";
  config.aws.region = "us-east-1";
  config.aws.endpoint_url = parse_http_url(moto.endpoint());
  // The AWS settings of this process would win over nothing: the test's own key is used.
  ::setenv("AWS_ACCESS_KEY_ID", moto.credentials().access_key_id.c_str(), 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", moto.credentials().secret_access_key.c_str(), 1);
  ::unsetenv("AWS_SESSION_TOKEN");
  ::unsetenv("SENTIFLOW_STATE_TABLE");
  // A missing table is the user's to fix (exit status 2); the message says where it was looked for.
  std::string message;
  EXPECT_EQ(error_of([&] { open_run_state(config, RunStateStore::dynamodb); }, &message), ErrorCode::invalid_input);
  EXPECT_NE(message.find(config.name + "-state"), std::string::npos) << message;
  EXPECT_NE(message.find("region us-east-1"), std::string::npos) << message;
  EXPECT_NE(message.find("endpoint " + moto.endpoint()), std::string::npos) << message;

  DynamoDbRunState created(client, {.table = config.name + "-state", .create_if_missing = true});
  auto state = open_run_state(config, RunStateStore::dynamodb);
  state->start_run("r", RunKind::manual, at_ms(5));
  EXPECT_EQ(created.run("r")->started_at, at_ms(5));

  ::setenv("SENTIFLOW_STATE_TABLE", (config.name + "-state").c_str(), 1);
  config.name = "another-name";
  EXPECT_TRUE(open_run_state(config, RunStateStore::dynamodb)->run("r").has_value());
  ::unsetenv("SENTIFLOW_STATE_TABLE");
  created.drop();
}

TEST(Parts, ProducerOptionsComeFromThePipelineFile) {
  PipelineConfig config;
  config.source.key = "name";
  config.source.text = "description";
  config.source.segments = 3;
  config.source.page_size = 7;
  config.queue.message_size_limit = 1000;
  auto o = producer_options(config);
  EXPECT_EQ(o.key_attribute, "name");
  EXPECT_EQ(o.text_attribute, "description");
  EXPECT_TRUE(o.text_required);
  EXPECT_EQ(o.segments, 3);
  EXPECT_EQ(o.page_size, 7);
  EXPECT_EQ(o.message_size_limit, 1000u);
  config.consumer.enrich = PipelineConfig::Enrich{};  // the consumer fetches the text
  EXPECT_FALSE(producer_options(config).text_required);
}

TEST(Parts, RecordPageAddsTheCountsAndSavesTheCheckpointUnderTheLease) {
  TempDir dir;
  SqliteRunState state(dir.path());
  state.start_run("r", RunKind::manual, at_ms(1));
  pipeline::ProduceReport page;
  page.scanned = 10;
  page.sent = 9;
  page.errors = 1;
  record_page(state, state, "r", ScanCheckpoint{0, 1, "t1", false, 10, 9}, page);
  EXPECT_EQ(state.run("r")->counts.scanned, 10);
  EXPECT_EQ(state.run("r")->counts.sent, 9);
  EXPECT_EQ(state.run("r")->counts.producer_errors, 1);
  ASSERT_EQ(state.checkpoints("r").size(), 1u);
  EXPECT_EQ(state.checkpoints("r")[0].token, "t1");
  // Another owner's lease: the checkpoint is refused (the producer stops), never moved back.
  ASSERT_TRUE(state.acquire_producer_lease("r", "other", at_ms(2), at_ms(100'000)));
  EXPECT_EQ(error_of([&] {
              record_page(state, state, "r", ScanCheckpoint{0, 1, "t0", false, 1, 1}, {}, "me");
            }),
            ErrorCode::conflict);
  EXPECT_EQ(state.checkpoints("r")[0].token, "t1");
}

TEST(Parts, RecordBatchSkipsUnknownRunsAndNeverThrows) {
  TempDir dir;
  SqliteRunState state(dir.path());
  state.start_run("r", RunKind::manual, at_ms(1));
  pipeline::BatchOutcome outcome;
  outcome.runs["r"].processed = 3;
  outcome.runs["r"].labels["POSITIVE"] = 3;
  outcome.runs["unknown"].failed = 1;  // a body that names no run this state has
  EXPECT_EQ(record_batch(state, outcome), 0);
  EXPECT_EQ(state.run("r")->counts.processed, 3);
  EXPECT_EQ(state.run("r")->counts.labels.at("POSITIVE"), 3);
  EXPECT_FALSE(state.run("unknown").has_value());
}

TEST(Parts, QueueDrainedAllowsOnlyTheCallersOwnMessagesInFlight) {
  EXPECT_TRUE(queue_drained(QueueCounts{}));
  EXPECT_FALSE(queue_drained(QueueCounts{.visible = 1}));
  EXPECT_FALSE(queue_drained(QueueCounts{.delayed = 1}));
  EXPECT_FALSE(queue_drained(QueueCounts{.in_flight = 1}));
  EXPECT_TRUE(queue_drained(QueueCounts{.in_flight = 2}, 2));
  EXPECT_FALSE(queue_drained(QueueCounts{.in_flight = 3}, 2));
}

TEST(Parts, FinishIfDrainedMarksADrainedProducedRunOnly) {
  TempDir dir;
  PipelineConfig config;
  config.name = "p";
  config.state_dir = dir.path();
  config.queue.url.name = "q";
  config.queue.dead_letter = "q-dlq";
  config.queue.visibility_timeout = std::chrono::seconds(30);
  config.queue.retention = std::chrono::hours(1);
  config.queue.message_size_limit = 1024;
  auto queue = open_queue(config);
  SqliteRunState state(dir.path());
  state.start_run("r", RunKind::manual, at_ms(1));
  EXPECT_FALSE(finish_if_drained(state, *queue, "r", at_ms(2)));  // still producing
  state.mark_produced("r", at_ms(2));
  const std::vector<SendEntry> entries{SendEntry{"1", "{}"}};
  ASSERT_TRUE(queue->send(entries).front().ok());
  EXPECT_FALSE(finish_if_drained(state, *queue, "r", at_ms(3)));  // a message is visible
  EXPECT_EQ(state.run("r")->phase, RunPhase::draining);
  const auto got = queue->receive(ReceiveRequest{.max_messages = 10});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(finish_if_drained(state, *queue, "r", at_ms(4)));  // in flight, not the caller's
  EXPECT_FALSE(finish_if_drained(state, *queue, "r", at_ms(4), 1, [] { return false; }));  // a batch in hand
  EXPECT_TRUE(finish_if_drained(state, *queue, "r", at_ms(5), 1));                         // the caller's own message
  EXPECT_EQ(state.run("r")->phase, RunPhase::finished);
  EXPECT_FALSE(finish_if_drained(state, *queue, "r", at_ms(6), 1));  // finished already
}

}  // namespace
}  // namespace sentiflow::assembly
