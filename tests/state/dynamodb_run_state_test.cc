// DynamoDbRunState against moto in auth mode (through a serializing FaultProxy): the RunState
// conformance suite, the table's items as docs/RUNNING.md documents them, opening (missing
// table, wrong key schema); assembly::open_run_state's DynamoDB store is tests/assembly's.
#include "state/dynamodb_run_state.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "config/values.h"
#include "core/error.h"
#include "state/run_state_conformance.h"
#include "support/fault_proxy.h"
#include "support/moto.h"
#include "table/dynamodb_table.h"

namespace sentiflow {
namespace {

using conformance::at_ms;
using conformance::at_s;
using conformance::error_of;
using nlohmann::json;

// One moto (and its proxy) per suite: starting one takes seconds.
struct Moto {
  testing_support::AuthMoto moto{"sentiflow-run-state"};
  // Serialized: moto's conditional writes are not atomic (testing_support::FaultProxy).
  std::unique_ptr<testing_support::FaultProxy> proxy =
      moto.skip_reason().empty() ? std::make_unique<testing_support::FaultProxy>(
                                       moto.endpoint(), testing_support::FaultProxyOptions{.serialize = true})
                                 : nullptr;
};

std::unique_ptr<Moto>& moto_slot() {
  static std::unique_ptr<Moto> moto;
  return moto;
}

void start_moto() {
  if (!moto_slot()) moto_slot() = std::make_unique<Moto>();
}
void stop_moto() { moto_slot().reset(); }
testing_support::AuthMoto& moto() { return moto_slot()->moto; }

// A DynamoDB client of the suite's moto, through the serializing proxy.
std::shared_ptr<const aws::AwsClient> moto_dynamodb() {
  return std::make_shared<const aws::AwsClient>(
      testing_support::moto_client(aws::kDynamoDb, moto_slot()->proxy->endpoint(), moto().credentials(), 3));
}

std::string fresh_table_name() {
  static std::atomic<int> counter{0};
  return "run-state-" + std::to_string(++counter);
}

// The conformance suite's store: a fresh table in the suite's moto, dropped at the end.

class DynamoDbStore {
 public:
  static void set_up_suite() { start_moto(); }
  static void tear_down_suite() { stop_moto(); }
  static std::string skip_reason() { return moto().skip_reason(); }
  // moto serves one request at a time, at a few ms each.
  static constexpr int kConcurrentCalls = 40;

  DynamoDbStore() : client_(moto_dynamodb()) {}
  ~DynamoDbStore() {
    try {
      if (first_) first_->drop();
    } catch (const Error&) {
      // A table left behind dies with the suite's moto.
    }
  }

  std::unique_ptr<RunState> open() {
    auto state =
        std::make_unique<DynamoDbRunState>(client_, DynamoDbRunStateOptions{.table = name_, .create_if_missing = true});
    if (!first_) first_ = std::make_unique<DynamoDbRunState>(client_, DynamoDbRunStateOptions{.table = name_});
    return state;
  }

 private:
  std::shared_ptr<const aws::AwsClient> client_;
  std::string name_ = fresh_table_name();
  std::unique_ptr<DynamoDbRunState> first_;  // drops the table
};

}  // namespace

namespace conformance {
INSTANTIATE_TYPED_TEST_SUITE_P(DynamoDbRunState, RunStateConformance, ::testing::Types<DynamoDbStore>);
}  // namespace conformance

namespace {

class DynamoDbRunStateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { start_moto(); }
  static void TearDownTestSuite() { stop_moto(); }
  void SetUp() override {
    if (!moto().skip_reason().empty()) GTEST_SKIP() << moto().skip_reason();
    client_ = moto_dynamodb();
  }

  json call(const std::string& operation, const json& body) {
    return json::parse(client_
                           ->call({.operation = operation,
                                   .headers = {{"Content-Type", "application/x-amz-json-1.0"},
                                               {"X-Amz-Target", "DynamoDB_20120810." + operation}},
                                   .body = body.dump()})
                           .body);
  }

  json item(const std::string& table, const std::string& pk, const std::string& sk) {
    const json answer =
        call("GetItem",
             {{"TableName", table}, {"Key", {{"pk", {{"S", pk}}}, {"sk", {{"S", sk}}}}}, {"ConsistentRead", true}});
    return answer.value("Item", json::object());
  }

