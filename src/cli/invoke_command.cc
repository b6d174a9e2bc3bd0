// `sentiflow invoke producer|consumer --event FILE [--pipeline FILE]`: a Lambda handler run
// locally on an event file, as `sam local invoke` does (docs/LAMBDA.md, "Local invoke"). The
// binary as Lambda's `bootstrap` is lambda/bootstrap.h.
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
#include "core/time.h"
#include "observe/log.h"
#include "lambda/handlers.h"
#include "lambda/runtime_loop.h"
#include "assembly/backends.h"
#include "deploy/sam_template.h"

namespace sentiflow::cli {

void add_invoke_command(CLI::App& app, int& status) {
  auto* cmd =
      app.add_subcommand("invoke",
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
  cmd->add_option("HANDLER", o->handler, "producer or consumer")
      ->required()
      ->check(CLI::IsMember({"producer", "consumer"}));
  cmd->add_option("--event", o->event, "The event file (JSON; - for stdin); `sentiflow event` writes samples")
      ->required();
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
    const std::filesystem::path file =
        o->pipeline.empty() ? lambda::lambda_pipeline_file() : std::filesystem::path(o->pipeline);
    const PipelineConfig config = load_pipeline_or_throw(file);
    const aws::Environment env = aws::process_environment();
    const auto where =
        env("SENTIFLOW_STATE_TABLE") ? assembly::RunStateStore::dynamodb : assembly::RunStateStore::local;
    lambda::LambdaHandlerOptions options;
    options.create_resources = true;
    options.function_name = env("AWS_LAMBDA_FUNCTION_NAME").value_or("");
    const lambda::LambdaFunction function =
        lambda::make_lambda_function(o->handler, config, assembly::open_run_state(config, where), options);

    lambda::InvocationContext context;
    // A request id of the shape Lambda's have, so that local and Lambda logs look alike.
    context.request_id = random_uuid();
    // As long as Lambda would give the function: the timeout `template` sets for it.
    const std::chrono::seconds timeout =
        o->handler == "producer" ? deploy::producer_function_timeout(config) : deploy::lambda_function_timeout(config);
    context.deadline = now_millis() + std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    context.function_arn = fmt::format("arn:aws:lambda:local:000000000000:function:{}-{}", config.name, o->handler);
    log::set_request_id(context.request_id);
    try {
      std::cout << function.handler(event, context) << "\n";
      status = 0;
    } catch (...) {
      const lambda::InvocationError error = lambda::current_invocation_error();
      std::cout << lambda::error_document(error) << "\n";
      log::error("the handler failed", {{"errorType", error.type}, {"error", error.message}});
      // A bad event is the user's to fix (2); any other failure is the work failing (1).
      status = error.type == "Sentiflow.InvalidInput" ? 2 : 1;
    }
    log::set_request_id("");
  });
}

}  // namespace sentiflow::cli
