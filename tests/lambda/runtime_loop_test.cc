// The Lambda Runtime API loop against our strict Runtime API server (tests/support/
// runtime_api_server.h): in process with handlers of the test's own, and the sentiflow binary as
// Lambda runs it (a child with AWS_LAMBDA_RUNTIME_API set) on a local pipeline.
#include "lambda/runtime_loop.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <set>
#include <tuple>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "observe/log.h"
#include "pipeline/consumer.h"
#include "pipeline/message.h"
#include "support/poll.h"
#include "support/runtime_api_server.h"
#include "support/spawned.h"
#include "support/spawned.h"
#include "support/temp_dir.h"

namespace sentiflow::lambda {
namespace {

using testing_support::RuntimeApiServer;
using testing_support::Spawned;
using testing_support::TempDir;

int64_t unix_ms(Millis t) { return t.time_since_epoch().count(); }

// The loop in a thread of the test; joined (after the server stops) by the destructor.
class InProcessRuntime {
 public:
  InProcessRuntime(RuntimeApiServer& api, std::function<LambdaFunction()> init, Metrics& metrics) : api_(api) {
    options_.api = api.address();
    options_.metrics_out = &metrics_out_;
    options_.metrics = &metrics;
    thread_ = std::thread([this, init = std::move(init)] { status_ = run_lambda_runtime(options_, init); });
  }
  ~InProcessRuntime() { finish(); }
  // Stops the server; the loop ends when `next` finds it gone. Returns the loop's status.
  int finish() {
    api_.stop();
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  std::string metrics_lines() const { return metrics_out_.str(); }

 private:
  RuntimeApiServer& api_;
  LambdaRuntimeOptions options_;
  std::ostringstream metrics_out_;
  std::thread thread_;
  int status_ = -1;
};

LambdaFunction echo_function(std::function<std::string(std::string_view, const InvocationContext&)> handler) {
  return LambdaFunction{"consumer", "test-pipeline", std::move(handler)};
}

TEST(LambdaRuntime, PostsTheHandlersAnswerWithTheContextOfTheEvent) {
  RuntimeApiServer api;
  Metrics metrics;
  const Millis deadline = now_millis() + std::chrono::seconds(42);
  api.add_event({.body = R"({"n":1})",
                 .request_id = "r-1",
                 .deadline_ms = unix_ms(deadline),
                 .function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"});
  InProcessRuntime runtime(
      api,
      [] {
        return echo_function([](std::string_view event, const InvocationContext& c) {
          return nlohmann::json{{"event", nlohmann::json::parse(event)},
                                {"id", c.request_id},
                                {"deadline", c.deadline.time_since_epoch().count()},
                                {"arn", c.function_arn}}
              .dump();
        });
      },
      metrics);
  ASSERT_TRUE(api.wait_for_outcomes(1));
  EXPECT_EQ(runtime.finish(), 1);  // the loop ends only when the API is gone
  const auto answer = nlohmann::json::parse(api.response_to("r-1").value());
  EXPECT_EQ(answer["event"]["n"], 1);
  EXPECT_EQ(answer["id"], "r-1");
  EXPECT_EQ(answer["deadline"], unix_ms(deadline));
  EXPECT_EQ(answer["arn"], "arn:aws:lambda:eu-west-1:123456789012:function:f");
  EXPECT_TRUE(api.errors().empty());
  EXPECT_TRUE(api.violations().empty()) << api.violations()[0];
}

TEST(LambdaRuntime, AFailingInvocationIsReportedAndTheProcessGoesOn) {
  RuntimeApiServer api;
  Metrics metrics;
  api.add_event({.body = "bad", .request_id = "r-error"});
  api.add_event({.body = "std", .request_id = "r-std"});
  api.add_event({.body = "ok", .request_id = "r-ok"});
  InProcessRuntime runtime(
      api,
      [] {
        return echo_function([](std::string_view event, const InvocationContext&) -> std::string {
          if (event == "bad") throw invalid_input("the event is \"bad\"");
          if (event == "std") throw std::runtime_error("out of range");
          return R"({"fine":true})";
        });
      },
      metrics);
  ASSERT_TRUE(api.wait_for_outcomes(3));
  runtime.finish();
  const auto errors = api.errors();
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].request_id, "r-error");
  EXPECT_EQ(errors[0].error_type_header, "Sentiflow.InvalidInput");
  EXPECT_EQ(errors[0].document,
            nlohmann::json::parse(
                R"({"errorMessage":"the event is \"bad\"","errorType":"Sentiflow.InvalidInput","stackTrace":[]})"));
  EXPECT_EQ(errors[1].request_id, "r-std");
  EXPECT_EQ(errors[1].document["errorType"], "Runtime.UnknownReason");
  EXPECT_EQ(errors[1].document["errorMessage"], "out of range");
  EXPECT_EQ(api.response_to("r-ok"), R"({"fine":true})");
  EXPECT_TRUE(api.violations().empty()) << api.violations()[0];
}

TEST(LambdaRuntime, AnInitialisationFailureGoesToInitErrorBeforeAnyNext) {
  RuntimeApiServer api;
  Metrics metrics;
  api.add_event({});
  InProcessRuntime runtime(
      api, []() -> LambdaFunction { throw Error(ErrorCode::not_found, "no table t"); }, metrics);
  ASSERT_TRUE(api.wait_for_init_error());
  EXPECT_EQ(runtime.finish(), 1);
  const auto init = api.init_error().value();
  EXPECT_EQ(init.error_type_header, "Sentiflow.NotFound");
  EXPECT_EQ(init.document["errorMessage"], "no table t");
  EXPECT_EQ(api.next_calls(), 0u);
  EXPECT_TRUE(api.violations().empty()) << api.violations()[0];
}

TEST(LambdaRuntime, ExportsTheTraceIdPerInvocationAndUnsetsItWhenAbsent) {
  RuntimeApiServer api;
  Metrics metrics;
  ::setenv("_X_AMZN_TRACE_ID", "left over", 1);
  api.add_event({.request_id = "traced",
                 .trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"});
  api.add_event({.request_id = "untraced"});
  InProcessRuntime runtime(
      api,
      [] {
        return echo_function([](std::string_view, const InvocationContext& c) {
          const char* exported = std::getenv("_X_AMZN_TRACE_ID");
          return nlohmann::json{{"env", exported ? nlohmann::json(exported) : nlohmann::json(nullptr)},
                                {"context", c.trace_id}}
              .dump();
        });
      },
      metrics);
  ASSERT_TRUE(api.wait_for_outcomes(2));
  runtime.finish();
  const auto traced = nlohmann::json::parse(api.response_to("traced").value());
  EXPECT_EQ(traced["env"], "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1");
  EXPECT_EQ(traced["context"], traced["env"]);
  const auto untraced = nlohmann::json::parse(api.response_to("untraced").value());
  EXPECT_TRUE(untraced["env"].is_null());
  EXPECT_EQ(untraced["context"], "");
}

// EMF as CloudWatch reads it: clean metric names, labels as dimensions — one line per label set
// of what changed. Before, a series' labels were inside its name
// (`sentiflow_records_processed_total{label=POSITIVE}`), which CloudWatch takes as the metric's
// whole name (issue 14, fault 8).
TEST(LambdaRuntime, PrintsEmbeddedMetricFormatLinesWithLabelsAsDimensions) {
  RuntimeApiServer api;
  Metrics metrics;
  Counter& positive = metrics.counter("sentiflow_records_processed_total", "h", {{"label", "POSITIVE"}});
  Counter& negative = metrics.counter("sentiflow_records_processed_total", "h", {{"label", "NEGATIVE"}});
  Histogram& seconds = metrics.histogram("sentiflow_batch_seconds", "h");
  positive.add(100);  // before initialisation: not part of any invocation
  api.add_event({.body = "3"});
  api.add_event({.body = "0"});
  api.add_event({.body = "2"});
  InProcessRuntime runtime(
      api,
      [&] {
        return echo_function([&](std::string_view event, const InvocationContext&) {
          const int n = std::stoi(std::string(event));
          if (n > 0) {
            positive.add(n);
            seconds.observe(0.25);
          }
          if (n == 3) negative.add(1);
          return std::string("{}");
        });
      },
      metrics);
  ASSERT_TRUE(api.wait_for_outcomes(3));
  const std::string text = runtime.metrics_lines();
  runtime.finish();
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  // The first invocation: its histogram (no labels), and one line each for label=NEGATIVE and
  // label=POSITIVE; the second changed nothing; the third: the histogram and POSITIVE.
  ASSERT_EQ(lines.size(), 5u) << text;
  const auto declared = [](const nlohmann::json& line) {
    std::set<std::string> names;
    for (const auto& m : line["_aws"]["CloudWatchMetrics"][0]["Metrics"]) {
      names.insert(m["Name"].get<std::string>());
      EXPECT_EQ(m["Unit"], m["Name"] == "sentiflow_batch_seconds_sum" ? "Seconds" : "Count");
    }
    return names;
  };
  for (const auto& line : lines) {
    const auto& directive = line["_aws"]["CloudWatchMetrics"][0];
    EXPECT_EQ(directive["Namespace"], "sentiflow");
    EXPECT_TRUE(line["_aws"]["Timestamp"].is_number_integer());
    EXPECT_EQ(line["function"], "consumer");
    EXPECT_EQ(line["pipeline"], "test-pipeline");
    for (const auto& name : declared(line)) EXPECT_EQ(name.find('{'), std::string::npos) << name;
    for (const auto& dimension : directive["Dimensions"][0]) EXPECT_TRUE(line.contains(dimension)) << dimension;
  }
  const auto& plain = lines[0];
  EXPECT_EQ(plain["_aws"]["CloudWatchMetrics"][0]["Dimensions"], nlohmann::json::parse(R"([["function","pipeline"]])"));
  EXPECT_EQ(declared(plain), (std::set<std::string>{"sentiflow_batch_seconds_sum", "sentiflow_batch_seconds_count"}));
  EXPECT_EQ(plain["sentiflow_batch_seconds_sum"], 0.25);
  EXPECT_EQ(plain["sentiflow_batch_seconds_count"], 1);
  for (const auto& [index, label, value] : {std::tuple{1, "NEGATIVE", 1}, std::tuple{2, "POSITIVE", 3}}) {
    const auto& line = lines[static_cast<size_t>(index)];
    EXPECT_EQ(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
              nlohmann::json::parse(R"([["function","pipeline","label"]])"));
    EXPECT_EQ(line["label"], label);
    EXPECT_EQ(declared(line), std::set<std::string>{"sentiflow_records_processed_total"});
    EXPECT_EQ(line["sentiflow_records_processed_total"], value);
  }
  EXPECT_EQ(lines[4]["label"], "POSITIVE");
  EXPECT_EQ(lines[4]["sentiflow_records_processed_total"], 2);  // the increase, not the total
}

TEST(LambdaLogLines, AreJsonWithTimestampUpperCaseLevelRequestIdAndMessage) {
  const auto line = log::render(log::Format::lambda, log::Level::warn, "2026-11-26T06:00:00.123Z", "slow batch",
                                {{"ms", 1200}, {"message", "forged"}, {"requestId", "forged"}}, "8476a536");
  EXPECT_EQ(
      line,
      R"({"timestamp":"2026-11-26T06:00:00.123Z","level":"WARN","requestId":"8476a536","message":"slow batch","ms":1200})");
  EXPECT_EQ(nlohmann::json::parse(log::render(log::Format::lambda, log::Level::debug, "T", "m", {}, ""))["level"],
            "DEBUG");
}

// ---------------------------------------------------------------------------------------------
// The binary, as Lambda runs it.

// A pipeline on local backends, its run state local (SENTIFLOW_RUN_STATE=local): what the
// binary needs to run the consumer handler without AWS.
struct LocalLambda {
  TempDir dir{"lambda-runtime"};
  std::map<std::string, std::string> env;

  explicit LocalLambda(const std::string& handler) {
    std::ofstream(dir.path() / "pipeline.yaml") << R"(name: lambda-local
state_dir: state
source: {table: local://items, key: name, text: text}
queue: {url: local://q, visibility_timeout: 60s}
sink: {store: out/}
)";
    std::filesystem::create_directories(dir.path() / "out");
    env = {{"AWS_LAMBDA_RUNTIME_API", ""},
           {"_HANDLER", handler},
           {"LAMBDA_TASK_ROOT", dir.path().string()},
           {"SENTIFLOW_RUN_STATE", "local"},
           {"AWS_LAMBDA_FUNCTION_NAME", "lambda-local-" + handler}};
  }
};

std::string sqs_event(const std::vector<std::string>& bodies, int first_id = 0) {
  pipeline::SqsEvent event;
  for (size_t i = 0; i < bodies.size(); ++i) {
    pipeline::SqsEventRecord r;
    r.message_id = fmt::format("m-{}", first_id + static_cast<int>(i));
    r.receipt_handle = "rh-" + r.message_id;
    r.body = bodies[i];
    r.receive_count = 1;
    r.sent_at = now_millis();
    r.first_received_at = r.sent_at;
    r.event_source_arn = "arn:aws:sqs:local:000000000000:q";
    r.aws_region = "local";
    event.records.push_back(std::move(r));
  }
  return pipeline::to_json(event);
}

std::string message(const std::string& key, const std::string& text) {
  return pipeline::encode_message("2026-11-26T06:00:00Z", key, nlohmann::json{{"name", key}, {"text", text}}.dump());
}

std::set<std::string> failures_of(const std::string& answer) {
  std::set<std::string> ids;
  const auto parsed = nlohmann::json::parse(answer);
  for (const auto& f : parsed.at("batchItemFailures")) ids.insert(f.at("itemIdentifier").get<std::string>());
  return ids;
}

TEST(LambdaRuntimeBinary, ManyWarmInvocationsInOneProcess) {
  RuntimeApiServer api;
  LocalLambda lambda("consumer");
  lambda.env["AWS_LAMBDA_RUNTIME_API"] = api.address();
  constexpr int kInvocations = 40;
  for (int i = 0; i < kInvocations; ++i)
    api.add_event({.body = sqs_event({message(fmt::format("k{}", i), "a wonderful, happy day"), "not json"}, 2 * i),
                   .request_id = fmt::format("warm-{}", i)});
  Spawned child(SENTIFLOW_BINARY, {}, {.env = lambda.env});
  ASSERT_TRUE(api.wait_for_outcomes(kInvocations)) << child.err();
  EXPECT_TRUE(child.running());  // one process served them all
  for (int i = 0; i < kInvocations; ++i) {
    const auto answer = api.response_to(fmt::format("warm-{}", i));
    ASSERT_TRUE(answer) << i << child.err();
    // The poison record, and only it, is a failure.
    EXPECT_EQ(failures_of(*answer), (std::set<std::string>{fmt::format("m-{}", 2 * i + 1)})) << *answer;
  }
  EXPECT_TRUE(api.errors().empty());
  EXPECT_TRUE(api.violations().empty()) << api.violations()[0];
  api.stop();
  EXPECT_EQ(child.wait_exit(), 1);  // the API went away

  // The results are stored: one object per invocation under the run's folder.
  size_t objects = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(lambda.dir.path() / "out"))
    if (entry.is_regular_file() && entry.path().string().find("run=2026-11-26T06:00:00Z") != std::string::npos &&
        entry.path().string().find("_errors") == std::string::npos)
      ++objects;
  EXPECT_EQ(objects, static_cast<size_t>(kInvocations));
  // Logs: JSON lines with the request id; metrics: EMF lines on stdout.
  const std::string err = child.err();
  EXPECT_NE(err.find(R"("requestId":"warm-7")"), std::string::npos) << err.substr(0, 2000);
  std::istringstream log_lines(err);
  for (std::string line; std::getline(log_lines, line);) {
    const auto parsed = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    EXPECT_TRUE(parsed.contains("timestamp") && parsed.contains("level") && parsed.contains("requestId") &&
                parsed.contains("message"))
        << line;
  }
  const std::string out = child.out();
  EXPECT_NE(out.find(R"("Namespace":"sentiflow")"), std::string::npos) << out.substr(0, 2000);
  EXPECT_NE(out.find(R"("function":"consumer","pipeline":"lambda-local")"), std::string::npos) << out.substr(0, 2000);
}

TEST(LambdaRuntimeBinary, AnUnknownHandlerIsAnInitError) {
  RuntimeApiServer api;
  LocalLambda lambda("transformer");
  lambda.env["AWS_LAMBDA_RUNTIME_API"] = api.address();
  api.add_event({});
  Spawned child(SENTIFLOW_BINARY, {}, {.env = lambda.env});
  ASSERT_TRUE(api.wait_for_init_error()) << child.err();
  const auto exit = child.wait_exit();
  ASSERT_TRUE(exit.has_value());
  EXPECT_NE(*exit, 0);
  const auto init = api.init_error().value();
  EXPECT_EQ(init.error_type_header, "Sentiflow.InvalidInput");
  EXPECT_NE(init.document["errorMessage"].get<std::string>().find("producer and consumer"), std::string::npos);
  EXPECT_EQ(api.next_calls(), 0u);
  EXPECT_TRUE(api.violations().empty()) << api.violations()[0];
}

TEST(LambdaRuntimeBinary, ABadPipelineFileIsAnInitError) {
  RuntimeApiServer api;
  LocalLambda lambda("consumer");
  std::ofstream(lambda.dir.path() / "pipeline.yaml") << "name: broken\nqueue: {visibility_timeout: forever}\n";
  lambda.env["AWS_LAMBDA_RUNTIME_API"] = api.address();
  Spawned child(SENTIFLOW_BINARY, {}, {.env = lambda.env});
  ASSERT_TRUE(api.wait_for_init_error()) << child.err();
  EXPECT_NE(child.wait_exit().value_or(0), 0);
  const auto init = api.init_error().value();
  EXPECT_EQ(init.document["errorType"], "Sentiflow.InvalidInput");
  EXPECT_NE(init.document["errorMessage"].get<std::string>().find("pipeline.yaml"), std::string::npos)
      << init.document.dump();
}

TEST(LambdaRuntimeBinary, TheHandlerMayComeAsTheBootstrapsArgument) {
  RuntimeApiServer api;
  LocalLambda lambda("producer");  // _HANDLER says producer; the argument wins
  lambda.env["AWS_LAMBDA_RUNTIME_API"] = api.address();
  api.add_event({.body = sqs_event({message("k", "nice")}), .request_id = "arg"});
  Spawned child(SENTIFLOW_BINARY, {"consumer"}, {.env = lambda.env});
  ASSERT_TRUE(api.wait_for_outcomes(1)) << child.err();
  EXPECT_EQ(failures_of(api.response_to("arg").value()), std::set<std::string>{});
}

// A function's environment may name a proxy for its own outbound calls; the Runtime API, on the
// sandbox's host, must still be reached directly or the function never gets an event.
TEST(LambdaRuntimeBinary, TheRuntimeApiIsReachedWhateverTheProxyVariablesSay) {
  RuntimeApiServer api;
  LocalLambda lambda("consumer");
  lambda.env["AWS_LAMBDA_RUNTIME_API"] = api.address();
  // Port 1 on the loopback: nothing listens there, so a request sent to this proxy fails.
  for (const char* name : {"http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"})
    lambda.env[name] = "http://127.0.0.1:1";
  api.add_event({.body = sqs_event({message("p", "good")}), .request_id = "proxied"});
  Spawned child(SENTIFLOW_BINARY, {}, {.env = lambda.env, .unset = {"no_proxy", "NO_PROXY"}});
  ASSERT_TRUE(api.wait_for_outcomes(1)) << child.err();
  EXPECT_EQ(failures_of(api.response_to("proxied").value()), std::set<std::string>{});
}

TEST(LambdaRuntimeBinary, RecordsPastTheDeadlineMarginAreHandedBack) {
  RuntimeApiServer api;
  LocalLambda lambda("consumer");
  lambda.env["AWS_LAMBDA_RUNTIME_API"] = api.address();
  // An invocation that arrives with its deadline already inside the margin takes no record.
  api.add_event({.body = sqs_event({message("a", "good"), message("b", "bad")}),
                 .request_id = "late",
                 .deadline_ms = unix_ms(now_millis() - std::chrono::milliseconds(1))});
  api.add_event({.body = sqs_event({message("c", "good")}, 10), .request_id = "on-time"});
  Spawned child(SENTIFLOW_BINARY, {}, {.env = lambda.env});
  ASSERT_TRUE(api.wait_for_outcomes(2)) << child.err();
  EXPECT_EQ(failures_of(api.response_to("late").value()), (std::set<std::string>{"m-0", "m-1"}));
  EXPECT_EQ(failures_of(api.response_to("on-time").value()), std::set<std::string>{});
  EXPECT_NE(child.err().find("handing records back"), std::string::npos);
}

TEST(LambdaRuntimeBinary, TheTraceIdIsLoggedWithTheInvocation) {
  // The binary's handlers do not echo their environment (the in-process test above checks the
  // export); what the binary shows is its log: the trace id beside the request id.
  RuntimeApiServer api;
  LocalLambda lambda("consumer");
  lambda.env["AWS_LAMBDA_RUNTIME_API"] = api.address();
  lambda.env["SENTIFLOW_LOG_LEVEL"] = "debug";
  api.add_event(
      {.body = sqs_event({message("t", "good")}), .request_id = "traced", .trace_id = "Root=1-abc;Sampled=1"});
  Spawned child(SENTIFLOW_BINARY, {}, {.env = lambda.env});
  ASSERT_TRUE(api.wait_for_outcomes(1)) << child.err();
  bool logged = false;
  std::istringstream lines(child.err());
  for (std::string line; std::getline(lines, line);) {
    const auto parsed = nlohmann::json::parse(line, nullptr, false);
    logged = logged || (parsed.value("message", "") == "invocation" && parsed.value("requestId", "") == "traced" &&
                        parsed.value("traceId", "") == "Root=1-abc;Sampled=1");
  }
  EXPECT_TRUE(logged) << child.err();
}

}  // namespace
}  // namespace sentiflow::lambda
