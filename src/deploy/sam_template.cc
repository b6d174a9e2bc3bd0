#include "deploy/sam_template.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace sentiflow::deploy {
namespace {

using std::chrono::seconds;

// The values CloudWatch Logs accepts for RetentionInDays (AWS::Logs::LogGroup).
constexpr std::array<int, 22> kRetentionDays = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                                                365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

// Lambda's own limit on a function's timeout.
constexpr seconds kMaxLambdaTimeout{900};
// Dead letters are kept as long as SQS allows, so that there is time to look at them.
constexpr seconds kDeadLetterRetention{14 * 24 * 3600};

const char* architecture() {
#if defined(__aarch64__)
  return "arm64";
#else
  return "x86_64";
#endif
}

// Emitter shorthands. A tagged scalar is CloudFormation's short form of an intrinsic function
// (!Ref, !GetAtt, !Sub), which yaml-cpp and SAM both read.
struct Out {
  YAML::Emitter e;

  void key(const std::string& k) { e << YAML::Key << k << YAML::Value; }
  void text(const std::string& k, const std::string& v) {
    key(k);
    e << v;
  }
  // Strings that a YAML 1.1 reader might take for another type ("OFF", "2010-09-09", "123").
  void quoted(const std::string& k, const std::string& v) {
    key(k);
    e << YAML::DoubleQuoted << v;
  }
  void number(const std::string& k, int64_t v) {
    key(k);
    e << v;
  }
  void boolean(const std::string& k, bool v) {
    key(k);
    e << (v ? "true" : "false");
  }
  void ref(const std::string& k, const std::string& id) {
    key(k);
    e << YAML::LocalTag("Ref") << id;
  }
  void get_att(const std::string& k, const std::string& path) {
    key(k);
    e << YAML::LocalTag("GetAtt") << path;
  }
  void sub(const std::string& k, const std::string& v) {
    key(k);
    e << YAML::LocalTag("Sub") << YAML::DoubleQuoted << v;
  }
  void begin_map(const std::string& k) {
    key(k);
    e << YAML::BeginMap;
  }
  void begin_seq(const std::string& k) {
    key(k);
    e << YAML::BeginSeq;
  }
  void end_map() { e << YAML::EndMap; }
  void end_seq() { e << YAML::EndSeq; }
  void flow_list(const std::string& k, const std::vector<std::string>& items) {
    key(k);
    e << YAML::Flow << YAML::BeginSeq;
    for (const auto& item : items) e << item;
    e << YAML::EndSeq;
  }
};

// A policy statement's Resource: one of CloudFormation's ways to name an ARN.
struct Arn {
  enum class Form { get_att, sub, literal } form;
  std::string text;
};

struct Statement {
  std::vector<std::string> actions;
  Arn resource;
};

void emit_statement(Out& o, const Statement& s) {
  o.e << YAML::BeginMap;
  o.text("Effect", "Allow");
  o.flow_list("Action", s.actions);
  switch (s.resource.form) {
    case Arn::Form::get_att: o.get_att("Resource", s.resource.text); break;
    case Arn::Form::sub: o.sub("Resource", s.resource.text); break;
    case Arn::Form::literal: o.quoted("Resource", s.resource.text); break;
  }
  o.end_map();
}

// An execution role with one inline policy: the function's statements, nothing managed (the
// managed AWSLambdaBasicExecutionRole and AWSLambdaSQSQueueExecutionRole grant their actions
// on every resource of the account).
void emit_role(Out& o, const std::string& id, const std::string& policy_name,
               const std::vector<Statement>& statements) {
  o.begin_map(id);
  o.text("Type", "AWS::IAM::Role");
  o.begin_map("Properties");
  o.begin_map("AssumeRolePolicyDocument");
  o.quoted("Version", "2012-10-17");
  o.begin_seq("Statement");
  o.e << YAML::BeginMap;
  o.text("Effect", "Allow");
  o.begin_map("Principal");
  o.text("Service", "lambda.amazonaws.com");
  o.end_map();
  o.text("Action", "sts:AssumeRole");
  o.end_map();
  o.end_seq();
  o.end_map();
  o.begin_seq("Policies");
  o.e << YAML::BeginMap;
  o.text("PolicyName", policy_name);
  o.begin_map("PolicyDocument");
  o.quoted("Version", "2012-10-17");
  o.begin_seq("Statement");
  for (const auto& s : statements) emit_statement(o, s);
  o.end_seq();
  o.end_map();
  o.end_map();
  o.end_seq();
  o.end_map();
  o.end_map();
}

void emit_log_group(Out& o, const std::string& id, const std::string& function_name, int retention_days) {
  o.begin_map(id);
  o.text("Type", "AWS::Logs::LogGroup");
  o.begin_map("Properties");
  o.text("LogGroupName", "/aws/lambda/" + function_name);
  o.number("RetentionInDays", retention_days);
  o.end_map();
  o.end_map();
}

void emit_dynamodb_table(Out& o, const std::string& id, const std::string& name,
                         const std::vector<std::pair<std::string, std::string>>& keys, bool retain) {
  o.begin_map(id);
  o.text("Type", "AWS::DynamoDB::Table");
  if (retain) {
    // The source table holds the user's data: deleting the stack must not delete it.
    o.text("DeletionPolicy", "Retain");
    o.text("UpdateReplacePolicy", "Retain");
  }
  o.begin_map("Properties");
  o.quoted("TableName", name);
  o.text("BillingMode", "PAY_PER_REQUEST");
  o.begin_seq("AttributeDefinitions");
  for (const auto& [attribute, kind] : keys) {
    o.e << YAML::BeginMap;
    o.quoted("AttributeName", attribute);
    o.text("AttributeType", "S");
    o.end_map();
  }
  o.end_seq();
  o.begin_seq("KeySchema");
  for (const auto& [attribute, kind] : keys) {
    o.e << YAML::BeginMap;
    o.quoted("AttributeName", attribute);
    o.text("KeyType", kind);
    o.end_map();
  }
  o.end_seq();
  o.end_map();
  o.end_map();
}

// The actions our code sends, by the resource they touch (grep the source for the operation
// names: table/dynamodb_table.cc, queue/sqs_queue.cc, store/s3_store.cc, sentiment/comprehend.cc,
// state/dynamodb_run_state.cc, lambda/handlers.cc; tests/cli/template_test.cc checks
// the greps). Batch calls need the single action's permission (SendMessageBatch:
// sqs:SendMessage); TransactWriteItems needs each of its parts' (ConditionCheck:
// dynamodb:ConditionCheckItem, Put, Delete); BatchDetectSentiment has its own action.
// The producer opens the table (DescribeTable) and scans it.
const std::vector<std::string> kSourceTableActions = {"dynamodb:DescribeTable", "dynamodb:Scan"};
// The state table, per function: the RunState methods its handler calls (lambda/handlers.cc
// and the assembly/parts.cc functions it calls) and what each sends
// (state/dynamodb_run_state.cc). Both open the state (DescribeTable).
// tests/cli/template_test.cc reads those files and checks that each role has exactly these.
//
// The producer: claim_tick, add_skipped_tick, acquire_producer_lease, mark_produced and
// add_counts are UpdateItems; run, and the re-reads after a refused conditional write, GetItem;
// start_run a conditional PutItem; newest_unfinished a Scan of the run items; checkpoints a
// Query; save_checkpoint under the lease a TransactWriteItems of a ConditionCheck and a Put;
// release_producer_lease a DeleteItem; mark_finished (finish_if_drained) an UpdateItem, then a
// Query and TransactWriteItems of a ConditionCheck and Deletes that remove the run's checkpoints;
// fingerprints (source.incremental, from the producer itself) a BatchGetItem.
const std::vector<std::string> kProducerStateActions = {
    "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",    "dynamodb:Query",   "dynamodb:Scan",    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchGetItem"};
// The consumer: add_counts (UpdateItem; GetItem after a refusal), run (GetItem) and
// mark_finished (UpdateItem, then Query and TransactWriteItems of ConditionCheck and Deletes for
// the finished run's checkpoints). That removal is best effort in the code (a refusal is
// logged), but without DeleteItem, ConditionCheckItem and Query every finished run would keep
// its checkpoints and lengthen the producer's Scan on every tick, so they are granted. Never
// sent by the consumer: PutItem (new runs, checkpoints) and Scan. record_fingerprints (the
// stored results' fingerprints, for source.incremental) is a BatchWriteItem.
const std::vector<std::string> kConsumerStateActions = {"dynamodb:DescribeTable", "dynamodb:GetItem",
                                                        "dynamodb:UpdateItem",    "dynamodb:DeleteItem",
                                                        "dynamodb:Query",         "dynamodb:ConditionCheckItem",
                                                        "dynamodb:BatchWriteItem"};
// Both functions look the queue up by name (GetQueueUrl) and read its attributes (the message
// size limit; the consumer its counts, to see a run finish). The producer sends.
const std::vector<std::string> kProducerQueueActions = {"sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:SendMessage"};
// The SQS trigger polls with the consumer's role (ReceiveMessage, DeleteMessage,
// GetQueueAttributes); the consumer's code itself never deletes a message.
const std::vector<std::string> kConsumerQueueActions = {"sqs:GetQueueUrl", "sqs:GetQueueAttributes",
                                                        "sqs:ReceiveMessage", "sqs:DeleteMessage"};
// Results and error records: PutObject (multipart uploads need it too) and the abort of a failed
// multipart upload.
const std::vector<std::string> kSinkActions = {"s3:PutObject", "s3:AbortMultipartUpload"};
const std::vector<std::string> kLogActions = {"logs:CreateLogStream", "logs:PutLogEvents"};
// Comprehend's sentiment calls take no resource ARN: "*" is the only form AWS accepts.
const std::vector<std::string> kComprehendActions = {"comprehend:BatchDetectSentiment", "comprehend:DetectSentiment"};

bool reserved_by_lambda(const std::string& name) {
  return name.starts_with("AWS_") || name.starts_with("LAMBDA_") || name.starts_with("_");
}

// Every ${NAME} / ${NAME:-default} in `text` (the syntax of config/loader.cc's
// substitute_environment; "$$" escapes a dollar), with its default.
void collect_references(std::string_view text, std::map<std::string, std::optional<std::string>>& out) {
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '$') continue;
    if (text[i + 1] == '$') {
      ++i;
      continue;
    }
    if (text[i + 1] != '{') continue;
    const auto close = text.find('}', i + 2);
    if (close == std::string_view::npos) return;
    const auto reference = text.substr(i + 2, close - i - 2);
    const auto marker = reference.find(":-");
    std::string name(reference.substr(0, marker));
    auto& slot = out[name];
    if (marker != std::string_view::npos && !slot) slot = std::string(reference.substr(marker + 2));
    i = close;
  }
}

