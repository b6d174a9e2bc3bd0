// `sentiflow template`: the rendered AWS SAM template, read back with a YAML parser and checked
// resource by resource against the pipeline file; and deploy/template.yaml is what the command
// renders from examples/aws.yaml, so the checked-in template cannot drift.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/aws_env.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using sentiflow::testing_support::Outcome;
using sentiflow::testing_support::read_whole_file;
using sentiflow::testing_support::run_sentiflow;
using sentiflow::testing_support::TempDir;

const std::string kSource = SENTIFLOW_SOURCE_DIR;

class TemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sentiflow::testing_support::hide_aws_settings();
    ::unsetenv("RESULTS_BUCKET");  // examples/aws.yaml's bucket: its default in the checked-in template
  }

  // A pipeline file on AWS URIs; `extra` replaces or adds top-level sections.
  fs::path write_pipeline(const std::string& body) {
    const fs::path file = dir_.path() / ("p" + std::to_string(count_++) + ".yaml");
    std::ofstream(file) << body;
    return file;
  }

  static std::string aws_pipeline(const std::string& schedule_line, const std::string& queue_extra = "",
                                  const std::string& tail = "") {
    return "name: shop\n" + schedule_line +
           "source: {table: dynamodb://items, key: id, text: review}\n"
           "queue:\n  url: sqs://shop-work\n  visibility_timeout: 2m\n  max_receive_count: 3\n" +
           queue_extra +
           "consumer: {batch_size: 10, concurrency: {min: 0, max: 1}}\n"
           "sink: {store: 's3://shop-results/out/'}\n" +
           tail;
  }

  YAML::Node render(const fs::path& file, Outcome* outcome = nullptr) {
    const Outcome r = run_sentiflow("template '" + file.string() + "'");
    if (outcome) *outcome = r;
    EXPECT_EQ(r.status, 0) << r.err;
    if (r.status != 0) return {};
    return YAML::Load(r.out);
  }

  TempDir dir_{"template"};
  int count_ = 0;
};

std::vector<std::string> strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item.as<std::string>());
  return out;
}

// The statements of a role's one inline policy.
YAML::Node statements(const YAML::Node& resources, const std::string& role) {
  const YAML::Node policies = resources[role]["Properties"]["Policies"];
  EXPECT_EQ(policies.size(), 1u) << role;
  return policies[0]["PolicyDocument"]["Statement"];
}

// The statement of `role` whose Resource is `tag value` ("!GetAtt Queue.Arn"), or an undefined node.
YAML::Node statement_on(const YAML::Node& resources, const std::string& role, const std::string& tag,
                        const std::string& value) {
  for (const auto& s : statements(resources, role))
    if (s["Resource"].Tag() == tag && s["Resource"].as<std::string>() == value) return s;
  return YAML::Node(YAML::NodeType::Undefined);
}

std::set<std::string> actions_on(const YAML::Node& resources, const std::string& role, const std::string& tag,
                                 const std::string& value) {
  const YAML::Node s = statement_on(resources, role, tag, value);
  if (!s) return {};
  EXPECT_EQ(s["Effect"].as<std::string>(), "Allow");
  const auto list = strings(s["Action"]);
  return {list.begin(), list.end()};
}

std::set<std::string> all_actions(const YAML::Node& resources, const std::string& role) {
  std::set<std::string> out;
  for (const auto& s : statements(resources, role))
    for (const auto& a : strings(s["Action"])) out.insert(a);
  return out;
}

// The body of each function defined in `source` whose definition line matches `definition`
// (group 1: its name): from that line to the first line equal to `end`, or that line alone when
// it ends in "}" (a one-line definition). Overloads share one entry.
std::map<std::string, std::string> bodies(const std::string& source, const std::regex& definition,
                                          const std::string& end) {
  std::map<std::string, std::string> out;
  std::istringstream lines(source);
  std::string name, body;
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    bool one_line = false;
    if (name.empty() && std::regex_search(line, m, definition)) {
      name = m[1];
      one_line = line.ends_with("}");
    }
    if (name.empty()) continue;
    body += line + "\n";
    if (line == end || one_line) {
      out[name] += body;
      name.clear();
      body.clear();
    }
  }
  return out;
}

