#include "lambda/handlers.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <mutex>

#include "aws/endpoints.h"
#include "config/loader.h"
#include "core/error.h"
#include "observe/log.h"
#include "observe/metrics.h"
#include "pipeline/message.h"
#include "pipeline/producer.h"
#include "pipeline/records.h"
#include "assembly/backends.h"
#include "assembly/parts.h"
#include "schedule/schedule.h"

namespace sentiflow::lambda {
namespace {

using std::chrono::milliseconds;

// The error record code of a record the consumer handed back at its deadline on its last
// receive (docs/RESULTS.md): SQS moves it to the dead-letter queue before it comes back.
constexpr std::string_view kDeadlineCode = "deadline";

// The queue as a handler uses it: created with the pipeline's settings by `sentiflow invoke`;
// on Lambda only looked up (the template creates it; the functions may not create queues).
std::unique_ptr<Queue> handler_queue(const PipelineConfig& config, bool create) {
  // A local queue is a file of ours: creating it is harmless anywhere (a local Runtime API).
  create = create || config.queue.url.backend == QueueLocation::Backend::local;
  auto queue = assembly::open_queue(config, create ? assembly::QueueAccess::work : assembly::QueueAccess::inspect);
  if (!queue) throw Error(ErrorCode::not_found, fmt::format("the queue {} does not exist", config.queue.url.uri));
  return queue;
}

// Whether a missing sink may be created: a directory always (a local Runtime API); an S3
// bucket is never created by open_sink_store.
bool creates_sink(const PipelineConfig& config, const LambdaHandlerOptions& options) {
  return options.create_resources || config.sink.store.backend == StoreLocation::Backend::file;
}

// A Table that lends one warm table to the producer's segment threads: the producer asks for a
// table per segment, and opening a DynamoDB table costs a DescribeTable per invocation. Tables
// are safe to share between threads (table/table.h).
class BorrowedTable final : public Table {
 public:
  explicit BorrowedTable(Table& table) : table_(table) {}
  const KeySchema& key_schema() const override { return table_.key_schema(); }
  TableLimits limits() const override { return table_.limits(); }
  void put(std::string_view item) override { table_.put(item); }
  std::vector<std::string> put_batch(std::span<const std::string> items) override { return table_.put_batch(items); }
  std::optional<std::string> get(const ItemKey& key) override { return table_.get(key); }
  bool remove(const ItemKey& key) override { return table_.remove(key); }
  int64_t count() override { return table_.count(); }
  ScanPage scan(const ScanRequest& request) override { return table_.scan(request); }

 private:
  Table& table_;
};

// Marks run `id` finished when it is drained (assembly::finish_if_drained; `own_in_flight`:
// the caller's own records, which Lambda deletes once the answer is in). Failures are logged,
// not thrown: the work itself is done.
void finish_if_drained(RunLog& runs, Queue& queue, const std::string& id, int64_t own_in_flight, Millis now) {
  try {
    if (!assembly::finish_if_drained(runs, queue, id, now, own_in_flight)) return;
    if (const auto run = runs.run(id))
      log::info("run finished", {{"run", id},
                                 {"processed", run->counts.processed},
                                 {"failed", run->counts.failed},
                                 {"dead_letters", run->counts.dead_letters}});
  } catch (const std::exception& e) {
    log::warn("could not check whether the run is finished", {{"run", id}, {"error", e.what()}});
  }
}

}  // namespace

milliseconds deadline_margin(milliseconds remaining_at_start) {
  const milliseconds margin = std::max(milliseconds(1000), remaining_at_start / 10);
  // Never more than half the time: with a timeout of 1 s the handler still gets to work (the
  // first chunk or page always runs; a function that cannot finish one is too short anyway).
  return std::min(margin, std::max(milliseconds(0), remaining_at_start / 2));
}

size_t consumer_chunk_size(const PipelineConfig& config) {
  size_t chunk = SIZE_MAX;
  if (config.consumer.enrich)
    chunk = std::min(chunk, static_cast<size_t>(std::max(1, config.consumer.enrich->concurrency)));
  if (config.sentiment.engine == SentimentEngine::comprehend)
    chunk = std::min(chunk, static_cast<size_t>(25 * std::max(1, config.sentiment.concurrency)));
  return chunk;
}

LambdaInvoker::LambdaInvoker(std::shared_ptr<const aws::AwsClient> client) : client_(std::move(client)) {}

void LambdaInvoker::invoke_async(const std::string& function, const std::string& payload) const {
  aws::AwsRequest request;
  request.operation = "Invoke";
  request.method = "POST";
  request.path = "/2015-03-31/functions/" + function + "/invocations";
  request.headers = {{"Content-Type", "application/json"}, {"X-Amz-Invocation-Type", "Event"}};
  request.body = payload;
  const aws::AwsResponse response = client_->call(request);
  if (response.status != 202)
    throw Error(ErrorCode::internal,
                fmt::format("Lambda Invoke of {}: expected 202 Accepted for an asynchronous call, got {}", function,
                            response.status));
}

// ---------------------------------------------------------------------------------------------
// consumer

struct ConsumerHandler::Impl {
  PipelineConfig config;
  std::shared_ptr<RunState> state;
  LambdaHandlerOptions options;
  assembly::ConsumerParts parts;
  std::unique_ptr<Queue> queue;
  size_t chunk;
  Counter& deferred;