  std::shared_ptr<const aws::AwsClient> client_;
};

TEST(DynamoDbRunStateName, PipelineNameDashStateUnlessTheEnvironmentNamesIt) {
  ::unsetenv("SENTIFLOW_STATE_TABLE");
  EXPECT_EQ(DynamoDbRunState::table_name_for("reviews"), "reviews-state");
  ::setenv("SENTIFLOW_STATE_TABLE", "", 1);
  EXPECT_EQ(DynamoDbRunState::table_name_for("reviews"), "reviews-state");
  ::setenv("SENTIFLOW_STATE_TABLE", "my-state", 1);
  EXPECT_EQ(DynamoDbRunState::table_name_for("reviews"), "my-state");
  ::unsetenv("SENTIFLOW_STATE_TABLE");
}

// The items are those docs/RUNNING.md ("Run state on DynamoDB") and the header document.
TEST_F(DynamoDbRunStateTest, TheItemsAreAsDocumented) {
  const std::string table = fresh_table_name();
  DynamoDbRunState state(client_, {.table = table, .create_if_missing = true});
  state.start_run("2026-01-01T10:00:00Z", RunKind::scheduled, at_ms(1'767'261'600'000));
  RunCounts c;
  c.sent = 3;
  c.labels = {{"POSITIVE", 2}};
  state.add_counts("2026-01-01T10:00:00Z", c);
  ASSERT_TRUE(state.acquire_producer_lease("2026-01-01T10:00:00Z", "lambda-1", at_ms(1), at_ms(90'000)));
  state.save_checkpoint("2026-01-01T10:00:00Z", ScanCheckpoint{3, 4, "tok", false, 5, 3}, "lambda-1");
  state.record_timeline("2026-01-01T10:00:00Z", TimelinePoint{at_s(1'767'261'601), R"({"sent":3})"});
  state.set_last_tick(at_s(1'767'261'600));
  state.add_skipped_tick();

  const json run = item(table, "run#2026-01-01T10:00:00Z", "run");
  EXPECT_EQ(run["id"]["S"], "2026-01-01T10:00:00Z");
  EXPECT_EQ(run["kind"]["S"], "scheduled");
  EXPECT_EQ(run["phase"]["S"], "producing");
  EXPECT_EQ(run["attempt"]["N"], "1");
  EXPECT_EQ(run["started_at"]["N"], "1767261600000");
  EXPECT_EQ(run["sent"]["N"], "3");
  EXPECT_EQ(run["labels"]["M"]["POSITIVE"]["N"], "2");
  EXPECT_FALSE(run.contains("finished_at"));
  const json lease = item(table, "run#2026-01-01T10:00:00Z", "lease");
  EXPECT_EQ(lease["owner"]["S"], "lambda-1");
  EXPECT_EQ(lease["until"]["N"], "90000");
  const json checkpoint = item(table, "run#2026-01-01T10:00:00Z", "checkpoint#000003");
  EXPECT_EQ(checkpoint["token"]["S"], "tok");
  EXPECT_EQ(checkpoint["total_segments"]["N"], "4");
  EXPECT_EQ(checkpoint["done"]["BOOL"], false);
  const json point = item(table, "run#2026-01-01T10:00:00Z", "timeline#001767261601");
  EXPECT_EQ(point["json"]["S"], R"({"sent":3})");
  const json scheduler = item(table, "scheduler", "scheduler");
  EXPECT_EQ(scheduler["last_tick"]["N"], "1767261600");
  EXPECT_EQ(scheduler["skipped_ticks"]["N"], "1");

  const json described = call("DescribeTable", {{"TableName", table}}).at("Table");
  EXPECT_EQ(described["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
  state.drop();
}

TEST_F(DynamoDbRunStateTest, AMissingTableIsNotFoundUnlessCreated) {
  std::string message;
  EXPECT_EQ(error_of([&] { DynamoDbRunState state(client_, {.table = "no-such-state"}); }, &message),
            ErrorCode::not_found);
  EXPECT_NE(message.find("no-such-state"), std::string::npos) << message;
}

TEST_F(DynamoDbRunStateTest, ATableOfAnotherKeySchemaIsInvalidInput) {
  const std::string table = fresh_table_name();
  DynamoDbTable theirs(client_, {.name = table, .key_schema = KeySchema{"id"}, .create_if_missing = true});
  EXPECT_EQ(error_of([&] { DynamoDbRunState state(client_, {.table = table}); }), ErrorCode::invalid_input);
  theirs.drop();
}

}  // namespace
}  // namespace sentiflow