void walk_scalars(const YAML::Node& node, const std::function<void(const std::string&)>& visit) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: visit(node.Scalar()); break;
    case YAML::NodeType::Sequence:
      for (const auto& child : node) walk_scalars(child, visit);
      break;
    case YAML::NodeType::Map:
      for (const auto& pair : node) {
        walk_scalars(pair.first, visit);
        walk_scalars(pair.second, visit);
      }
      break;
    default: break;
  }
}

void check_deployable(const PipelineConfig& c) {
  std::vector<std::string> local;
  if (c.source.table.backend != TableLocation::Backend::dynamodb) local.push_back("source.table " + c.source.table.uri);
  if (c.queue.url.backend != QueueLocation::Backend::sqs) local.push_back("queue.url " + c.queue.url.uri);
  if (c.sink.store.backend != StoreLocation::Backend::s3) local.push_back("sink.store " + c.sink.store.uri);
  if (!local.empty()) {
    std::string list;
    for (const auto& l : local) list += (list.empty() ? "" : ", ") + l;
    throw invalid_input(fmt::format(
        "template needs dynamodb://, sqs:// and s3:// URIs (source.table, queue.url, sink.store): Lambda has no "
        "durable disk, so local tables, queues and folders cannot be deployed; {} {} local",
        list, local.size() == 1 ? "is" : "are"));
  }
  const seconds timeout = lambda_function_timeout(c);
  const auto visibility = std::chrono::duration_cast<seconds>(c.queue.visibility_timeout);
  if (visibility < 6 * timeout)
    throw invalid_input(fmt::format(
        "queue.visibility_timeout ({}) must be at least 6 times the consumer function's timeout ({}s, "
        "lambda.timeout), as AWS asks of SQS triggers so that a batch retried by Lambda is not delivered twice: raise "
        "queue.visibility_timeout to {}s or lower lambda.timeout to {}s",
        format_duration(c.queue.visibility_timeout), timeout.count(), 6 * timeout.count(),
        std::max<int64_t>(visibility.count() / 6, 1)));
  if (c.consumer.batch_size > 10 && c.consumer.batch_window < seconds{1})
    throw invalid_input(
        fmt::format("consumer.batch_size is {}: Lambda's SQS trigger takes more than 10 messages per "
                    "batch only with a consumer.batch_window of at least 1s",
                    c.consumer.batch_size));
}

}  // namespace

