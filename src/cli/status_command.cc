// `sentiflow status FILE [--json]`: runs, queue depths, dead letters and error records of a
// pipeline (docs/RUNNING.md). Reads only: it creates no state and changes no queue.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/secrets.h"
#include "pipeline/cost.h"
#include "pipeline/results.h"
#include "assembly/backends.h"
#include "state/run_state.h"

namespace sentiflow::cli {
namespace {

nlohmann::json counts_json(const QueueCounts& c) {
  return {{"visible", c.visible}, {"in_flight", c.in_flight}, {"delayed", c.delayed}};
}

// Every string of `j` with the environment's values shown as ${NAME} (core/secrets.h): the
// status names the queue and the sink, whose URIs may have come from the environment.
void redact_strings(nlohmann::json& j) {
  if (j.is_string()) {
    j = redact_secrets(j.get<std::string>());
  } else if (j.is_structured()) {
    for (auto& v : j) redact_strings(v);
  }
}

nlohmann::json gather(const PipelineConfig& c, size_t limit) {
  nlohmann::json out = {{"pipeline", c.name}, {"state_dir", c.state_dir.string()}};
  nlohmann::json runs = nlohmann::json::array();
  if (const auto state = assembly::open_existing_run_state(c)) {
    for (const auto& r : state->recent_runs(limit)) runs.push_back(pipeline::run_json_with_cost(r, c));
    const auto last = state->last_tick();
    out["scheduler"] = {{"last_tick", last ? nlohmann::json(format_utc(*last)) : nullptr},
                        {"skipped_ticks", state->skipped_ticks()}};
  }
  out["runs"] = std::move(runs);
  const auto queue = assembly::open_queue(c, assembly::QueueAccess::inspect);
  const auto dead = assembly::open_dead_letter_queue(c, assembly::QueueAccess::inspect);
  out["queue"] = {{"uri", c.queue.url.uri}, {"counts", counts_json(queue ? queue->counts() : QueueCounts{})}};
  // Messages that passed the retention unprocessed, ever (null where the queue does not tell).
  const auto expired = queue ? queue->expired_total() : std::optional<int64_t>(0);
  out["queue"]["expired"] = expired ? nlohmann::json(*expired) : nlohmann::json(nullptr);
  out["dead_letter_queue"] = {{"name", c.queue.dead_letter}, {"messages", dead ? dead->counts().total() : 0}};
  nlohmann::json errors = nlohmann::json::object();
  int64_t error_total = 0;
  std::string missing;
  try {
    // A sink folder not created yet is a null store: no error records.
    if (const auto sink = assembly::open_existing_sink_store(c); sink.store) {
      pipeline::ResultsReader reader(*sink.store, sink.prefix);
      for (const auto& e : reader.errors(std::nullopt)) {
        errors[e.code] = errors.value(e.code, 0) + 1;
        ++error_total;
      }
    }
  } catch (const Error& e) {
    // A bucket that is not there (not created yet, another region or endpoint): as for a
    // sink folder not created yet, the status still shows the rest, and says which bucket.
    if (e.code() != ErrorCode::not_found) throw;
    missing = fmt::format("sink store {}: {}", c.sink.store.uri, e.what());
  }
  out["error_records"] = {{"total", error_total}, {"by_code", std::move(errors)}};
  if (!missing.empty()) out["error_records"]["missing"] = missing;
  redact_strings(out);
  return out;
}

void print_text(const nlohmann::json& s) {
  std::cout << fmt::format("pipeline {} · state {}\n", s["pipeline"].get<std::string>(),
                           s["state_dir"].get<std::string>());
  const auto& q = s["queue"]["counts"];
  std::cout << fmt::format("queue {}: {} visible · {} in flight · {} delayed\n", s["queue"]["uri"].get<std::string>(),
                           q["visible"].get<int64_t>(), q["in_flight"].get<int64_t>(), q["delayed"].get<int64_t>());
  std::cout << fmt::format("dead letters ({}): {}\n", s["dead_letter_queue"]["name"].get<std::string>(),
                           s["dead_letter_queue"]["messages"].get<int64_t>());
  if (s.contains("scheduler"))
    std::cout << fmt::format(
        "scheduler: last tick {} · {} ticks skipped\n",
        s["scheduler"]["last_tick"].is_null() ? "-" : s["scheduler"]["last_tick"].get<std::string>(),
        s["scheduler"]["skipped_ticks"].get<int64_t>());
  const auto& e = s["error_records"];
  std::string codes;
  for (const auto& [code, n] : e["by_code"].items())
    codes += fmt::format("{}{} {}", codes.empty() ? "" : ", ", code, n.get<int64_t>());
  std::cout << fmt::format("error records: {}{}\n", e["total"].get<int64_t>(), codes.empty() ? "" : " (" + codes + ")");
  if (e.contains("missing")) std::cout << fmt::format("  not read: {}\n", e["missing"].get<std::string>());
  if (s["runs"].empty()) {
    std::cout << "runs: none yet\n";
    return;
  }
  std::cout << fmt::format("{:<28} {:<9} {:<9} {:>10} {:>10} {:>10} {:>8} {:>6} {:>9} {:>12}\n", "run", "kind", "state",
                           "scanned", "sent", "processed", "failed", "dead", "seconds", "cost on AWS");
  for (const auto& r : s["runs"])
    std::cout << fmt::format(
        "{:<28} {:<9} {:<9} {:>10} {:>10} {:>10} {:>8} {:>6} {:>9} {:>12}\n", r["id"].get<std::string>(),
        r["kind"].get<std::string>(), r["state"].get<std::string>(), r["scanned"].get<int64_t>(),
        r["sent"].get<int64_t>(), r["processed"].get<int64_t>(), r["failed"].get<int64_t>(),
        r["dead_letters"].get<int64_t>(),
        r["seconds"].is_null() ? std::string("-") : fmt::format("{:.1f}", r["seconds"].get<double>()),
        pipeline::format_dollars(r["cost"]["total"].get<double>()));
}

}  // namespace

void add_status_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("status", "Recent runs, queue depths, dead letters and error records of a pipeline");
  struct Options {
    std::string file;
    bool json = false;
    size_t limit = 10;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("FILE", o->file, "The pipeline file")->required();
  cmd->add_flag("--json", o->json, "One JSON object instead of text");
  cmd->add_option("--limit", o->limit, "How many recent runs to show")->capture_default_str();
  cmd->callback([o, &status] {
    const PipelineConfig config = load_pipeline_or_throw(o->file);
    const nlohmann::json s = gather(config, o->limit);
    if (o->json)
      std::cout << s.dump(2) << "\n";
    else
      print_text(s);
    status = 0;
  });
}

}  // namespace sentiflow::cli