  Impl(const PipelineConfig& c, std::shared_ptr<RunState> s, LambdaHandlerOptions o)
      : config(c),
        state(std::move(s)),
        options(std::move(o)),
        parts(config, creates_sink(config, options)),
        queue(handler_queue(config, options.create_resources)),
        chunk(consumer_chunk_size(config)),
        deferred(Metrics::global().counter("sentiflow_records_deferred_total",
                                           "Records a Lambda consumer handed back unprocessed: its deadline "
                                           "came, or an earlier chunk could not be stored.")) {}

  std::string handle(std::string_view text, const InvocationContext& context) {
    const Millis start = options.clock();
    const Millis cutoff = context.deadline - deadline_margin(context.remaining(start));
    pipeline::SqsEvent event = pipeline::parse_sqs_event(text);
    const size_t n = event.records.size();

    pipeline::BatchOutcome total;
    size_t next = 0;
    std::string why = "the invocation's deadline is near";
    std::string_view why_code = kDeadlineCode;
    while (next < n && options.clock() < cutoff) {
      const size_t end = std::min(n, next + std::min(chunk, n - next));
      pipeline::SqsEvent part;
      // Copied, not moved: a chunk that fails is handed back by its records' ids.
      part.records.assign(event.records.begin() + static_cast<std::ptrdiff_t>(next),
                          event.records.begin() + static_cast<std::ptrdiff_t>(end));
      pipeline::BatchOutcome outcome;
      try {
        outcome = parts.consumer().handle(part);
      } catch (const std::exception& e) {
        // The chunk's results or error records could not be stored. With nothing handled yet the
        // invocation fails (every record comes back, and Lambda counts an error); after earlier
        // chunks were stored, this chunk and the rest are handed back instead, so that the
        // stored ones are not processed again.
        if (next == 0) throw;
        log::error("a chunk could not be stored", {{"error", e.what()}});
        why = "an earlier chunk could not be stored";
        why_code = pipeline::error_codes::kSinkFailed;
        break;
      }
      total += outcome;
      next = end;
    }
    // What the deadline (or a chunk that could not be stored) left: failures for Lambda, so SQS
    // delivers them again after their visibility timeout; not error records (nothing is wrong
    // with them).
    const size_t left = n - next;
    for (size_t i = next; i < n; ++i) {
      total.failures.push_back(event.records[i].message_id);
      total.reasons[event.records[i].message_id] = why;
    }
    if (left > 0) {
      deferred.add(static_cast<double>(left));
      log::warn("handing records back unprocessed", {{"records", left},
                                                     {"handled", next},
                                                     {"why", why},
                                                     {"remaining_ms", context.remaining(options.clock()).count()}});
      record_last_receives(event, next, why_code, why, total);
    }

    // One invocation, however many chunks it handled: each run in it counts one batch.
    for (auto& [run, tally] : total.runs) tally.work.batches = 1;
    // A state that cannot take the counts never fails the stored batch (assembly::record_batch).
    assembly::record_batch(*state, total, state.get());
    if (total.failures.empty())
      for (const auto& [run, tally] : total.runs)
        finish_if_drained(*state, *queue, run, static_cast<int64_t>(n), options.clock());
    log::info("batch handled", {{"records", n},
                                {"failures", total.failures.size()},
                                {"deferred", left},
                                {"ms", (options.clock() - start).count()}});
    return pipeline::batch_response_json(total);
  }

