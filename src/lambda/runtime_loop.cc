#include "lambda/runtime_loop.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "core/error.h"
#include "observe/log.h"

namespace sentiflow::lambda {
namespace {

constexpr std::string_view kApiVersion = "2018-06-01";
constexpr std::string_view kErrorTypeHeader = "Lambda-Runtime-Function-Error-Type";
// How often `next` may fail in a row before the loop gives up: Lambda's API on the same host
// does not fail while the sandbox lives, so repeated failures mean it is going away.
constexpr int kNextAttempts = 3;

std::string error_type_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid_input: return "Sentiflow.InvalidInput";
    case ErrorCode::not_found: return "Sentiflow.NotFound";
    case ErrorCode::throttled: return "Sentiflow.Throttled";
    case ErrorCode::transient: return "Sentiflow.Transient";
    case ErrorCode::conflict: return "Sentiflow.Conflict";
    case ErrorCode::internal: return "Sentiflow.Internal";
  }
  return "Sentiflow.Internal";
}

// The JSON text of `value`; invalid UTF-8 (a message quoting bad input) is replaced, not thrown.
std::string dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Sets or unsets _X_AMZN_TRACE_ID for the invocation (X-Ray's SDKs and our own AWS calls read
// it). Between invocations no thread of a handler runs, so changing the environment is safe.
void export_trace_id(const std::string& trace_id) {
  if (trace_id.empty())
    ::unsetenv("_X_AMZN_TRACE_ID");
  else
    ::setenv("_X_AMZN_TRACE_ID", trace_id.c_str(), 1);
}

}  // namespace

InvocationError current_invocation_error() {
  try {
    throw;
  } catch (const Error& e) {
    return {error_type_of(e.code()), e.what()};
  } catch (const std::exception& e) {
    return {"Runtime.UnknownReason", e.what()};
  } catch (...) {
    return {"Runtime.UnknownReason", "unknown exception"};
  }
}

std::string error_document(const InvocationError& error) {
  nlohmann::ordered_json doc;
  doc["errorMessage"] = error.message;
  doc["errorType"] = error.type;
  doc["stackTrace"] = nlohmann::json::array();
  return dump(doc);
}

RuntimeApiClient::RuntimeApiClient(std::string api)
    : base_(fmt::format("http://{}/{}/runtime", api, kApiVersion)), http_("sentiflow-runtime") {}

RuntimeApiClient::Invocation RuntimeApiClient::next() {
  HttpRequest request;
  request.url = base_ + "/invocation/next";
  // The sandbox may be frozen for minutes between events: no limit on the whole exchange.
  request.timeout = std::chrono::milliseconds(0);
  request.use_proxy = false;  // see the class comment
  const HttpResponse response = http_.send(request);
  if (response.status != 200)
    throw Error(ErrorCode::internal, fmt::format("the Runtime API answered {} to invocation/next: {}", response.status,
                                                 response.body.substr(0, 200)));
  Invocation invocation;
  invocation.context.request_id = response.header("Lambda-Runtime-Aws-Request-Id").value_or("");
  if (invocation.context.request_id.empty())
    throw Error(ErrorCode::internal, "the Runtime API's event has no Lambda-Runtime-Aws-Request-Id");
  const std::string deadline = response.header("Lambda-Runtime-Deadline-Ms").value_or("");
  try {
    size_t used = 0;
    const long long ms = std::stoll(deadline, &used);
    if (used != deadline.size()) throw std::invalid_argument("trailing text");
    invocation.context.deadline = Millis(std::chrono::milliseconds(ms));
  } catch (const std::exception&) {
    // Lambda always sends it; without one the handler may use the function's whole time, which
    // it cannot know: treat the invocation as due now rather than run into a kill.
    log::warn("the event has no valid Lambda-Runtime-Deadline-Ms; handling it as due now",
              {{"value", deadline}, {"requestId", invocation.context.request_id}});
    invocation.context.deadline = now_millis();
  }
  invocation.context.function_arn = response.header("Lambda-Runtime-Invoked-Function-Arn").value_or("");
  invocation.context.trace_id = response.header("Lambda-Runtime-Trace-Id").value_or("");
  invocation.event = response.body;
  return invocation;
}