// The DynamoDB actions each method of DynamoDbRunState sends, read from its source: the
// operation names in its body (inside a TransactWriteItems each part needs its own action:
// ConditionCheck -> dynamodb:ConditionCheckItem, Put, Delete, Update likewise) and, transitively,
// those of the Impl helpers it calls.
std::map<std::string, std::set<std::string>> run_state_actions(const std::string& source) {
  const auto impl_begin = source.find("struct DynamoDbRunState::Impl {");
  const auto impl_end = source.find("\n};\n", impl_begin);
  EXPECT_NE(impl_begin, std::string::npos);
  EXPECT_NE(impl_end, std::string::npos);
  if (impl_begin == std::string::npos || impl_end == std::string::npos) return {};
  // Impl's members, defined inline at two spaces' indentation on one line ending in "{".
  const auto helpers =
      bodies(source.substr(impl_begin, impl_end - impl_begin), std::regex(R"(^  [^ /][^(]*?(\w+)\([^;]*\{$)"), "  }");
  const auto methods = bodies(source.substr(impl_end), std::regex(R"(^\S.*\bDynamoDbRunState::(\w+)\()"), "}");
  const std::vector<std::string> operations = {"GetItem",       "PutItem",     "UpdateItem",      "DeleteItem",
                                               "Query",         "Scan",        "BatchWriteItem",  "BatchGetItem",
                                               "DescribeTable", "CreateTable", "TransactGetItems"};
  const auto direct = [&](const std::string& body) {
    std::set<std::string> found;
    for (const auto& op : operations)
      if (body.find("\"" + op + "\"") != std::string::npos) found.insert("dynamodb:" + op);
    if (body.find("\"TransactWriteItems\"") != std::string::npos) {
      size_t parts = 0;
      for (const char* part : {"ConditionCheck", "Put", "Delete", "Update"})
        if (body.find("\"" + std::string(part) + "\"") != std::string::npos) {
          found.insert("dynamodb:" + std::string(part) + "Item");
          ++parts;
        }
      EXPECT_GT(parts, 0u) << "a TransactWriteItems whose parts were not found:\n" << body;
    }
    return found;
  };
  // All the actions of `body`, following calls of Impl helpers (each helper once).
  std::function<void(const std::string&, std::set<std::string>&, std::set<std::string>&)> collect =
      [&](const std::string& body, std::set<std::string>& actions, std::set<std::string>& seen) {
        const auto own = direct(body);
        actions.insert(own.begin(), own.end());
        for (const auto& [helper, helper_body] : helpers) {
          if (seen.count(helper) || !std::regex_search(body, std::regex("\\b" + helper + "\\("))) continue;
          seen.insert(helper);
          collect(helper_body, actions, seen);
        }
      };
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [method, body] : methods) {
    std::set<std::string> seen;
    collect(body, out[method], seen);
  }
  return out;
}

// The RunState methods each handler calls, read from lambda/handlers.cc (and, for each
// assembly:: function a handler calls, from that function in assembly/parts.cc): calls between
// "struct ConsumerHandler::Impl" and "ConsumerHandler::~ConsumerHandler" are the consumer's,
// from there to "ProducerHandler::~ProducerHandler" the producer's; calls elsewhere
// (the shared helpers such as finish_if_drained, which both call) count for both.
std::map<std::string, std::set<std::string>> handler_state_calls(const std::string& source, const std::string& parts) {
  const auto consumer_begin = source.find("struct ConsumerHandler::Impl");
  const auto consumer_end = source.find("ConsumerHandler::~ConsumerHandler");
  const auto producer_end = source.find("ProducerHandler::~ProducerHandler");
  EXPECT_TRUE(consumer_begin < consumer_end && consumer_end < producer_end && producer_end != std::string::npos)
      << "the handlers' layout in lambda/handlers.cc changed: update handler_state_calls";
  if (!(consumer_begin < consumer_end && consumer_end < producer_end && producer_end != std::string::npos)) return {};
  // The run state's methods called on it (as `state`, or as the RunLog/ProducerLease/
  // FingerprintLog `runs`, `lease` and `fingerprints` that assembly's functions and the
  // handlers' helpers take); `state.get()` is the shared_ptr's, handing the state on.
  const auto calls_in = [](const std::string& text) {
    std::set<std::string> found;
    const std::regex call(R"(\b(?:(?:state|runs|lease)(?:->|\.)|fingerprints->)(\w+)\()");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), call); it != std::sregex_iterator(); ++it)
      if ((*it)[1] != "get") found.insert((*it)[1]);
    return found;
  };
  // What a handler reaches through assembly/parts.cc: the state calls of each assembly function
  // it calls, read from that function's definition.
  const auto through_assembly = [&](const std::string& text) {
    std::set<std::string> found;
    const std::regex call(R"(\bassembly::(\w+)\()");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), call); it != std::sregex_iterator(); ++it) {
      const std::regex definition("\n[a-z][\\w:<> ]* " + (*it)[1].str() + "\\(");
      std::smatch m;
      if (!std::regex_search(parts, m, definition)) continue;  // a backend opener, no state call
      const auto begin = static_cast<size_t>(m.position(0));
      const auto body = parts.substr(begin, parts.find("\n}\n", begin) - begin);
      const auto inner = calls_in(body);
      found.insert(inner.begin(), inner.end());
    }
    return found;
  };
  const auto all_calls = [&](const std::string& text) {
    auto found = calls_in(text);
    const auto more = through_assembly(text);
    found.insert(more.begin(), more.end());
    return found;
  };
  const auto shared = all_calls(source.substr(0, consumer_begin) + source.substr(producer_end));
  std::map<std::string, std::set<std::string>> out;
  out["consumer"] = all_calls(source.substr(consumer_begin, consumer_end - consumer_begin));
  out["producer"] = all_calls(source.substr(consumer_end, producer_end - consumer_end));
  // The producer handed the state as its FingerprintLog (assembly::producer_options) calls it
  // from pipeline/producer.cc, for source.incremental.
  if (source.substr(consumer_end, producer_end - consumer_end).find("producer_options(config, state") !=
      std::string::npos) {
    const std::string producer = read_whole_file(kSource + "/src/pipeline/producer.cc");
    const std::regex call(R"(\boptions_\.fingerprints->(\w+)\()");
    for (auto it = std::sregex_iterator(producer.begin(), producer.end(), call); it != std::sregex_iterator(); ++it)
      out["producer"].insert((*it)[1]);
  }
  for (auto& [handler, methods] : out) methods.insert(shared.begin(), shared.end());
  return out;
}