  // The handed-back records of `event` from `from` on that are on (or past) their last receive
  // (receive count >= the queue's max_receive_count): SQS moves them to the dead-letter queue
  // instead of delivering them again, so each gets its error record now (code `code`:
  // `deadline`, or `sink_failed` after a chunk could not be stored) and counts as a failure
  // and a dead letter of its run in `total`, as pipeline::Consumer does for its failures on
  // their last receive. Records of other receives come back and are handled then. Error
  // records that cannot be stored are logged (the dead letters still count): the message is
  // in the dead-letter queue either way.
  void record_last_receives(const pipeline::SqsEvent& event, size_t from, std::string_view code, const std::string& why,
                            pipeline::BatchOutcome& total) {
    const int max = config.queue.max_receive_count;
    if (max <= 0) return;
    const Millis now = options.clock();
    std::map<std::string, std::vector<pipeline::ErrorRecord>> by_run;
    for (size_t i = from; i < event.records.size(); ++i) {
      const pipeline::SqsEventRecord& r = event.records[i];
      if (r.receive_count < max) continue;
      std::string run = "unknown";  // as the consumer records a body that is not a message
      std::string key;
      try {
        pipeline::Message message = pipeline::decode_message(r.body);
        run = std::move(message.run);
        key = std::move(message.key);
      } catch (const Error&) {}
      by_run[run].push_back(pipeline::ErrorRecord{run, key, r.message_id, r.receive_count, std::string(code),
                                                  fmt::format("handed back unprocessed on its last receive: {}", why),
                                                  now});
    }
    for (const auto& [run, records] : by_run) {
      const auto n = static_cast<int64_t>(records.size());
      pipeline::RunTally& tally = total.runs[run];
      tally.dead_letters += n;
      try {
        parts.sink().put_errors(run, records);
      } catch (const std::exception& e) {
        log::error("could not store the error records of records on their last receive",
                   {{"run", run}, {"records", n}, {"error", e.what()}});
        continue;
      }
      tally.failed += n;
      Metrics::global()
          .counter("sentiflow_records_failed_total", "Messages that failed in the consumer, by error code.",
                   {{"code", std::string(code)}})
          .add(static_cast<double>(n));
      log::warn("records on their last receive handed back: the queue dead-letters them",
                {{"run", run}, {"records", n}, {"code", std::string(code)}});
    }
  }
};

ConsumerHandler::ConsumerHandler(const PipelineConfig& config, std::shared_ptr<RunState> state,
                                 LambdaHandlerOptions options)
    : impl_(std::make_unique<Impl>(config, std::move(state), std::move(options))) {}
ConsumerHandler::~ConsumerHandler() = default;

std::string ConsumerHandler::operator()(std::string_view event, const InvocationContext& context) {
  return impl_->handle(event, context);
}

// ---------------------------------------------------------------------------------------------
// producer

namespace {

struct ProducerEvent {
  std::string run;
  RunKind kind = RunKind::scheduled;
  bool tick = false;  // a schedule's tick (not a continuation or a run named by hand)
};

// The run id of a tick at `at`: its whole-second time (DESIGN.md, "Runs"), floored to the
// period for a rate() schedule. EventBridge fires a rate() rule relative to the rule's creation
// (rate(1 hour) created at 10:17 fires at 11:17, 12:17, …) and Scheduler likewise, whereas
// sentiflow's rate ticks are the whole multiples of the period since the Unix epoch (11:00,
// 12:00, …: `sentiflow schedule`, the local scheduler), stable across restarts and redeploys;
// the floor is the epoch-aligned tick at or before `at`, so the ids match and do not move
// when the stack is deployed again. cron() and at() fire at exact times: kept as they are.
std::string tick_run_id(Millis at, const std::optional<Schedule>& schedule) {
  Seconds tick = std::chrono::floor<std::chrono::seconds>(at);
  if (schedule && schedule->kind() == Schedule::Kind::rate && schedule->period().count() > 0) {
    // The first fire time after tick - period is the last one at or before tick.
    if (const auto aligned = next_fire_time(*schedule, tick - schedule->period())) tick = *aligned;
  }
  return format_utc(tick);
}

ProducerEvent parse_producer_event(std::string_view text, const std::optional<Schedule>& schedule) {
  nlohmann::json event;
  try {
    event = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    throw invalid_input("the producer's event is not JSON");
  }
  const auto string_member = [&](const char* name) -> std::optional<std::string> {
    if (!event.is_object() || !event.contains(name)) return std::nullopt;
    if (!event[name].is_string())
      throw invalid_input(fmt::format("the producer's event: \"{}\" is not a string", name));
    return event[name].get<std::string>();
  };
  ProducerEvent out;
  if (const auto run = string_member("run")) {  // a continuation, or a run named by hand
    check_run_id(*run);
    out.run = *run;
    out.kind = is_tick_id(*run) ? RunKind::scheduled : RunKind::manual;
    return out;
  }
  if (const auto time = string_member("time")) {  // EventBridge rule event or Scheduler input
    // EventBridge sends whole seconds, a Scheduler input may carry milliseconds.
    out.run = tick_run_id(parse_utc_millis(*time), schedule);
    out.kind = RunKind::scheduled;
    out.tick = true;
    return out;
  }
  throw invalid_input(
      "the producer takes an EventBridge scheduled event (with \"time\"), an EventBridge Scheduler input "
      "{\"time\": \"<aws.scheduler.scheduled-time>\"} or a continuation {\"run\": ID, \"checkpoint\": true}");
}

}  // namespace

struct ProducerHandler::Impl {
  PipelineConfig config;
  std::shared_ptr<RunState> state;
  LambdaHandlerOptions options;
  std::unique_ptr<Table> table;
  std::unique_ptr<Queue> queue;
  assembly::SinkParts sink;
  std::unique_ptr<LambdaInvoker> invoker;  // made on the first continuation