long RuntimeApiClient::post(const std::string& path, const std::string& body, const std::string& error_type) {
  HttpRequest request;
  request.method = "POST";
  request.url = base_ + path;
  request.body = body;
  request.use_proxy = false;  // see the class comment
  request.headers.emplace_back("Content-Type", "application/json");
  if (!error_type.empty()) request.headers.emplace_back(std::string(kErrorTypeHeader), error_type);
  return http_.send(request).status;
}

long RuntimeApiClient::respond(const std::string& request_id, const std::string& answer) {
  return post("/invocation/" + request_id + "/response", answer, "");
}

long RuntimeApiClient::fail(const std::string& request_id, const InvocationError& error) {
  return post("/invocation/" + request_id + "/error", error_document(error), error.type);
}

long RuntimeApiClient::init_error(const InvocationError& error) {
  return post("/init/error", error_document(error), error.type);
}

namespace {

// The registry's values as EmfReporter compares them: counters and gauges by series, histograms
// as <family>_sum and <family>_count. Metrics::snapshot() names series `family{k="v",…}`.
std::map<EmfReporter::Series, double> flatten(const Metrics& metrics) {
  std::map<EmfReporter::Series, double> out;
  const nlohmann::json snapshot = metrics.snapshot();
  for (auto it = snapshot.begin(); it != snapshot.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& value = it.value();
    const auto brace = key.find('{');
    const std::string family = key.substr(0, brace);
    EmfReporter::Labels labels;
    if (brace != std::string::npos) {
      // k="v" pairs, values escaped as in the Prometheus text format (\\, \", \n).
      size_t i = brace + 1;
      while (i < key.size() && key[i] != '}') {
        const size_t eq = key.find('=', i);
        if (eq == std::string::npos || eq + 1 >= key.size() || key[eq + 1] != '"') break;
        std::string name = key.substr(i, eq - i), text;
        size_t j = eq + 2;
        for (; j < key.size() && key[j] != '"'; ++j) {
          if (key[j] == '\\' && j + 1 < key.size()) {
            ++j;
            text += key[j] == 'n' ? '\n' : key[j];
          } else {
            text += key[j];
          }
        }
        labels.emplace_back(std::move(name), std::move(text));
        i = j + 1;
        if (i < key.size() && key[i] == ',') ++i;
      }
    }
    if (value.is_object()) {
      out[{family + "_sum", labels}] = value.value("sum", 0.0);
      out[{family + "_count", labels}] = value.value("count", 0.0);
    } else if (value.is_number()) {
      out[{family, std::move(labels)}] = value.get<double>();
    }
  }
  return out;
}

bool is_counter(const std::string& name) {
  return name.ends_with("_total") || name.ends_with("_sum") || name.ends_with("_count");
}

}  // namespace

EmfReporter::EmfReporter(const Metrics& metrics, std::string function, std::string pipeline)
    : metrics_(metrics), function_(std::move(function)), pipeline_(std::move(pipeline)), last_(flatten(metrics)) {}

std::vector<std::string> EmfReporter::lines(Millis now) {
  std::map<Series, double> current = flatten(metrics_);
  // What changed, by label set: each set is one line, its labels the line's dimensions.
  std::map<Labels, std::vector<std::pair<std::string, double>>> changed;
  for (const auto& [series, value] : current) {
    const auto before = last_.find(series);
    const double previous = before == last_.end() ? 0 : before->second;
    if (before != last_.end() && value == previous) continue;
    const bool counter = is_counter(series.first);
    const double shown = counter ? value - previous : value;
    if (counter && shown == 0) continue;
    changed[series.second].emplace_back(series.first, shown);
  }
  last_ = std::move(current);
  std::vector<std::string> out;
  for (const auto& [labels, metrics] : changed) {
    nlohmann::ordered_json dimensions = nlohmann::ordered_json::array({"function", "pipeline"});
    for (const auto& [name, value] : labels) dimensions.push_back(name);
    nlohmann::ordered_json definitions = nlohmann::json::array();
    for (const auto& [name, value] : metrics) {
      const char* unit = name.ends_with("_seconds_sum") ? "Seconds" : is_counter(name) ? "Count" : "None";
      definitions.push_back({{"Name", name}, {"Unit", unit}});
    }
    nlohmann::ordered_json line;
    line["_aws"] = {{"Timestamp", now.time_since_epoch().count()},
                    {"CloudWatchMetrics",
                     nlohmann::ordered_json::array({{{"Namespace", "sentiflow"},
                                                     {"Dimensions", nlohmann::ordered_json::array({dimensions})},
                                                     {"Metrics", std::move(definitions)}}})}};
    line["function"] = function_;
    line["pipeline"] = pipeline_;
    // CloudWatch takes no empty dimension value.
    for (const auto& [name, value] : labels) line[name] = value.empty() ? "-" : value;
    for (const auto& [name, value] : metrics) line[name] = value;
    out.push_back(dump(line));
  }
  return out;
}

