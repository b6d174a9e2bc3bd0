#include "cli/app.h"

#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "lambda/bootstrap.h"
#include "core/error.h"
#include "core/secrets.h"
#include "core/time.h"
#include "core/version.h"
#include "observe/log.h"

namespace sentiflow::cli {
namespace {

// Errors that end a command: a plain line for people, a JSON line when logs are JSON.
// Written whatever --log-level says: a command must never fail without a word.
int report(const Error& error, log::Format format) {
  if (format == log::Format::json)
    std::cerr << redact_secrets(log::render(format, log::Level::error, format_utc_millis(now_millis()), error.what(),
                                            {{"code", std::string(to_string(error.code()))}}))
              << "\n";
  else
    std::cerr << "sentiflow: " << redact_secrets(error.what()) << "\n";
  return exit_status(error.code());
}

}  // namespace

int run(int argc, char** argv) {
  if (lambda::wants_lambda_runtime(argc, argv)) return lambda::run_lambda_bootstrap(argc, argv);  // docs/LAMBDA.md
  CLI::App app{
      "sentiflow: a serverless data-engineering pipeline.\n"
      "A schedule starts a producer that scans a table into a queue; elastic consumers analyse each\n"
      "item's sentiment and store the results. Runs on one machine or on AWS.",
      "sentiflow"};
  app.set_version_flag("--version", fmt::format("sentiflow {}", kVersion));
  app.require_subcommand(1);
  app.fallthrough();  // global options may come after the subcommand too

  std::string log_format = "text";
  std::string log_level = "info";
  app.add_option("--log-format", log_format, "Log lines on stderr: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.footer(
      "Exit status: 0 success, 1 the work failed, 2 bad usage or invalid input.\n"
      "Run `sentiflow help COMMAND` for one command's options.");

  int status = 0;
  add_validate_command(app, status);
  add_schedule_command(app, status);
  add_sentiment_command(app, status);
  add_eval_command(app, status);
  add_train_command(app, status);
  add_cost_command(app, status);
  add_queue_command(app, status);
  add_table_command(app, status);
  add_store_command(app, status);
  add_run_command(app, status);
  add_status_command(app, status);
  add_results_command(app, status);
  add_report_command(app, status);
  add_invoke_command(app, status);
  add_event_command(app, status);
  add_package_command(app, status);
  add_template_command(app, status);

  auto* help = app.add_subcommand("help", "Show the help of a command");
  std::string help_topic;
  help->add_option("COMMAND", help_topic, "The command to explain");
  help->callback([&] {
    if (help_topic.empty()) {
      std::cout << app.help();
      return;
    }
    for (auto* sub : app.get_subcommands([](CLI::App*) { return true; }))
      if (sub->get_name() == help_topic) {
        std::cout << sub->help(app.get_name());
        return;
      }
    throw invalid_input(fmt::format("no command '{}'; `sentiflow --help` lists them", help_topic));
  });

  // Logging is configured before any command runs: parse_complete_callback runs after
  // parsing and before the subcommand callbacks.
  app.parse_complete_callback([&] { log::configure(log::parse_format(log_format), log::parse_level(log_level)); });

  const auto format = [&] { return log_format == "json" ? log::Format::json : log::Format::text; };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion&) {
    std::cout << app.version() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "sentiflow: " << e.what() << "\nRun `sentiflow --help` for usage.\n";
    return 2;
  } catch (const Error& e) {
    return report(e, format());
  } catch (const std::exception& e) {
    return report(Error(ErrorCode::internal, fmt::format("internal error: {}", e.what())), format());
  }
  return status;
}

}  // namespace sentiflow::cli