  Impl(const PipelineConfig& c, std::shared_ptr<RunState> s, LambdaHandlerOptions o)
      : config(c),
        state(std::move(s)),
        options(std::move(o)),
        table(assembly::open_table(config, options.create_resources)),
        queue(handler_queue(config, options.create_resources)),
        sink(config, creates_sink(config, options)) {}

  LambdaInvoker& lambda() {
    if (!invoker) {
      if (options.invoker) {
        invoker = options.invoker();
      } else {
        invoker = std::make_unique<LambdaInvoker>(
            std::make_shared<const aws::AwsClient>(assembly::make_aws_client(config, aws::kLambda)));
      }
    }
    return *invoker;
  }

  static std::string answer(const std::string& run, std::string_view status, const pipeline::ProduceReport& report,
                            const std::optional<nlohmann::json>& continuation = std::nullopt) {
    nlohmann::ordered_json out;
    out["run"] = run;
    out["status"] = status;
    out["scanned"] = report.scanned;
    out["sent"] = report.sent;
    out["error_records"] = report.errors;
    if (continuation) out["continuation"] = *continuation;
    return out.dump();
  }

  std::string handle(std::string_view text, const InvocationContext& context) {
    const ProducerEvent event = parse_producer_event(text, config.schedule);
    const Millis start = options.clock();
    const milliseconds margin = deadline_margin(context.remaining(start));

    std::string id = event.run;
    RunKind kind = event.kind;
    if (event.tick) {
      // EventBridge delivers at least once: of all deliveries of a tick only the one that
      // claims it (last_tick moves forward to it, atomically) may create its run. A delivery
      // whose claim fails is a duplicate or a late, older tick: it only resumes the tick's run
      // when that run exists (its producer may have died), never creates it — the claimer
      // skipped the tick, or resumed an older run instead, or is creating it now. The claim
      // throws when the state cannot be reached: the invocation fails and Lambda's retry of
      // the event claims again.
      if (!state->claim_tick(parse_utc(event.run))) {
        if (!state->run(event.run)) {
          log::info("duplicate or late tick: it was claimed before and has no run of its own", {{"tick", event.run}});
          return answer(event.run, "duplicate", {});
        }
      } else if (const auto blocking = unfinished_before(event.run, start)) {
        // As `sentiflow run`'s scheduler does (DESIGN.md, "Runs"): a tick that comes while a run
        // is unfinished is skipped and counted, not run beside it. A run still producing whose
        // producer is gone (its lease expired: a crash, a lost continuation) is resumed by this
        // invocation instead, as the local scheduler resumes unfinished runs; otherwise nothing
        // would ever finish it and every later tick would be skipped.
        state->add_skipped_tick();
        if (blocking->phase != RunPhase::producing) {
          log::warn("tick skipped: a run is unfinished", {{"tick", event.run}, {"unfinished", blocking->id}});
          return answer(event.run, "skipped", {});
        }
        log::warn("tick skipped: resuming the unfinished run instead", {{"tick", event.run}, {"run", blocking->id}});
        id = blocking->id;
        kind = blocking->kind;
      }
    }
    const RunRecord run = state->start_run(id, kind, start, IfFinished::keep);
    if (run.phase != RunPhase::producing) {
      log::info("duplicate event: the run is already produced",
                {{"run", run.id}, {"phase", std::string(to_string(run.phase))}});
      return answer(run.id, "duplicate", {});
    }
    if (!state->acquire_producer_lease(run.id, context.request_id, start, context.deadline)) {
      log::info("duplicate event: another invocation is producing the run", {{"run", run.id}});
      return answer(run.id, "duplicate", {});
    }
    log::info("producing", {{"run", run.id}, {"attempt", run.attempt}});

    pipeline::ProduceReport report;
    try {
      report = produce(run.id, run.attempt, context, margin);
    } catch (...) {
      release(run.id, context.request_id);
      throw;
    }
    if (report.complete) {
      state->mark_produced(run.id, options.clock());
      release(run.id, context.request_id);
      log::info("produced", {{"run", run.id}, {"sent", report.sent}, {"error_records", report.errors}});
      // Consumers may have drained the queue before the run was marked produced; then no later
      // consumer would look.
      finish_if_drained(*state, *queue, run.id, 0, options.clock());
      return answer(run.id, "produced", report);
    }
    release(run.id, context.request_id);
    const nlohmann::json continuation = {{"run", run.id}, {"checkpoint", true}};
    if (!options.function_name.empty()) {
      lambda().invoke_async(options.function_name, continuation.dump());
      log::info("the deadline is near: the run continues in a new invocation",
                {{"run", run.id}, {"function", options.function_name}, {"sent", report.sent}});
    } else {
      log::info("the deadline is near: invoke the producer again with the continuation event to carry on",
                {{"run", run.id}, {"sent", report.sent}});
    }
    return answer(run.id, "continued", report, continuation);
  }