TEST_F(TemplateTest, EveryResourceOfTheExamplePipeline) {
  const YAML::Node t = render(kSource + "/examples/aws.yaml");
  ASSERT_TRUE(t.IsMap());
  EXPECT_EQ(t["AWSTemplateFormatVersion"].as<std::string>(), "2010-09-09");
  EXPECT_EQ(t["Transform"].as<std::string>(), "AWS::Serverless-2016-10-31");
  const YAML::Node r = t["Resources"];
  const std::set<std::string> expected = {
      "SourceTable",      "Queue",        "DeadLetterQueue", "StateTable",       "ResultsBucket",   "ProducerFunction",
      "ConsumerFunction", "ProducerRole", "ConsumerRole",    "ProducerLogGroup", "ConsumerLogGroup"};
  std::set<std::string> present;
  for (const auto& entry : r) present.insert(entry.first.as<std::string>());
  EXPECT_EQ(present, expected);

  // The source table: dynamodb://companies keyed by `name`, kept when the stack goes.
  const YAML::Node source = r["SourceTable"];
  EXPECT_EQ(source["Type"].as<std::string>(), "AWS::DynamoDB::Table");
  EXPECT_EQ(source["DeletionPolicy"].as<std::string>(), "Retain");
  EXPECT_EQ(source["Properties"]["TableName"].as<std::string>(), "companies");
  EXPECT_EQ(source["Properties"]["BillingMode"].as<std::string>(), "PAY_PER_REQUEST");
  ASSERT_EQ(source["Properties"]["KeySchema"].size(), 1u);
  EXPECT_EQ(source["Properties"]["KeySchema"][0]["AttributeName"].as<std::string>(), "name");
  EXPECT_EQ(source["Properties"]["KeySchema"][0]["KeyType"].as<std::string>(), "HASH");
  EXPECT_EQ(source["Properties"]["AttributeDefinitions"][0]["AttributeType"].as<std::string>(), "S");

  // The queue: visibility 5m, retention 4d, redrive to the dead-letter queue after 5 receives.
  const YAML::Node queue = r["Queue"]["Properties"];
  EXPECT_EQ(r["Queue"]["Type"].as<std::string>(), "AWS::SQS::Queue");
  EXPECT_EQ(queue["QueueName"].as<std::string>(), "fang-sentiment-producer");
  EXPECT_EQ(queue["VisibilityTimeout"].as<int>(), 300);
  EXPECT_EQ(queue["MessageRetentionPeriod"].as<int>(), 4 * 24 * 3600);
  EXPECT_EQ(queue["MaximumMessageSize"].as<int>(), 256 * 1024);
  EXPECT_EQ(queue["RedrivePolicy"]["maxReceiveCount"].as<int>(), 5);
  EXPECT_EQ(queue["RedrivePolicy"]["deadLetterTargetArn"].Tag(), "!GetAtt");
  EXPECT_EQ(queue["RedrivePolicy"]["deadLetterTargetArn"].as<std::string>(), "DeadLetterQueue.Arn");
  EXPECT_EQ(r["DeadLetterQueue"]["Type"].as<std::string>(), "AWS::SQS::Queue");
  EXPECT_EQ(r["DeadLetterQueue"]["Properties"]["QueueName"].as<std::string>(), "fang-sentiment-dlq");
  EXPECT_EQ(r["DeadLetterQueue"]["Properties"]["MessageRetentionPeriod"].as<int>(), 14 * 24 * 3600);

  // The run state: <name>-state, pk/sk strings, on demand.
  const YAML::Node state = r["StateTable"]["Properties"];
  EXPECT_EQ(state["TableName"].as<std::string>(), "fang-sentiment-state");
  EXPECT_EQ(state["BillingMode"].as<std::string>(), "PAY_PER_REQUEST");
  ASSERT_EQ(state["KeySchema"].size(), 2u);
  EXPECT_EQ(state["KeySchema"][0]["AttributeName"].as<std::string>(), "pk");
  EXPECT_EQ(state["KeySchema"][0]["KeyType"].as<std::string>(), "HASH");
  EXPECT_EQ(state["KeySchema"][1]["AttributeName"].as<std::string>(), "sk");
  EXPECT_EQ(state["KeySchema"][1]["KeyType"].as<std::string>(), "RANGE");
  for (const auto& d : state["AttributeDefinitions"]) EXPECT_EQ(d["AttributeType"].as<std::string>(), "S");

  // The bucket of s3://${RESULTS_BUCKET:-fang-sentiment-results}/sentiment/: private, kept.
  EXPECT_EQ(r["ResultsBucket"]["Type"].as<std::string>(), "AWS::S3::Bucket");
  EXPECT_EQ(r["ResultsBucket"]["DeletionPolicy"].as<std::string>(), "Retain");
  EXPECT_EQ(r["ResultsBucket"]["Properties"]["BucketName"].as<std::string>(), "fang-sentiment-results");
  for (const auto& flag : r["ResultsBucket"]["Properties"]["PublicAccessBlockConfiguration"])
    EXPECT_TRUE(flag.second.as<bool>()) << flag.first.as<std::string>();

  // Both functions: the custom runtime, the zip, lambda.memory and lambda.timeout (50s: 6 x 50s
  // fits the 5m visibility; the file sets it, so the producer has it too), the state table's
  // name in the environment, and the file's ${RESULTS_BUCKET} as it resolved here.
  for (const auto& [id, handler] :
       {std::pair{"ProducerFunction", "producer"}, std::pair{"ConsumerFunction", "consumer"}}) {
    const YAML::Node f = r[id];
    EXPECT_EQ(f["Type"].as<std::string>(), "AWS::Serverless::Function");
    const YAML::Node p = f["Properties"];
    EXPECT_EQ(p["FunctionName"].as<std::string>(), std::string("fang-sentiment-") + handler);
    EXPECT_EQ(p["Handler"].as<std::string>(), handler);
    EXPECT_EQ(p["Runtime"].as<std::string>(), "provided.al2023");
    EXPECT_EQ(p["CodeUri"].as<std::string>(), "sentiflow.zip");
    EXPECT_EQ(p["MemorySize"].as<int>(), 512);
    EXPECT_EQ(p["Timeout"].as<int>(), 50);
    EXPECT_EQ(p["Role"].Tag(), "!GetAtt");
    EXPECT_EQ(p["Role"].as<std::string>(),
              std::string(id == std::string("ProducerFunction") ? "Producer" : "Consumer") + "Role.Arn");
    const YAML::Node env = p["Environment"]["Variables"];
    EXPECT_EQ(env["SENTIFLOW_STATE_TABLE"].Tag(), "!Ref");
    EXPECT_EQ(env["SENTIFLOW_STATE_TABLE"].as<std::string>(), "StateTable");
    EXPECT_EQ(env["RESULTS_BUCKET"].as<std::string>(), "fang-sentiment-results");
    EXPECT_FALSE(env["AWS_REGION"]) << "Lambda reserves AWS_REGION";
    EXPECT_EQ(f["DependsOn"].as<std::string>(),
              std::string(id == std::string("ProducerFunction") ? "Producer" : "Consumer") + "LogGroup");
  }

  // The producer's schedule: an EventBridge rule for cron().
  const YAML::Node tick = r["ProducerFunction"]["Properties"]["Events"]["Tick"];
  EXPECT_EQ(tick["Type"].as<std::string>(), "Schedule");
  EXPECT_EQ(tick["Properties"]["Schedule"].as<std::string>(), "cron(0 6 ? * MON-FRI *)");
  EXPECT_TRUE(tick["Properties"]["Enabled"].as<bool>());

  // The consumer's SQS trigger: batch 100 in a 2s window, partial batch failures, at most 50
  // concurrent batches (consumer.concurrency.max).
  const YAML::Node events = r["ConsumerFunction"]["Properties"]["Events"];
  ASSERT_EQ(events.size(), 1u);
  const YAML::Node sqs = events["Queue"];
  EXPECT_EQ(sqs["Type"].as<std::string>(), "SQS");
  EXPECT_EQ(sqs["Properties"]["Queue"].Tag(), "!GetAtt");
  EXPECT_EQ(sqs["Properties"]["Queue"].as<std::string>(), "Queue.Arn");
  EXPECT_EQ(sqs["Properties"]["BatchSize"].as<int>(), 100);
  EXPECT_EQ(sqs["Properties"]["MaximumBatchingWindowInSeconds"].as<int>(), 2);
  EXPECT_EQ(strings(sqs["Properties"]["FunctionResponseTypes"]), std::vector<std::string>{"ReportBatchItemFailures"});
  EXPECT_EQ(sqs["Properties"]["ScalingConfig"]["MaximumConcurrency"].as<int>(), 50);

  // Log groups with a retention, named as Lambda names them.
  for (const auto& [id, fn] : {std::pair{"ProducerLogGroup", "producer"}, std::pair{"ConsumerLogGroup", "consumer"}}) {
    EXPECT_EQ(r[id]["Type"].as<std::string>(), "AWS::Logs::LogGroup");
    EXPECT_EQ(r[id]["Properties"]["LogGroupName"].as<std::string>(), std::string("/aws/lambda/fang-sentiment-") + fn);
    EXPECT_EQ(r[id]["Properties"]["RetentionInDays"].as<int>(), 30);
  }

  // Outputs: the queue's URL, the bucket, the tables, the functions.
  const YAML::Node outputs = t["Outputs"];
  EXPECT_EQ(outputs["QueueUrl"]["Value"].Tag(), "!Ref");
  EXPECT_EQ(outputs["QueueUrl"]["Value"].as<std::string>(), "Queue");
  EXPECT_EQ(outputs["DeadLetterQueueUrl"]["Value"].as<std::string>(), "DeadLetterQueue");
  EXPECT_EQ(outputs["ResultsBucketName"]["Value"].as<std::string>(), "ResultsBucket");
  EXPECT_EQ(outputs["SourceTableName"]["Value"].as<std::string>(), "SourceTable");
  EXPECT_EQ(outputs["StateTableName"]["Value"].as<std::string>(), "StateTable");
  EXPECT_EQ(outputs["ProducerFunctionArn"]["Value"].Tag(), "!GetAtt");
  EXPECT_EQ(outputs["ProducerFunctionArn"]["Value"].as<std::string>(), "ProducerFunction.Arn");
  EXPECT_EQ(outputs["ConsumerFunctionArn"]["Value"].as<std::string>(), "ConsumerFunction.Arn");
}

