#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "core/time.h"
#include "schedule/schedule.h"

namespace sentiflow::cli {

namespace {
const Seconds kLastPrintable = parse_utc("9999-12-31T23:59:59Z");
}  // namespace

void add_schedule_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("schedule", "Print the next fire times of a rate(), cron() or at() expression");
  struct Options {
    std::string expression;
    std::string from;
    int count = 5;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("EXPR", options->expression, "e.g. 'rate(1 hour)', 'cron(0 10 * * ? *)', 'at(2026-12-24T18:00:00)'")
      ->required();
  cmd->add_option("--from", options->from, "Start after this UTC time (YYYY-MM-DDTHH:MM:SSZ); default: now");
  cmd->add_option("--count", options->count, "How many fire times")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->footer(
      "Prints one ISO-8601 UTC time per line; fewer when fewer exist. Exit status 2 for an invalid expression.");
  cmd->callback([options, &status] {
    const Schedule schedule = Schedule::parse(options->expression);
    Seconds t = options->from.empty() ? now_seconds() : parse_utc(options->from);
    std::string out;
    for (int i = 0; i < options->count; ++i) {
      const auto next = schedule.next_fire_time(t);
      // ISO-8601 has four-digit years; nothing is scheduled past 9999 anyway.
      if (!next || *next > kLastPrintable) break;
      out += format_utc(*next) + "\n";
      t = *next;
    }
    std::cout << out;
    status = 0;
  });
}

}  // namespace sentiflow::cli
