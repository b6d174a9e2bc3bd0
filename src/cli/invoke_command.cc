// `sentiflow invoke producer|consumer --event FILE [--pipeline FILE]`: a Lambda handler run
// locally on an event file, as `sam local invoke` does (docs/LAMBDA.md, "Local invoke"); and the
// binary's other life as Lambda's `bootstrap`: with AWS_LAMBDA_RUNTIME_API set it runs the
// Runtime API loop (runtime/lambda_runtime.h) instead of the command line.
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "aws/settings.h"
#include "cli/commands.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/strings.h"
#include "core/time.h"
#include "observe/log.h"
#include "runtime/lambda_handlers.h"
#include "runtime/lambda_runtime.h"
#include "runtime/run_state.h"
#include "runtime/sam_template.h"

namespace sentiflow::cli {
namespace {

// A variable of the process's environment; nullopt when unset or empty.
std::optional<std::string> environment(std::string_view name) { return aws::process_environment()(name); }

bool is_handler_name(std::string_view name) { return name == "producer" || name == "consumer"; }

// The log threshold on Lambda: SENTIFLOW_LOG_LEVEL, else the function's application log level
// that Lambda's advanced logging controls export (AWS_LAMBDA_LOG_LEVEL: TRACE … FATAL), else info.
log::Level lambda_log_level() {
  if (const auto level = environment("SENTIFLOW_LOG_LEVEL")) return log::parse_level(to_lower_ascii(*level));
  if (const auto level = environment("AWS_LAMBDA_LOG_LEVEL")) {
    const std::string lower = to_lower_ascii(*level);
    return log::parse_level(lower == "fatal" ? "error" : lower);
  }
  return log::Level::info;
}

}  // namespace

bool wants_lambda_runtime(int argc, char** argv) {
  if (!environment("AWS_LAMBDA_RUNTIME_API")) return false;
  return argc == 1 || (argc == 2 && is_handler_name(argv[1]));
}

int run_lambda_bootstrap(int argc, char** argv) {
  log::configure(log::Format::lambda, log::Level::info);
  runtime::LambdaRuntimeOptions options;
  options.api = environment("AWS_LAMBDA_RUNTIME_API").value_or("");
  const std::string handler = argc >= 2 ? argv[1] : environment("_HANDLER").value_or("");
  return runtime::run_lambda_runtime(options, [&] {
    // Inside init: a bad level is an initialisation error Lambda shows, not a silent exit.
    log::configure(log::Format::lambda, lambda_log_level());
    if (handler.empty()) throw invalid_input("no handler: set the function's Handler (_HANDLER) to producer or consumer");
    return runtime::init_lambda_function(handler);
  });
}

void add_invoke_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("invoke",
                                 "Run a Lambda handler (producer or consumer) locally on an event file, as Lambda would.\n"
                                 "Prints the handler's JSON answer, or when the handler fails its error document, with exit\n"
                                 "status 2 for a bad event and 1 otherwise. The run state is local (state_dir) unless\n"
                                 "SENTIFLOW_STATE_TABLE names a DynamoDB table.");
  struct Options {
    std::string handler;
    std::string event;
    std::string pipeline;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("HANDLER", o->handler, "producer or consumer")->required()->check(CLI::IsMember({"producer", "consumer"}));
  cmd->add_option("--event", o->event, "The event file (JSON; - for stdin); `sentiflow event` writes samples")->required();
  cmd->add_option("--pipeline", o->pipeline,
                  "The pipeline file (default: $SENTIFLOW_PIPELINE, else pipeline.yaml here)");
  cmd->callback([o, &status] {
    std::string event;
    if (o->event == "-") {
      event.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      std::ifstream in(o->event, std::ios::binary);
      if (!in) throw invalid_input(fmt::format("--event: cannot read {}", o->event));
      std::stringstream text;
      text << in.rdbuf();
      event = text.str();
    }
    const std::filesystem::path file = o->pipeline.empty() ? runtime::lambda_pipeline_file() : std::filesystem::path(o->pipeline);
    const PipelineConfig config = load_pipeline_or_throw(file);
    const auto where = environment("SENTIFLOW_STATE_TABLE") ? runtime::RunStateStore::dynamodb : runtime::RunStateStore::local;
    runtime::LambdaHandlerOptions options;
    options.create_resources = true;
    options.function_name = environment("AWS_LAMBDA_FUNCTION_NAME").value_or("");
    const runtime::LambdaFunction function =
        runtime::make_lambda_function(o->handler, config, runtime::open_run_state(config, where), options);

    runtime::InvocationContext context;
    // A request id of the shape Lambda's have, so that local and Lambda logs look alike.
    context.request_id = random_uuid();
    // As long as Lambda would give the function: the timeout `template` sets for it.
    const std::chrono::seconds timeout =
        o->handler == "producer" ? runtime::producer_function_timeout(config) : runtime::lambda_function_timeout(config);
    context.deadline = now_millis() + std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    context.function_arn = fmt::format("arn:aws:lambda:local:000000000000:function:{}-{}", config.name, o->handler);
    log::set_request_id(context.request_id);
    try {
      std::cout << function.handler(event, context) << "\n";
      status = 0;
    } catch (...) {
      const runtime::InvocationError error = runtime::current_invocation_error();
      std::cout << runtime::error_document(error) << "\n";
      log::error("the handler failed", {{"errorType", error.type}, {"error", error.message}});
      // A bad event is the user's to fix (2); any other failure is the work failing (1).
      status = error.type == "Sentiflow.InvalidInput" ? 2 : 1;
    }
    log::set_request_id("");
  });
}

}  // namespace sentiflow::cli
