// Subcommands. Each add_* function registers one subcommand on the application; its
// callback runs the command and stores the exit status in `status`. Commands write their
// output to stdout and diagnostics to stderr, and throw Error for failures they cannot
// report themselves (app.cc turns those into a message and an exit status).
#pragma once

#include <CLI/CLI.hpp>

namespace sentiflow::cli {

void add_validate_command(CLI::App& app, int& status);
void add_schedule_command(CLI::App& app, int& status);
void add_sentiment_command(CLI::App& app, int& status);
void add_eval_command(CLI::App& app, int& status);
void add_train_command(CLI::App& app, int& status);
void add_cost_command(CLI::App& app, int& status);
void add_queue_command(CLI::App& app, int& status);
void add_table_command(CLI::App& app, int& status);
void add_store_command(CLI::App& app, int& status);
void add_results_command(CLI::App& app, int& status);
void add_report_command(CLI::App& app, int& status);
void add_run_command(CLI::App& app, int& status);
void add_status_command(CLI::App& app, int& status);
void add_invoke_command(CLI::App& app, int& status);
void add_event_command(CLI::App& app, int& status);
void add_package_command(CLI::App& app, int& status);
void add_template_command(CLI::App& app, int& status);

}  // namespace sentiflow::cli