int run_lambda_runtime(const LambdaRuntimeOptions& options, const std::function<LambdaFunction()>& init) {
  RuntimeApiClient api(options.api);
  std::ostream& metrics_out = options.metrics_out ? *options.metrics_out : std::cout;
  Metrics& metrics = options.metrics ? *options.metrics : Metrics::global();

  LambdaFunction function;
  try {
    function = init();
    if (!function.handler) throw Error(ErrorCode::internal, "the function was initialised without a handler");
  } catch (...) {
    const InvocationError error = current_invocation_error();
    log::error("initialisation failed", {{"errorType", error.type}, {"error", error.message}});
    try {
      api.init_error(error);
    } catch (const Error& e) {
      log::error("could not report the initialisation error", {{"error", e.what()}});
    }
    return 1;
  }
  EmfReporter emf(metrics, function.name, function.pipeline);
  log::debug("initialised", {{"function", function.name}, {"pipeline", function.pipeline}});

  int failures = 0;
  while (true) {
    RuntimeApiClient::Invocation invocation;
    try {
      invocation = api.next();
      failures = 0;
    } catch (const Error& e) {
      if (++failures >= kNextAttempts) {
        log::error("the Runtime API cannot be reached; stopping", {{"error", e.what()}});
        return 1;
      }
      log::warn("invocation/next failed; trying again", {{"error", e.what()}, {"attempt", failures}});
      // A short pause before the next try, not a wait for a condition: the API either comes
      // back at once or the sandbox is going away.
      std::this_thread::sleep_for(std::chrono::milliseconds(50 * failures));
      continue;
    }
    const InvocationContext& context = invocation.context;
    log::set_request_id(context.request_id);
    export_trace_id(context.trace_id);
    log::debug("invocation", {{"traceId", context.trace_id},
                              {"deadline", format_utc_millis(context.deadline)},
                              {"functionArn", context.function_arn}});

    std::optional<std::string> answer;
    std::optional<InvocationError> failure;
    try {
      answer = function.handler(invocation.event, context);
    } catch (...) {
      failure = current_invocation_error();
      log::error("the invocation failed", {{"errorType", failure->type}, {"error", failure->message}});
    }
    try {
      for (const auto& line : emf.lines(options.clock())) metrics_out << line << "\n";
      metrics_out << std::flush;
    } catch (const std::exception& e) {
      log::warn("could not write the metrics line", {{"error", e.what()}});
    }
    try {
      if (answer) {
        const long status = api.respond(context.request_id, *answer);
        if (status == 413) {
          // Over Lambda's payload limit: the invocation fails with a reason instead of hanging.
          failure =
              InvocationError{"Function.ResponseSizeTooLarge",
                              fmt::format("the answer of {} bytes is over Lambda's payload limit", answer->size())};
          log::error("the answer is too large", {{"bytes", answer->size()}});
        } else if (status != 202) {
          log::error("the Runtime API refused the answer", {{"status", status}});
        }
      }
      if (failure) {
        const long status = api.fail(context.request_id, *failure);
        if (status != 202) log::error("the Runtime API refused the error", {{"status", status}});
      }
    } catch (const Error& e) {
      // The next `next` tells whether the API is still there.
      log::error("could not post the outcome of the invocation", {{"error", e.what()}});
    }
    log::set_request_id("");
  }
}

}  // namespace sentiflow::lambda
