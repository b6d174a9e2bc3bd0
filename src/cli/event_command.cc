// `sentiflow event sqs|schedule …`: sample events for `sentiflow invoke` (docs/LAMBDA.md,
// "Local invoke"), in exactly the shapes Lambda hands the two handlers.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <random>

#include "cli/commands.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/strings.h"
#include "core/time.h"
#include "pipeline/consumer.h"

namespace sentiflow::cli {
namespace {

// The region of an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE).
std::string arn_region(const std::string& arn) {
  const auto parts = split(arn, ':');
  if (parts.size() < 6 || parts[0] != "arn" || parts[3].empty())
    throw invalid_input(fmt::format("--queue-arn '{}' is not an ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)", arn));
  return std::string(parts[3]);
}

void add_sqs(CLI::App& event) {
  auto* cmd = event.add_subcommand("sqs", "An SQS event (Lambda's shape) with one record per body");
  struct Options {
    std::vector<std::string> bodies;
    std::string file;
    std::string queue_arn = "arn:aws:sqs:us-east-1:000000000000:producer";
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--body", o->bodies, "A record's body, as it is (repeat for more records)");
  cmd->add_option("--file", o->file, "A file of bodies, one per line (JSON Lines; empty lines skipped)");
  cmd->add_option("--queue-arn", o->queue_arn, "The queue the records come from")->capture_default_str();
  cmd->callback([o] {
    std::vector<std::string> bodies = o->bodies;
    if (!o->file.empty()) {
      std::ifstream in(o->file, std::ios::binary);
      if (!in) throw invalid_input(fmt::format("--file: cannot read {}", o->file));
      for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!trim(line).empty()) bodies.push_back(line);
      }
    }
    if (bodies.empty()) throw invalid_input("give at least one --body TEXT or a --file of bodies");
    const std::string region = arn_region(o->queue_arn);
    auto random = seeded_random();  // SQS message ids are UUIDs (core/ids.h)
    const Millis now = now_millis();
    pipeline::SqsEvent out;
    for (const std::string& body : bodies) {
      pipeline::SqsEventRecord r;
      r.message_id = random_uuid(random);
      r.receipt_handle = fmt::format("local-{:016x}{:016x}", random(), random());
      r.body = body;
      r.receive_count = 1;
      r.sent_at = now;
      r.first_received_at = now;
      r.sender_id = "AIDAIENQZJOLO23YVJ4VO";  // the placeholder of AWS's sample events
      r.event_source_arn = o->queue_arn;
      r.aws_region = region;
      out.records.push_back(std::move(r));
    }
    std::cout << pipeline::to_json(out) << "\n";
  });
}

void add_schedule(CLI::App& event) {
  auto* cmd = event.add_subcommand(
      "schedule", "A scheduled event: an EventBridge rule's (default) or an EventBridge Scheduler input");
  struct Options {
    std::string time;
    bool scheduler = false;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("--time", o->time, "The tick, e.g. 2026-11-26T06:00:00Z (default: now, to the minute)");
  cmd->add_flag("--scheduler", o->scheduler, "EventBridge Scheduler's input {\"time\": …} instead of a rule's event");
  cmd->callback([o] {
    const Seconds tick = o->time.empty() ? std::chrono::floor<std::chrono::minutes>(now_seconds()) : parse_utc(o->time);
    const std::string time = format_utc(tick);
    if (o->scheduler) {
      std::cout << nlohmann::ordered_json{{"time", time}}.dump() << "\n";
      return;
    }
    nlohmann::ordered_json e;
    e["version"] = "0";
    e["id"] = random_uuid();  // EventBridge event ids are UUIDs
    e["detail-type"] = "Scheduled Event";
    e["source"] = "aws.events";
    e["account"] = "000000000000";
    e["time"] = time;
    e["region"] = "us-east-1";
    e["resources"] = nlohmann::ordered_json::array({"arn:aws:events:us-east-1:000000000000:rule/sentiflow-schedule"});
    e["detail"] = nlohmann::ordered_json::object();
    std::cout << e.dump() << "\n";
  });
}

}  // namespace

void add_event_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("event", "Write a sample Lambda event to stdout (for `sentiflow invoke`)");
  cmd->require_subcommand(1);
  add_sqs(*cmd);
  add_schedule(*cmd);
  cmd->callback([&status] { status = 0; });
}

}  // namespace sentiflow::cli
