// `sentiflow event …` and `sentiflow invoke …` as users run them, on a local pipeline: the
// events' shapes, the handlers' answers, exit statuses and what lands in the state and the sink.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "core/digest.h"
#include "support/aws_env.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace sentiflow {
namespace {

using testing_support::run_sentiflow;
using testing_support::TempDir;

std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

TEST(EventCli, ScheduleWritesAnEventBridgeRuleEventOrASchedulerInput) {
  const auto rule = run_sentiflow("event schedule --time 2026-11-26T06:00:00Z");
  ASSERT_EQ(rule.status, 0) << rule.err;
  const auto event = nlohmann::json::parse(rule.out);
  EXPECT_EQ(event["time"], "2026-11-26T06:00:00Z");
  EXPECT_EQ(event["detail-type"], "Scheduled Event");
  EXPECT_EQ(event["source"], "aws.events");
  EXPECT_EQ(event["version"], "0");
  EXPECT_TRUE(event["resources"].is_array());
  EXPECT_TRUE(event["detail"].is_object());

  const auto scheduler = run_sentiflow("event schedule --time 2026-11-26T06:00:00 --scheduler");
  ASSERT_EQ(scheduler.status, 0) << scheduler.err;
  EXPECT_EQ(nlohmann::json::parse(scheduler.out), nlohmann::json::parse(R"({"time":"2026-11-26T06:00:00Z"})"));

  const auto now = nlohmann::json::parse(run_sentiflow("event schedule --scheduler").out);
  EXPECT_TRUE(now["time"].get<std::string>().ends_with(":00Z")) << now;  // the current minute

  const auto bad = run_sentiflow("event schedule --time tomorrow");
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(bad.out.empty());
}

TEST(EventCli, SqsWritesOneRecordPerBodyInLambdasShape) {
  TempDir dir("event-cli");
  std::ofstream(dir.path() / "bodies.jsonl") << "{\"a\":1}\n\n{\"b\":2}\r\n";
  const auto out =
      run_sentiflow("event sqs --body 'first' --body 'second' --file " + quoted(dir.path() / "bodies.jsonl") +
                    " --queue-arn arn:aws:sqs:eu-west-1:123456789012:q");
  ASSERT_EQ(out.status, 0) << out.err;
  const auto event = nlohmann::json::parse(out.out);
  ASSERT_EQ(event["Records"].size(), 4u);
  std::vector<std::string> bodies;
  std::set<std::string> ids;
  for (const auto& r : event["Records"]) {
    bodies.push_back(r["body"]);
    ids.insert(r["messageId"].get<std::string>());
    EXPECT_EQ(r["eventSource"], "aws:sqs");
    EXPECT_EQ(r["eventSourceARN"], "arn:aws:sqs:eu-west-1:123456789012:q");
    EXPECT_EQ(r["awsRegion"], "eu-west-1");
    EXPECT_EQ(r["md5OfBody"], md5_hex(r["body"].get<std::string>()));
    EXPECT_EQ(r["attributes"]["ApproximateReceiveCount"], "1");
    EXPECT_FALSE(r["receiptHandle"].get<std::string>().empty());
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"first", "second", "{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(ids.size(), 4u);

  EXPECT_EQ(run_sentiflow("event sqs").status, 2);
  EXPECT_EQ(run_sentiflow("event sqs --body x --queue-arn not-an-arn").status, 2);
  EXPECT_EQ(run_sentiflow("event sqs --file /nonexistent/bodies.jsonl").status, 2);
  EXPECT_EQ(run_sentiflow("event").status, 2);
}

// A local pipeline with a table of items, and `invoke` run against it.
class InvokeCli : public ::testing::Test {
 protected:
  void SetUp() override {
    testing_support::hide_aws_settings();
    ::unsetenv("SENTIFLOW_STATE_TABLE");
    ::unsetenv("AWS_LAMBDA_FUNCTION_NAME");
    std::ofstream(dir_.path() / "pipeline.yaml") << R"(name: invoke-cli
state_dir: state
source: {table: local://items, key: name, text: text, page_size: 4}
queue: {url: local://q, visibility_timeout: 60s}
sink: {store: out/}
)";
    std::string items;
    for (int i = 0; i < 9; ++i)
      items += fmt::format(R"({{"name":"c{}","text":"a lovely company"}})"
                           "\n",
                           i);
    items += R"({"name":"mute"})"
             "\n";
    std::ofstream(dir_.path() / "items.jsonl") << items;
    const auto imported =
        run_sentiflow("table import --pipeline " + file() + " " + quoted(dir_.path() / "items.jsonl"));
    ASSERT_EQ(imported.status, 0) << imported.err;
  }

  std::string file() const { return quoted(dir_.path() / "pipeline.yaml"); }
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_.path() / name) << text;
    return dir_.path() / name;
  }

  TempDir dir_{"invoke-cli"};
};

TEST_F(InvokeCli, TheProducerFillsTheQueueOnceForATick) {
  const auto tick = write("tick.json", run_sentiflow("event schedule --time 2026-11-26T06:00:00Z").out);
  const auto first = run_sentiflow("invoke producer --event " + quoted(tick) + " --pipeline " + file());
  ASSERT_EQ(first.status, 0) << first.err;
  const auto answer = nlohmann::json::parse(first.out);
  EXPECT_EQ(answer["run"], "2026-11-26T06:00:00Z");
  EXPECT_EQ(answer["status"], "produced");
  EXPECT_EQ(answer["scanned"], 10);
  EXPECT_EQ(answer["sent"], 9);
  EXPECT_EQ(answer["error_records"], 1);

  const auto again = run_sentiflow("invoke producer --event " + quoted(tick) + " --pipeline " + file());
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["status"], "duplicate");

