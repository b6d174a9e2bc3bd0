// The Lambda handlers, `consumer` and `producer`: the pipeline's two functions on AWS, run by
// the runtime loop (lambda/runtime_loop.h) or locally by `sentiflow invoke`. What each takes
// and answers, and the protocol behind it (chunks and the deadline margin, the tick claim, the
// producer lease, continuations, when a run is finished), is in docs/LAMBDA.md, "Handlers".
//
// A handler object keeps its clients (queue, table, sink, analyzer, run state) for its life:
// built once at initialisation, warm for every invocation. Not thread-safe: the runtime loop
// calls a handler from one thread, one invocation at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aws/client.h"
#include "aws/settings.h"
#include "config/pipeline_config.h"
#include "core/time.h"
#include "pipeline/consumer.h"
#include "lambda/runtime_loop.h"
#include "state/run_state.h"

namespace sentiflow::lambda {

// The time a handler keeps for itself before the deadline: the larger of 1 s and a tenth of
// the time the invocation had left when it started. 1 s covers writing one chunk's results and
// posting the answer; a tenth scales with long timeouts, where a chunk may take longer.
std::chrono::milliseconds deadline_margin(std::chrono::milliseconds remaining_at_start);

// How many records the consumer takes between two looks at the deadline: with an enrich step
// its concurrency (one round of fetches), with Comprehend 25 × its concurrency (one round of
// BatchDetectSentiment calls), the smaller when both; with neither, the whole event (VADER
// takes microseconds per record: a 10,000-record event is well inside any margin).
size_t consumer_chunk_size(const PipelineConfig& config);

// Invokes Lambda functions asynchronously: POST /2015-03-31/functions/NAME/invocations with
// X-Amz-Invocation-Type: Event, signed by the AwsClient. Thread-safe.
class LambdaInvoker {
 public:
  // `client` must be a Lambda client (aws::kLambda).
  explicit LambdaInvoker(std::shared_ptr<const aws::AwsClient> client);
  // Queues one invocation of `function` (a name or ARN) with `payload`. Throws the client's
  // Errors, or Error(internal) when Lambda answers other than 202 Accepted.
  void invoke_async(const std::string& function, const std::string& payload) const;

 private:
  std::shared_ptr<const aws::AwsClient> client_;
};

struct LambdaHandlerOptions {
  std::function<Millis()> clock = now_millis;
  // The function a cut producer re-invokes (AWS_LAMBDA_FUNCTION_NAME). Empty: no re-invoke; the
  // answer carries the continuation event instead (`sentiflow invoke` outside Lambda).
  std::string function_name{};
  // Builds the invoker for continuations when first needed; empty: a Lambda client from the
  // pipeline's AWS settings.
  std::function<std::unique_ptr<LambdaInvoker>()> invoker{};
  // Create missing local queues, tables' folders and sink directories (`sentiflow invoke`);
  // false on Lambda, where the SAM template creates every resource and the functions' policies
  // allow no creation.
  bool create_resources = false;
};

// The consumer function: Lambda's SQS event in, {"batchItemFailures": [{"itemIdentifier": id},
// …]} out (ReportBatchItemFailures). pipeline::Consumer does the work, consumer_chunk_size()
// records at a time with a look at the deadline before each chunk; it never deletes a message
// (Lambda deletes those not listed). Builds the sink, the analyzer, the enrich step and the
// queue (for its counts) now; throws what the backends throw for a pipeline that cannot run.
class ConsumerHandler {
 public:
  ConsumerHandler(const PipelineConfig& config, std::shared_ptr<RunState> state, LambdaHandlerOptions options = {});
  ~ConsumerHandler();
  ConsumerHandler(const ConsumerHandler&) = delete;
  ConsumerHandler& operator=(const ConsumerHandler&) = delete;

  // The answer to `event` (Lambda's SQS event as JSON text). Throws Error(invalid_input) for an
  // event that is not an SQS event, and what pipeline::Consumer::handle throws when not even
  // the first chunk's error records can be stored (then every record comes back); when a later
  // chunk's cannot, that chunk and the rest are handed back like records past the deadline.
  std::string operator()(std::string_view event, const InvocationContext& context);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The producer function: an EventBridge rule event, an EventBridge Scheduler input, a
// continuation or a run named by hand in; what this invocation did to which run out. A tick
// claims itself and the run's producer lease is taken in the run state before anything is
// sent, so that a tick starts at most one run and no run is produced by two invocations at
// once. Builds the table, the queue and the sink now.
class ProducerHandler {
 public:
  ProducerHandler(const PipelineConfig& config, std::shared_ptr<RunState> state, LambdaHandlerOptions options = {});
  ~ProducerHandler();
  ProducerHandler(const ProducerHandler&) = delete;
  ProducerHandler& operator=(const ProducerHandler&) = delete;

  // {"run": ID, "status": "produced" | "continued" | "duplicate" | "skipped", "scanned", "sent",
  // "error_records" (this invocation's), and with "continued" "continuation": the event the
  // next invocation gets}. Throws Error(invalid_input) for an event of no known shape, and the
  // table's, queue's or run state's Errors (the lease released first, so a retry resumes).
  std::string operator()(std::string_view event, const InvocationContext& context);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The handler `name` ("producer" or "consumer") of `config`, as the runtime loop takes it.
// Throws Error(invalid_input) naming the handlers for any other name.
LambdaFunction make_lambda_function(std::string_view name, const PipelineConfig& config,
                                    std::shared_ptr<RunState> state, LambdaHandlerOptions options = {});

// The pipeline file on Lambda: SENTIFLOW_PIPELINE when set, else $LAMBDA_TASK_ROOT/pipeline.yaml,
// else pipeline.yaml in the working directory.
std::filesystem::path lambda_pipeline_file(const aws::Environment& env = aws::process_environment());

// What the runtime loop's initialisation does on Lambda: loads the pipeline file
// (lambda_pipeline_file), opens the run state (RunStateStore::dynamodb; SENTIFLOW_RUN_STATE=local
// keeps it in state_dir instead, for a local Runtime API such as @vercel/fun's or our tests'),
// builds handler `name` with the function name from AWS_LAMBDA_FUNCTION_NAME. Throws Error.
LambdaFunction init_lambda_function(std::string_view name);

}  // namespace sentiflow::lambda
