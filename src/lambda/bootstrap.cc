#include "lambda/bootstrap.h"

#include <optional>
#include <string>
#include <string_view>

#include "aws/settings.h"
#include "core/error.h"
#include "core/strings.h"
#include "lambda/handlers.h"
#include "lambda/runtime_loop.h"
#include "observe/log.h"

namespace sentiflow::lambda {
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
  LambdaRuntimeOptions options;
  options.api = environment("AWS_LAMBDA_RUNTIME_API").value_or("");
  const std::string handler = argc >= 2 ? argv[1] : environment("_HANDLER").value_or("");
  return run_lambda_runtime(options, [&] {
    // Inside init: a bad level is an initialisation error Lambda shows, not a silent exit.
    log::configure(log::Format::lambda, lambda_log_level());
    if (handler.empty())
      throw invalid_input("no handler: set the function's Handler (_HANDLER) to producer or consumer");
    return init_lambda_function(handler);
  });
}

}  // namespace sentiflow::lambda
