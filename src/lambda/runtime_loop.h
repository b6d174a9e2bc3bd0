// The Lambda Runtime API client loop: how the sentiflow binary runs as a custom runtime
// (`provided.al2023`, the package's `bootstrap`; docs/LAMBDA.md, "Runtime").
//
// run_lambda_runtime() initialises the function once (the pipeline file, the clients, their
// credentials and the lexicon are built here and stay warm for every invocation of the
// process), then loops: GET /2018-06-01/runtime/invocation/next (no time limit: Lambda freezes
// the process between events), call the handler, POST …/invocation/{id}/response with its
// answer or …/invocation/{id}/error with {"errorMessage", "errorType", "stackTrace": []} and the
// header Lambda-Runtime-Function-Error-Type. A failure during initialisation goes to
// /2018-06-01/runtime/init/error and ends the loop with a non-zero status. Every exception of a
// handler is caught and reported: a failing invocation never ends the process.
//
// Per invocation the loop exports Lambda-Runtime-Trace-Id as _X_AMZN_TRACE_ID (unset when the
// header is absent), makes log lines carry the request id (observe/log.h, Format::lambda) and
// prints one CloudWatch Embedded Metric Format line (EmfReporter) before the answer is posted:
// once the answer is posted Lambda may freeze the process, and output written after it would
// wait for the next thaw.
//
// Threads: run_lambda_runtime runs on one thread and handles one invocation at a time (as Lambda
// does); a handler may start threads of its own for the invocation.
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"
#include "net/http_client.h"
#include "observe/metrics.h"

namespace sentiflow::lambda {

// What Lambda tells a handler about the invocation (the next event's headers).
struct InvocationContext {
  std::string request_id;    // Lambda-Runtime-Aws-Request-Id
  Millis deadline{};         // Lambda-Runtime-Deadline-Ms: when Lambda ends the invocation
  std::string function_arn;  // Lambda-Runtime-Invoked-Function-Arn
  std::string trace_id;      // Lambda-Runtime-Trace-Id; "" when absent

  // Time left before the deadline at `now`; negative once it has passed.
  std::chrono::milliseconds remaining(Millis now) const { return deadline - now; }
};

// A handler: the event's JSON text in, the answer's JSON text out. It throws (Error, or any
// exception) for a failed invocation.
using LambdaHandler = std::function<std::string(std::string_view event, const InvocationContext& context)>;

// What initialisation builds: the handler and the names its metrics carry.
struct LambdaFunction {
  std::string name;      // "producer" | "consumer": the EMF dimension "function"
  std::string pipeline;  // the pipeline's name: the EMF dimension "pipeline"
  LambdaHandler handler;
};

// The error of a failed invocation (or initialisation), as the Runtime API takes it.
struct InvocationError {
  std::string type;     // errorType and Lambda-Runtime-Function-Error-Type, e.g. "Sentiflow.InvalidInput"
  std::string message;  // errorMessage
};

// The error of the exception being handled (call inside a catch block): an Error gives
// "Sentiflow.<Code>" (InvalidInput, NotFound, Throttled, Transient, Conflict, Internal) and its
// message; another std::exception "Runtime.UnknownReason" and its what(); anything else
// "Runtime.UnknownReason", "unknown exception".
InvocationError current_invocation_error();

// {"errorMessage": …, "errorType": …, "stackTrace": []}
std::string error_document(const InvocationError& error);

// One Runtime API endpoint (AWS_LAMBDA_RUNTIME_API, "host:port"). Not thread-safe (one HTTP
// connection, kept alive). Its requests never go through a proxy: the API is on the sandbox's
// own host, and http_proxy or ALL_PROXY set in the function's environment for its outbound calls
// would otherwise carry them to the proxy and the function would never get an event.
class RuntimeApiClient {
 public:
  explicit RuntimeApiClient(std::string api);

  struct Invocation {
    InvocationContext context;
    std::string event;
  };
  // Waits, without a time limit, for the next event. Throws Error(transient) when the API cannot
  // be reached, Error(internal) for an answer that is not an event (a status other than 200, or
  // no request id).
  Invocation next();
  // Posts the answer of invocation `request_id`. Returns the API's status (202 accepted; 413 an
  // answer over Lambda's payload limit; 400/403/500 as the API documents). Throws
  // Error(transient) when the API cannot be reached.
  long respond(const std::string& request_id, const std::string& answer);
  // Posts the failure of invocation `request_id`; the status as respond().
  long fail(const std::string& request_id, const InvocationError& error);
  // Posts a failure to initialise; the status as respond().
  long init_error(const InvocationError& error);

 private:
  long post(const std::string& path, const std::string& body, const std::string& error_type);

  std::string base_;  // http://host:port/2018-06-01/runtime
  HttpClient http_;
};

// Prints the metrics registry as CloudWatch Embedded Metric Format lines (docs/LAMBDA.md,
// "Logs and metrics"): one JSON object per line and per label set, with "_aws" {"Timestamp",
// "CloudWatchMetrics": [{"Namespace": "sentiflow", "Dimensions": [["function", "pipeline",
// <the series' label names>…]], "Metrics": [{"Name", "Unit"}, …]}]}, the dimension values and
// one member per metric, named by its family alone (`sentiflow_aws_requests_total`, its labels
// are dimensions). Only what changed since the previous call is in them: counters (families
// ending in _total) as the increase, histograms as the increase of their _sum (Seconds) and
// _count (Count), other series (gauges) as their value. Not thread-safe.
class EmfReporter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;  // in the series' order
  using Series = std::pair<std::string, Labels>;                    // metric name, labels

  // The registry's values now are the baseline: the first lines hold what changes after this.
  EmfReporter(const Metrics& metrics, std::string function, std::string pipeline);

  // The lines for what changed since the baseline or the last call (which becomes the new
  // baseline), one per label set; none when nothing changed.
  std::vector<std::string> lines(Millis now);

 private:
  const Metrics& metrics_;
  std::string function_;
  std::string pipeline_;
  std::map<Series, double> last_;  // series (with _sum/_count for histograms) -> value
};

struct LambdaRuntimeOptions {
  std::string api;                      // AWS_LAMBDA_RUNTIME_API
  std::ostream* metrics_out = nullptr;  // where EMF lines go; null: stdout
  Metrics* metrics = nullptr;           // null: Metrics::global()
  std::function<Millis()> clock = now_millis;
};

// Runs as described at the top: `init` is called once, before the first `next`; whatever it
// throws is posted to /runtime/init/error and the call returns 1. Then invocations are handled
// until the Runtime API cannot be reached three times in a row (Lambda is shutting the sandbox
// down, or a test's server has stopped): the call returns 1. It never returns otherwise.
int run_lambda_runtime(const LambdaRuntimeOptions& options, const std::function<LambdaFunction()>& init);

}  // namespace sentiflow::lambda