seconds lambda_function_timeout(const PipelineConfig& config) {
  if (config.lambda.timeout > seconds{0}) return std::min(config.lambda.timeout, kMaxLambdaTimeout);
  const auto visibility = std::chrono::duration_cast<seconds>(config.queue.visibility_timeout);
  return std::clamp(visibility / 6, seconds{1}, kMaxLambdaTimeout);
}

seconds producer_function_timeout(const PipelineConfig& config) {
  // A config built without a file (not by the loader) has only the value to go by.
  const bool named = config.lambda.timeout_set || (config.file.empty() && config.lambda.timeout > seconds{0});
  if (named) return std::min(config.lambda.timeout, kMaxLambdaTimeout);
  return kMaxLambdaTimeout;
}

std::map<std::string, std::string> referenced_environment(const std::filesystem::path& pipeline_file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(pipeline_file.string());
  } catch (const YAML::Exception& e) {
    throw invalid_input(fmt::format("{}: {}", pipeline_file.string(), e.what()));
  }
  // Only values are substituted (the loader reads comments as comments), so only scalars count.
  std::map<std::string, std::optional<std::string>> references;
  walk_scalars(root, [&](const std::string& scalar) { collect_references(scalar, references); });
  std::map<std::string, std::string> out;
  for (const auto& [name, fallback] : references) {
    if (reserved_by_lambda(name)) continue;
    const char* value = std::getenv(name.c_str());
    if (value != nullptr && *value != '\0')
      out[name] = value;
    else if (fallback)
      out[name] = *fallback;
    else
      out[name] = "";  // set but empty (unset without a default: the loader refused the file already)
  }
  return out;
}