  void release(const std::string& id, const std::string& owner) {
    try {
      state->release_producer_lease(id, owner);
    } catch (const std::exception& e) {
      // The lease runs out at the invocation's deadline anyway.
      log::warn("could not release the producer lease", {{"run", id}, {"error", e.what()}});
    }
  }

  // The run that keeps the claimed tick `id` from running: the newest unfinished run other
  // than the tick's own, once given a chance to finish (its last consumer may have seen SQS's
  // lagging counts, so its queue is looked at again). One Scan of the state table per claimed
  // tick (docs/LAMBDA.md, "Run state on Lambda": about one item per finished run).
  std::optional<RunRecord> unfinished_before(const std::string& id, Millis now) {
    try {
      const auto unfinished = state->newest_unfinished();
      if (!unfinished || unfinished->id == id) return std::nullopt;
      finish_if_drained(*state, *queue, unfinished->id, 0, now);
      const auto run = state->run(unfinished->id);
      if (run && run->phase != RunPhase::finished) return run;
    } catch (const std::exception& e) {
      // Not knowing must not stop the schedule: the tick runs (runs may then overlap, safely:
      // each message names its run).
      log::warn("could not look for unfinished runs", {{"tick", id}, {"error", e.what()}});
    }
    return std::nullopt;
  }