  const auto status = run_sentiflow("status " + file() + " --json");
  ASSERT_EQ(status.status, 0) << status.err;
  const auto s = nlohmann::json::parse(status.out);
  EXPECT_EQ(s["queue"]["counts"]["visible"], 9);  // not 18
  EXPECT_EQ(s["runs"][0]["id"], "2026-11-26T06:00:00Z");
  EXPECT_EQ(s["runs"][0]["state"], "draining");
}

TEST_F(InvokeCli, TheConsumerAnswersWithThePoisonRecordsAndStoresTheRest) {
  const auto batch =
      write("batch.json",
            run_sentiflow(
                R"(event sqs --body '{"v":1,"run":"r1","key":"k1","item":{"name":"k1","text":"great"}}' --body 'oops')")
                .out);
  const auto out = run_sentiflow("invoke consumer --event " + quoted(batch) + " --pipeline " + file());
  ASSERT_EQ(out.status, 0) << out.err;
  const auto event = nlohmann::json::parse(testing_support::read_whole_file(batch));
  const auto answer = nlohmann::json::parse(out.out);
  ASSERT_EQ(answer["batchItemFailures"].size(), 1u);
  EXPECT_EQ(answer["batchItemFailures"][0]["itemIdentifier"], event["Records"][1]["messageId"]);
  const auto results = run_sentiflow("results " + file() + " --run r1");
  ASSERT_EQ(results.status, 0) << results.err;
  EXPECT_NE(results.out.find(R"("key":"k1")"), std::string::npos) << results.out;
}

TEST_F(InvokeCli, AFailedHandlerPrintsLambdasErrorDocument) {
  const auto bad = write("bad.json", R"({"detail-type":"Scheduled Event"})");
  const auto out = run_sentiflow("invoke producer --event " + quoted(bad) + " --pipeline " + file());
  EXPECT_EQ(out.status, 2);  // the event is the user's to fix
  const auto error = nlohmann::json::parse(out.out);
  EXPECT_EQ(error["errorType"], "Sentiflow.InvalidInput");
  EXPECT_TRUE(error["stackTrace"].is_array());
  EXPECT_NE(error["errorMessage"].get<std::string>().find("EventBridge"), std::string::npos);

  const auto not_sqs = write("not_sqs.json", R"({"Records": 5})");
  EXPECT_EQ(run_sentiflow("invoke consumer --event " + quoted(not_sqs) + " --pipeline " + file()).status, 2);

  // A record with a member of the wrong type is the event's fault too: before, the JSON
  // library's exception made it Runtime.UnknownReason and exit status 1 (issue 14, fault 9).
  const auto wrong_type =
      write("wrong_type.json",
            R"({"Records":[{"messageId":"m","receiptHandle":"r","body":"b","attributes":{"SenderId":5}}]})");
  const auto typed = run_sentiflow("invoke consumer --event " + quoted(wrong_type) + " --pipeline " + file());
  EXPECT_EQ(typed.status, 2) << typed.out << typed.err;
  EXPECT_NE(typed.out.find("Sentiflow.InvalidInput"), std::string::npos) << typed.out;
}

TEST_F(InvokeCli, BadUsageIsStatusTwo) {
  EXPECT_EQ(run_sentiflow("invoke transformer --event x --pipeline " + file()).status, 2);
  EXPECT_EQ(run_sentiflow("invoke consumer --pipeline " + file()).status, 2);
  const auto missing = run_sentiflow("invoke consumer --event /nonexistent/e.json --pipeline " + file());
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("/nonexistent/e.json"), std::string::npos);
}

TEST_F(InvokeCli, ThePipelineIsSentiflowPipelineElsePipelineYamlHere) {
  const auto tick = write("tick.json", R"({"time":"2026-11-26T07:00:00Z"})");
  const auto here = run_sentiflow("invoke producer --event " + quoted(tick), {.cwd = dir_.path()});
  ASSERT_EQ(here.status, 0) << here.err;
  EXPECT_EQ(nlohmann::json::parse(here.out)["status"], "produced");
  ::setenv("SENTIFLOW_PIPELINE", (dir_.path() / "pipeline.yaml").c_str(), 1);
  const auto named = run_sentiflow("invoke producer --event " + quoted(tick));  // from the test's folder
  ::unsetenv("SENTIFLOW_PIPELINE");
  ASSERT_EQ(named.status, 0) << named.err;
  EXPECT_EQ(nlohmann::json::parse(named.out)["status"], "duplicate");  // the same run, the same state
}

TEST(LambdaBootstrapCli, WithTheRuntimeApiSetACommandLineStillRunsAsACommand) {
  // Only no argument, or one naming a handler, enters the runtime loop.
  const auto out = run_sentiflow("event schedule --scheduler --time 2026-11-26T06:00:00Z");
  ::setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1", 1);
  const auto with_api = run_sentiflow("event schedule --scheduler --time 2026-11-26T06:00:00Z");
  ::unsetenv("AWS_LAMBDA_RUNTIME_API");
  EXPECT_EQ(with_api.status, 0) << with_api.err;
  EXPECT_EQ(with_api.out, out.out);
}

}  // namespace
}  // namespace sentiflow