TEST_F(TemplateTest, EachRoleGrantsExactlyTheCallsOfItsFunctionOnThePipelinesOwnResources) {
  const YAML::Node r = render(kSource + "/examples/aws.yaml")["Resources"];
  ASSERT_TRUE(r.IsMap());
  for (const char* role : {"ProducerRole", "ConsumerRole"}) {
    const YAML::Node p = r[role]["Properties"];
    EXPECT_EQ(r[role]["Type"].as<std::string>(), "AWS::IAM::Role");
    EXPECT_FALSE(p["ManagedPolicyArns"]) << "managed policies grant on every resource";
    const YAML::Node trust = p["AssumeRolePolicyDocument"]["Statement"][0];
    EXPECT_EQ(trust["Principal"]["Service"].as<std::string>(), "lambda.amazonaws.com");
    EXPECT_EQ(trust["Action"].as<std::string>(), "sts:AssumeRole");
    for (const auto& s : statements(r, role)) {
      for (const auto& a : strings(s["Action"])) EXPECT_EQ(a.find('*'), std::string::npos) << role << ": " << a;
      if (s["Resource"].Tag() == "?" || s["Resource"].Tag() == "!") {
        EXPECT_TRUE(strings(s["Action"])[0].starts_with("comprehend:")) << role << ": only Comprehend has no ARNs";
      }
    }
  }
  using Set = std::set<std::string>;
  const Set logs = {"logs:CreateLogStream", "logs:PutLogEvents"};
  // The state table: the producer starts runs, leases, checkpoints, scans for unfinished runs
  // and reads fingerprints; the consumer only adds counts, records fingerprints and finishes
  // runs (which removes their checkpoints).
  const Set producer_state = {
      "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",    "dynamodb:Query",   "dynamodb:Scan",    "dynamodb:ConditionCheckItem",
      "dynamodb:BatchGetItem"};
  const Set consumer_state = {"dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:UpdateItem",
                              "dynamodb:DeleteItem",    "dynamodb:Query",   "dynamodb:ConditionCheckItem",
                              "dynamodb:BatchWriteItem"};
  const Set sink = {"s3:PutObject", "s3:AbortMultipartUpload"};
  const std::string objects = "arn:${AWS::Partition}:s3:::fang-sentiment-results/sentiment/*";

  // The producer: scans the source table, sends to the queue, keeps its run state, writes error
  // records, and re-invokes itself when a run outlasts an invocation.
  EXPECT_EQ(actions_on(r, "ProducerRole", "!GetAtt", "ProducerLogGroup.Arn"), logs);
  EXPECT_EQ(actions_on(r, "ProducerRole", "!GetAtt", "SourceTable.Arn"),
            (Set{"dynamodb:DescribeTable", "dynamodb:Scan"}));
  EXPECT_EQ(actions_on(r, "ProducerRole", "!GetAtt", "Queue.Arn"),
            (Set{"sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"}));
  EXPECT_EQ(actions_on(r, "ProducerRole", "!GetAtt", "StateTable.Arn"), producer_state);
  EXPECT_EQ(actions_on(r, "ProducerRole", "!Sub", objects), sink);
  EXPECT_EQ(
      actions_on(r, "ProducerRole", "!Sub",
                 "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:fang-sentiment-producer"),
      Set{"lambda:InvokeFunction"});
  EXPECT_EQ(statements(r, "ProducerRole").size(), 6u);
  for (const auto& a : all_actions(r, "ProducerRole")) EXPECT_FALSE(a.starts_with("comprehend:")) << a;

  // The consumer: the SQS trigger's polling, the sink, the run state's counts, Comprehend.
  EXPECT_EQ(actions_on(r, "ConsumerRole", "!GetAtt", "ConsumerLogGroup.Arn"), logs);
  EXPECT_EQ(actions_on(r, "ConsumerRole", "!GetAtt", "Queue.Arn"),
            (Set{"sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:DeleteMessage"}));
  EXPECT_EQ(actions_on(r, "ConsumerRole", "!GetAtt", "StateTable.Arn"), consumer_state);
  EXPECT_EQ(actions_on(r, "ConsumerRole", "!Sub", objects), sink);
  const YAML::Node comprehend = statement_on(r, "ConsumerRole", "!", "*");
  ASSERT_TRUE(comprehend) << "engine: comprehend needs its calls";
  EXPECT_EQ(strings(comprehend["Action"]),
            (std::vector<std::string>{"comprehend:BatchDetectSentiment", "comprehend:DetectSentiment"}));
  EXPECT_EQ(statements(r, "ConsumerRole").size(), 5u);
  EXPECT_FALSE(statement_on(r, "ConsumerRole", "!GetAtt", "SourceTable.Arn")) << "the consumer never reads the table";
}