  pipeline::ProduceReport produce(const std::string& id, int attempt, const InvocationContext& context,
                                  milliseconds margin) {
    std::atomic<bool> stop{false};
    std::mutex mutex;
    std::map<int, Millis> page_started;  // per segment: when its current page began
    milliseconds longest_page{0};
    const Millis begun = options.clock();
    pipeline::Producer producer(
        assembly::producer_options(config, state.get()), [this] { return std::make_unique<BorrowedTable>(*table); },
        *queue, sink.sink());
    return producer.run(
        id, state->checkpoints(id),
        [&](const ScanCheckpoint& c, const pipeline::ProduceReport& page) {
          try {
            // Under the lease: a producer whose lease was taken over gets Error(conflict) and stops.
            assembly::record_page(*state, *state, id, c, page, context.request_id);
          } catch (...) {
            stop = true;
            throw;
          }
          // Stop at this page boundary when the next page might not fit before the margin: a
          // page takes about as long as the longest one so far.
          const Millis now = options.clock();
          std::lock_guard lock(mutex);
          const auto started = page_started.find(c.segment);
          longest_page = std::max(longest_page, now - (started == page_started.end() ? begun : started->second));
          page_started[c.segment] = now;
          if (now + std::max(margin, longest_page) >= context.deadline) stop = true;
        },
        stop, attempt);
  }
};

ProducerHandler::ProducerHandler(const PipelineConfig& config, std::shared_ptr<RunState> state,
                                 LambdaHandlerOptions options)
    : impl_(std::make_unique<Impl>(config, std::move(state), std::move(options))) {}
ProducerHandler::~ProducerHandler() = default;

std::string ProducerHandler::operator()(std::string_view event, const InvocationContext& context) {
  return impl_->handle(event, context);
}

// ---------------------------------------------------------------------------------------------

namespace {

// Throws invalid_input unless `name` names a handler.
void check_handler_name(std::string_view name) {
  if (name != "consumer" && name != "producer")
    throw invalid_input(fmt::format("no handler '{}': the handlers are producer and consumer", name));
}

// A Handler (ConsumerHandler or ProducerHandler) as a LambdaHandler: a std::function must be
// copyable, the handler is not, so the copies share one.
template <typename Handler>
LambdaHandler shared_handler(const PipelineConfig& config, std::shared_ptr<RunState> state,
                             LambdaHandlerOptions options) {
  auto handler = std::make_shared<Handler>(config, std::move(state), std::move(options));
  return [handler](std::string_view event, const InvocationContext& context) { return (*handler)(event, context); };
}

}  // namespace

LambdaFunction make_lambda_function(std::string_view name, const PipelineConfig& config,
                                    std::shared_ptr<RunState> state, LambdaHandlerOptions options) {
  check_handler_name(name);
  LambdaFunction function;
  function.name = std::string(name);
  function.pipeline = config.name;
  function.handler = name == "consumer" ? shared_handler<ConsumerHandler>(config, std::move(state), std::move(options))
                                        : shared_handler<ProducerHandler>(config, std::move(state), std::move(options));
  return function;
}

std::filesystem::path lambda_pipeline_file(const aws::Environment& env) {
  if (const auto file = env("SENTIFLOW_PIPELINE")) return *file;
  if (const auto root = env("LAMBDA_TASK_ROOT")) return std::filesystem::path(*root) / "pipeline.yaml";
  return "pipeline.yaml";
}

LambdaFunction init_lambda_function(std::string_view name) {
  check_handler_name(name);  // before anything is loaded: the clearest error
  const aws::Environment env = aws::process_environment();
  const PipelineConfig config = load_pipeline_or_throw(lambda_pipeline_file(env));
  const auto store = env("SENTIFLOW_RUN_STATE").value_or("dynamodb");
  if (store != "dynamodb" && store != "local")
    throw invalid_input(fmt::format("SENTIFLOW_RUN_STATE '{}' is not one of: dynamodb, local", store));
  std::shared_ptr<RunState> state = assembly::open_run_state(
      config, store == "local" ? assembly::RunStateStore::local : assembly::RunStateStore::dynamodb);
  LambdaHandlerOptions options;
  if (const auto function = env("AWS_LAMBDA_FUNCTION_NAME")) options.function_name = *function;
  return make_lambda_function(name, config, std::move(state), std::move(options));
}

}  // namespace sentiflow::lambda