SamTemplate render_sam_template(const PipelineConfig& c, const SamTemplateOptions& options) {
  check_deployable(c);
  if (std::find(kRetentionDays.begin(), kRetentionDays.end(), options.log_retention_days) == kRetentionDays.end())
    throw invalid_input(
        fmt::format("{} days is not a CloudWatch Logs retention; use one of 1, 3, 5, 7, 14, 30, 60, "
                    "90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653",
                    options.log_retention_days));
  if (options.code_uri.empty()) throw invalid_input("the functions' code URI is empty");

  SamTemplate result;
  if (c.aws.endpoint_url)
    result.warnings.push_back(
        fmt::format("aws.endpoint_url is set ({}): the deployed functions will call it instead "
                    "of AWS's own endpoints",
                    c.aws.endpoint_url->text));
  if (c.aws.profile)
    result.warnings.push_back(
        "aws.profile is set: Lambda has no profile files, so the functions will fail to find "
        "their credentials; remove it from the file you deploy");
  if (c.consumer.min_concurrency > 0)
    result.warnings.push_back("consumer.concurrency.min does not apply on Lambda: the SQS trigger scales from zero");
  if (c.consumer.max_concurrency > 1000)
    throw invalid_input("consumer.concurrency.max is above 1000, the most an SQS trigger allows");

  const seconds consumer_timeout = lambda_function_timeout(c);
  const seconds producer_timeout = producer_function_timeout(c);
  const std::string producer_name = c.name + "-producer";
  const std::string consumer_name = c.name + "-consumer";
  const std::string state_table = c.name + "-state";
  const std::string object_arn =
      fmt::format("arn:${{AWS::Partition}}:s3:::{}/{}*", c.sink.store.bucket, c.sink.store.prefix);
  const auto environment = referenced_environment(c.file);

  Out o;
  o.e.SetIndent(2);
  o.e << YAML::Comment(
      fmt::format("Rendered by `sentiflow template {}`. Do not edit: change the pipeline file and "
                  "render again.",
                  c.file.filename().string()));
  o.e << YAML::Newline;
  o.e << YAML::BeginMap;
  o.quoted("AWSTemplateFormatVersion", "2010-09-09");
  o.text("Transform", "AWS::Serverless-2016-10-31");
  o.text("Description", fmt::format("sentiflow pipeline {}: a scheduled producer scans {} into {}; the consumer "
                                    "analyses each item's sentiment into {}",
                                    c.name, c.source.table.uri, c.queue.url.uri, c.sink.store.uri));
  o.begin_map("Resources");

  // --- data: the source table, the queue and its dead letters, the run state, the results.
  emit_dynamodb_table(o, "SourceTable", c.source.table.name, {{c.source.key, "HASH"}}, true);

  o.begin_map("Queue");
  o.text("Type", "AWS::SQS::Queue");
  o.begin_map("Properties");
  o.quoted("QueueName", c.queue.url.name);
  o.number("VisibilityTimeout", std::chrono::duration_cast<seconds>(c.queue.visibility_timeout).count());
  o.number("MessageRetentionPeriod", std::chrono::duration_cast<seconds>(c.queue.retention).count());
  o.number("MaximumMessageSize", static_cast<int64_t>(c.queue.message_size_limit));
  o.begin_map("RedrivePolicy");
  o.get_att("deadLetterTargetArn", "DeadLetterQueue.Arn");
  o.number("maxReceiveCount", c.queue.max_receive_count);
  o.end_map();
  o.end_map();
  o.end_map();

  o.begin_map("DeadLetterQueue");
  o.text("Type", "AWS::SQS::Queue");
  o.begin_map("Properties");
  o.quoted("QueueName", c.queue.dead_letter);
  o.number("MessageRetentionPeriod", kDeadLetterRetention.count());
  o.number("MaximumMessageSize", static_cast<int64_t>(c.queue.message_size_limit));
  o.end_map();
  o.end_map();

  emit_dynamodb_table(o, "StateTable", state_table, {{"pk", "HASH"}, {"sk", "RANGE"}}, false);

  o.begin_map("ResultsBucket");
  o.text("Type", "AWS::S3::Bucket");
  o.text("DeletionPolicy", "Retain");  // the results outlive the stack
  o.text("UpdateReplacePolicy", "Retain");
  o.begin_map("Properties");
  o.quoted("BucketName", c.sink.store.bucket);
  o.begin_map("PublicAccessBlockConfiguration");
  for (const char* k : {"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"})
    o.boolean(k, true);
  o.end_map();
  o.begin_map("BucketEncryption");
  o.begin_seq("ServerSideEncryptionConfiguration");
  o.e << YAML::BeginMap;
  o.begin_map("ServerSideEncryptionByDefault");
  o.text("SSEAlgorithm", "AES256");
  o.end_map();
  o.end_map();
  o.end_seq();
  o.end_map();
  o.end_map();
  o.end_map();

  // --- the functions. Their names are fixed, so that the roles and log groups can name them
  // without a reference cycle (role -> function ARN -> role).
  const auto function_common = [&](const std::string& name, const std::string& handler, seconds timeout,
                                   const std::string& role, const std::string& log_group) {
    o.text("Type", "AWS::Serverless::Function");
    // The log group exists first, so Lambda never creates one without a retention.
    o.text("DependsOn", log_group);
    o.begin_map("Properties");
    o.quoted("FunctionName", name);
    o.text("Handler", handler);
    o.text("Runtime", "provided.al2023");
    o.flow_list("Architectures", {architecture()});
    o.quoted("CodeUri", options.code_uri);
    o.number("MemorySize", c.lambda.memory_mb);
    o.number("Timeout", timeout.count());
    o.get_att("Role", role + ".Arn");
    o.begin_map("Environment");
    o.begin_map("Variables");
    o.ref("SENTIFLOW_STATE_TABLE", "StateTable");
    for (const auto& [variable, value] : environment) o.quoted(variable, value);
    o.end_map();
    o.end_map();
  };

  o.begin_map("ProducerFunction");
  function_common(producer_name, "producer", producer_timeout, "ProducerRole", "ProducerLogGroup");
  if (c.schedule) {
    o.begin_map("Events");
    o.begin_map("Tick");
    if (c.schedule->kind() == Schedule::Kind::at) {
      // EventBridge rules have no at(); the Scheduler has, and passes the scheduled time in.
      o.text("Type", "ScheduleV2");
      o.begin_map("Properties");
      o.quoted("ScheduleExpression", c.schedule->expression());
      o.text("ScheduleExpressionTimezone", "UTC");
      o.begin_map("FlexibleTimeWindow");
      o.quoted("Mode", "OFF");
      o.end_map();
      o.quoted("Input", R"({"time": "<aws.scheduler.scheduled-time>"})");
      o.end_map();
    } else {
      o.text("Type", "Schedule");
      o.begin_map("Properties");
      o.quoted("Schedule", c.schedule->expression());
      o.boolean("Enabled", true);
      o.end_map();
    }
    o.end_map();
    o.end_map();
  }
  o.end_map();
  o.end_map();

  o.begin_map("ConsumerFunction");
  function_common(consumer_name, "consumer", consumer_timeout, "ConsumerRole", "ConsumerLogGroup");
  o.begin_map("Events");
  o.begin_map("Queue");
  o.text("Type", "SQS");
  o.begin_map("Properties");
  o.get_att("Queue", "Queue.Arn");
  o.number("BatchSize", c.consumer.batch_size);
  o.number("MaximumBatchingWindowInSeconds", std::chrono::duration_cast<seconds>(c.consumer.batch_window).count());
  o.flow_list("FunctionResponseTypes", {"ReportBatchItemFailures"});
  o.begin_map("ScalingConfig");
  o.number("MaximumConcurrency", std::max(2, c.consumer.max_concurrency));  // AWS's range is 2-1000
  o.end_map();
  o.end_map();
  o.end_map();
  o.end_map();
  o.end_map();
  o.end_map();

  // --- least privilege: each role names the exact actions its function's code sends, on this
  // pipeline's resources only.
  const Statement logs_producer{kLogActions, {Arn::Form::get_att, "ProducerLogGroup.Arn"}};
  const Statement logs_consumer{kLogActions, {Arn::Form::get_att, "ConsumerLogGroup.Arn"}};
  const Statement sink{kSinkActions, {Arn::Form::sub, object_arn}};
  std::vector<Statement> producer = {
      logs_producer,
      {kSourceTableActions, {Arn::Form::get_att, "SourceTable.Arn"}},
      {kProducerQueueActions, {Arn::Form::get_att, "Queue.Arn"}},
      {kProducerStateActions, {Arn::Form::get_att, "StateTable.Arn"}},
      sink,  // error records of items that cannot be sent
      // A run cut by the deadline goes on in a fresh invocation of this same function.
      {{"lambda:InvokeFunction"},
       {Arn::Form::sub, "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + producer_name}},
  };
  std::vector<Statement> consumer = {
      logs_consumer,
      {kConsumerQueueActions, {Arn::Form::get_att, "Queue.Arn"}},
      {kConsumerStateActions, {Arn::Form::get_att, "StateTable.Arn"}},
      sink,
  };
  if (c.sentiment.engine == SentimentEngine::comprehend)
    consumer.push_back({kComprehendActions, {Arn::Form::literal, "*"}});
  emit_role(o, "ProducerRole", "producer", producer);
  emit_role(o, "ConsumerRole", "consumer", consumer);
  emit_log_group(o, "ProducerLogGroup", producer_name, options.log_retention_days);
  emit_log_group(o, "ConsumerLogGroup", consumer_name, options.log_retention_days);
  o.end_map();  // Resources

  o.begin_map("Outputs");
  const auto output = [&](const std::string& id, const std::string& description, bool get_att,
                          const std::string& target) {
    o.begin_map(id);
    o.text("Description", description);
    if (get_att)
      o.get_att("Value", target);
    else
      o.ref("Value", target);
    o.end_map();
  };
  output("QueueUrl", "The queue the producer fills", false, "Queue");
  output("DeadLetterQueueUrl", "Messages that failed max_receive_count times", false, "DeadLetterQueue");
  output("ResultsBucketName", "The results, under the sink's prefix", false, "ResultsBucket");
  output("SourceTableName", "The table the producer scans", false, "SourceTable");
  output("StateTableName", "The runs, checkpoints and leases", false, "StateTable");
  output("ProducerFunctionArn", "The scheduled producer", true, "ProducerFunction.Arn");
  output("ConsumerFunctionArn", "The SQS-triggered consumer", true, "ConsumerFunction.Arn");
  o.end_map();
  o.end_map();

  if (!o.e.good()) throw Error(ErrorCode::internal, fmt::format("rendering the template: {}", o.e.GetLastError()));
  result.yaml = std::string(o.e.c_str()) + "\n";
  return result;
}

}  // namespace sentiflow::deploy