// Each AWS operation the code sends, found in the source by name, is granted to the functions
// that send it: a new call in the code without a new permission fails here, not in production.
TEST_F(TemplateTest, ThePoliciesCoverEveryOperationTheCodeSends) {
  const YAML::Node r = render(kSource + "/examples/aws.yaml")["Resources"];
  ASSERT_TRUE(r.IsMap());
  const auto operations = [](const std::string& file, const std::vector<std::string>& names) {
    std::set<std::string> found;
    const std::string text = read_whole_file(kSource + "/" + file);
    for (const auto& n : names)
      if (text.find("\"" + n + "\"") != std::string::npos) found.insert(n);
    return found;
  };
  // The run state, per role: exactly the actions of the RunState methods its handler calls
  // (found in lambda/handlers.cc and in the assembly/parts.cc functions it calls), each method's actions read from dynamodb_run_state.cc, plus
  // DescribeTable for opening it. A new state call in a handler, or a new operation in a method,
  // fails here until the template grants it; a grant no handler needs fails here too.
  const auto by_method = run_state_actions(read_whole_file(kSource + "/src/state/dynamodb_run_state.cc"));
  ASSERT_TRUE(by_method.count("add_counts")) << "the run state's methods were not found";
  EXPECT_EQ(by_method.at("add_counts"), (std::set<std::string>{"dynamodb:UpdateItem", "dynamodb:GetItem"}));
  EXPECT_TRUE(by_method.at("save_checkpoint").count("dynamodb:ConditionCheckItem")) << "a TransactWriteItems part";
  const auto calls = handler_state_calls(read_whole_file(kSource + "/src/lambda/handlers.cc"),
                                         read_whole_file(kSource + "/src/assembly/parts.cc"));
  for (const auto& [role, handler] : {std::pair{"ProducerRole", "producer"}, std::pair{"ConsumerRole", "consumer"}}) {
    std::set<std::string> needed = {"dynamodb:DescribeTable"};
    ASSERT_FALSE(calls.at(handler).empty()) << handler;
    for (const auto& method : calls.at(handler)) {
      ASSERT_TRUE(by_method.count(method)) << handler << " calls RunState::" << method << ", not found in the source";
      needed.insert(by_method.at(method).begin(), by_method.at(method).end());
    }
    EXPECT_EQ(actions_on(r, role, "!GetAtt", "StateTable.Arn"), needed) << role << " (" << handler << ")";
  }
  EXPECT_TRUE(calls.at("consumer").count("add_counts"));
  EXPECT_TRUE(calls.at("producer").count("claim_tick"));
  // The functions open the queue by name and read its attributes; the producer sends, with
  // SendMessageBatch, authorised as sqs:SendMessage.
  const auto sqs_ops = operations("src/queue/sqs_queue.cc", {"GetQueueUrl", "GetQueueAttributes", "SendMessageBatch"});
  EXPECT_EQ(sqs_ops.size(), 3u);
  for (const char* role : {"ProducerRole", "ConsumerRole"}) {
    const auto granted = actions_on(r, role, "!GetAtt", "Queue.Arn");
    EXPECT_TRUE(granted.count("sqs:GetQueueUrl") && granted.count("sqs:GetQueueAttributes")) << role;
  }
  const auto comprehend_ops = operations("src/sentiment/comprehend.cc", {"DetectSentiment", "BatchDetectSentiment"});
  const auto consumer = all_actions(r, "ConsumerRole");
  for (const auto& op : comprehend_ops) EXPECT_TRUE(consumer.count("comprehend:" + op)) << op;
  // The sink's writes: a PutObject, or a multipart upload (s3:PutObject too) and its abort.
  const auto s3_ops = operations("src/store/s3_store.cc", {"PutObject", "AbortMultipartUpload"});
  EXPECT_EQ(s3_ops.size(), 2u);
  for (const auto& op : s3_ops) EXPECT_TRUE(consumer.count("s3:" + op)) << op;
  EXPECT_TRUE(all_actions(r, "ProducerRole").count("sqs:SendMessage"));
  // A cut producer re-invokes itself through Lambda's Invoke API.
  EXPECT_NE(read_whole_file(kSource + "/src/lambda/handlers.cc").find("/invocations"), std::string::npos);
  EXPECT_TRUE(all_actions(r, "ProducerRole").count("lambda:InvokeFunction"));
}

TEST_F(TemplateTest, TheCheckedInTemplateIsWhatTheExampleRenders) {
#if !defined(__x86_64__)
  GTEST_SKIP() << "deploy/template.yaml is rendered for x86_64";
#endif
  const Outcome r = run_sentiflow("template '" + kSource + "/examples/aws.yaml'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, read_whole_file(kSource + "/deploy/template.yaml"))
      << "deploy/template.yaml is stale: run `sentiflow template examples/aws.yaml --out deploy/template.yaml`";
}

TEST_F(TemplateTest, AnAtScheduleGoesThroughEventBridgeSchedulerWithTheScheduledTime) {
  const YAML::Node t = render(write_pipeline(aws_pipeline("schedule: at(2030-01-01T06:00:00)\n")));
  const YAML::Node tick = t["Resources"]["ProducerFunction"]["Properties"]["Events"]["Tick"];
  EXPECT_EQ(tick["Type"].as<std::string>(), "ScheduleV2");
  EXPECT_EQ(tick["Properties"]["ScheduleExpression"].as<std::string>(), "at(2030-01-01T06:00:00)");
  EXPECT_EQ(tick["Properties"]["ScheduleExpressionTimezone"].as<std::string>(), "UTC");
  EXPECT_EQ(tick["Properties"]["FlexibleTimeWindow"]["Mode"].as<std::string>(), "OFF");
  EXPECT_EQ(tick["Properties"]["Input"].as<std::string>(), R"({"time": "<aws.scheduler.scheduled-time>"})");
}

TEST_F(TemplateTest, ARateIsAnEventBridgeRuleAndNoScheduleMeansNoEvent) {
  const YAML::Node rate = render(write_pipeline(aws_pipeline("schedule: rate(5 minutes)\n")));
  const YAML::Node tick = rate["Resources"]["ProducerFunction"]["Properties"]["Events"]["Tick"];
  EXPECT_EQ(tick["Type"].as<std::string>(), "Schedule");
  EXPECT_EQ(tick["Properties"]["Schedule"].as<std::string>(), "rate(5 minutes)");
  const YAML::Node manual = render(write_pipeline(aws_pipeline("")));
  EXPECT_FALSE(manual["Resources"]["ProducerFunction"]["Properties"]["Events"]);
}

TEST_F(TemplateTest, TheTimeoutDefaultsToASixthOfTheVisibilityAndConcurrencyToAtLeastTwo) {
  const YAML::Node t = render(write_pipeline(aws_pipeline("")));  // visibility 2m, no lambda.timeout
  const YAML::Node r = t["Resources"];
  EXPECT_EQ(r["ConsumerFunction"]["Properties"]["Timeout"].as<int>(), 20);
  // The 6x rule binds the SQS-triggered consumer only: the producer gets Lambda's most, and hands
  // a run over to a continuation before its deadline anyway.
  EXPECT_EQ(r["ProducerFunction"]["Properties"]["Timeout"].as<int>(), 900);
  EXPECT_EQ(r["Queue"]["Properties"]["VisibilityTimeout"].as<int>(), 120);
  EXPECT_EQ(r["Queue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"].as<int>(), 3);
  EXPECT_EQ(r["DeadLetterQueue"]["Properties"]["QueueName"].as<std::string>(), "shop-work-dlq");
  const YAML::Node sqs = r["ConsumerFunction"]["Properties"]["Events"]["Queue"]["Properties"];
  EXPECT_EQ(sqs["ScalingConfig"]["MaximumConcurrency"].as<int>(), 2);  // concurrency.max 1; AWS's least is 2
  EXPECT_EQ(sqs["BatchSize"].as<int>(), 10);
  EXPECT_EQ(sqs["MaximumBatchingWindowInSeconds"].as<int>(), 0);
  // engine vader: no Comprehend permission at all.
  for (const auto& a : all_actions(r, "ConsumerRole")) EXPECT_FALSE(a.starts_with("comprehend:")) << a;
  EXPECT_EQ(actions_on(r, "ConsumerRole", "!Sub", "arn:${AWS::Partition}:s3:::shop-results/out/*"),
            (std::set<std::string>{"s3:PutObject", "s3:AbortMultipartUpload"}));
  EXPECT_EQ(r["ResultsBucket"]["Properties"]["BucketName"].as<std::string>(), "shop-results");
  EXPECT_EQ(r["SourceTable"]["Properties"]["TableName"].as<std::string>(), "items");
  EXPECT_EQ(r["SourceTable"]["Properties"]["KeySchema"][0]["AttributeName"].as<std::string>(), "id");
  EXPECT_EQ(r["StateTable"]["Properties"]["TableName"].as<std::string>(), "shop-state");
}

TEST_F(TemplateTest, AVisibilityUnderSixTimesTheTimeoutIsRefused) {
  const Outcome r =
      run_sentiflow("template '" + write_pipeline(aws_pipeline("", "", "lambda: {timeout: 30s}\n")).string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("queue.visibility_timeout (2m) must be at least 6 times the consumer function's timeout (30s"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("raise queue.visibility_timeout to 180s or lower lambda.timeout to 20s"), std::string::npos)
      << r.err;
  // Exactly 6 times is enough.
  Outcome ok;
  const YAML::Node t = render(write_pipeline(aws_pipeline("", "", "lambda: {timeout: 20s, memory: 1024}\n")), &ok);
  EXPECT_EQ(t["Resources"]["ConsumerFunction"]["Properties"]["Timeout"].as<int>(), 20);
  EXPECT_EQ(t["Resources"]["ConsumerFunction"]["Properties"]["MemorySize"].as<int>(), 1024);
  EXPECT_EQ(t["Resources"]["ProducerFunction"]["Properties"]["Timeout"].as<int>(), 20) << "the user's word, for both";
}

TEST_F(TemplateTest, TheProducersTimeoutIsLambdaTimeoutWhenTheFileSetsItElseLambdasMost) {
  // A short visibility: the consumer's default is 30s / 6 = 5s; the producer is not held to it.
  const YAML::Node short_visibility = render(write_pipeline(
      "name: shop\nsource: {table: dynamodb://items, key: id, text: review}\n"
      "queue: {url: sqs://shop-work, visibility_timeout: 30s}\nsink: {store: 's3://shop-results/out/'}\n"));
  EXPECT_EQ(short_visibility["Resources"]["ConsumerFunction"]["Properties"]["Timeout"].as<int>(), 5);
  EXPECT_EQ(short_visibility["Resources"]["ProducerFunction"]["Properties"]["Timeout"].as<int>(), 900);
  // Set in the file, even to the consumer's default, it is the user's word.
  const YAML::Node named = render(write_pipeline(aws_pipeline("", "", "lambda: {timeout: 20s}\n")));
  EXPECT_EQ(named["Resources"]["ProducerFunction"]["Properties"]["Timeout"].as<int>(), 20);
  // A lambda section without a timeout leaves the producer's default.
  const YAML::Node memory_only = render(write_pipeline(aws_pipeline("", "", "lambda: {memory: 256}\n")));
  EXPECT_EQ(memory_only["Resources"]["ProducerFunction"]["Properties"]["Timeout"].as<int>(), 900);
  EXPECT_EQ(memory_only["Resources"]["ProducerFunction"]["Properties"]["MemorySize"].as<int>(), 256);
}

TEST_F(TemplateTest, LocalUrisAreRefused) {
  const fs::path file =
      write_pipeline("name: local\nsource: {table: local://items, key: id, text: review}\nsink: {store: out/}\n");
  const Outcome r = run_sentiflow("template '" + file.string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("template needs dynamodb://, sqs:// and s3:// URIs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("source.table local://items"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("queue.url local://local"), std::string::npos) << r.err;
}

TEST_F(TemplateTest, ABigBatchWithoutAWindowIsRefused) {
  const std::string body =
      "name: shop\nsource: {table: dynamodb://items, key: id, text: review}\n"
      "queue: {url: sqs://shop-work, visibility_timeout: 2m}\n"
      "consumer: {batch_size: 50}\nsink: {store: 's3://shop-results/out/'}\n";
  const Outcome r = run_sentiflow("template '" + write_pipeline(body).string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("batch_window of at least 1s"), std::string::npos) << r.err;
}

TEST_F(TemplateTest, AnInvalidOrMissingFileIsRefused) {
  const Outcome missing = run_sentiflow("template /nonexistent/pipeline.yaml");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("/nonexistent/pipeline.yaml"), std::string::npos) << missing.err;
  const Outcome invalid = run_sentiflow("template '" + write_pipeline("name: 1bad\n").string() + "'");
  EXPECT_EQ(invalid.status, 2);
  EXPECT_EQ(invalid.out, "");
}

TEST_F(TemplateTest, TheFilesVariablesReachTheFunctionsAsTheyResolvedHere) {
  ::setenv("RESULTS_BUCKET", "other-results", 1);
  const YAML::Node t = render(kSource + "/examples/aws.yaml");
  ::unsetenv("RESULTS_BUCKET");
  const YAML::Node r = t["Resources"];
  EXPECT_EQ(r["ResultsBucket"]["Properties"]["BucketName"].as<std::string>(), "other-results");
  EXPECT_EQ(r["ConsumerFunction"]["Properties"]["Environment"]["Variables"]["RESULTS_BUCKET"].as<std::string>(),
            "other-results");
}

TEST_F(TemplateTest, OutWritesTheFileAndAnUnwritablePathIsRefused) {
  const fs::path out = dir_.path() / "template.yaml";
  const Outcome r = run_sentiflow("template '" + kSource + "/examples/aws.yaml' --out '" + out.string() + "'");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(YAML::LoadFile(out.string())["Resources"]["ConsumerFunction"]);
  const Outcome bad = run_sentiflow("template '" + kSource + "/examples/aws.yaml' --out /nonexistent/dir/t.yaml");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("cannot write /nonexistent/dir/t.yaml: No such file or directory"), std::string::npos)
      << bad.err;
  const Outcome retention = run_sentiflow("template '" + kSource + "/examples/aws.yaml' --log-retention 8");
  EXPECT_EQ(retention.status, 2);
  EXPECT_NE(retention.err.find("8 days is not a CloudWatch Logs retention"), std::string::npos) << retention.err;
}

}  // namespace
