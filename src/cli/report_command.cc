// `sentiflow report FILE [--run ID] --html OUT`: one run as a static, self-contained HTML page
// to share — the live dashboard (observe_server/observe_server.h) with the run's metric
// timeline and its record written into the page, so it draws the same charts without a server
// (docs/OBSERVABILITY.md). Reads only the run state; changes nothing else.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"
#include "config/loader.h"
#include "core/error.h"
#include "observe/log.h"
#include "observe_server/observe_server.h"
#include "pipeline/cost.h"
#include "state/run_state.h"
#include "assembly/backends.h"

namespace sentiflow::cli {
namespace {

namespace fs = std::filesystem;

// The run the report is of: `id`, or the newest run. A pipeline without state or without that
// run is the user's mistake (exit 2), and the message says what exists.
RunRecord find_run(RunLog& state, const PipelineConfig& config, const std::string& file, const std::string& id) {
  if (id.empty()) {
    const auto newest = state.recent_runs(1);
    if (newest.empty()) throw invalid_input(fmt::format("pipeline {} has no runs yet; run it first", config.name));
    return newest.front();
  }
  if (auto run = state.run(id)) return *run;
  throw invalid_input(
      fmt::format("pipeline {} has no run '{}'; `sentiflow status {}` lists its runs", config.name, id, file));
}

// The report's data: the run's timeline points (oldest first) and a status shaped as the live
// server's, with `report: true` so the page can say it is a snapshot. A point that is not JSON
// (a state file written by hand) is left out with a warning rather than spoiling the page.
nlohmann::json report_data(RunTimeline& timeline, const PipelineConfig& config, const RunRecord& run) {
  nlohmann::json points = nlohmann::json::array();
  for (const auto& point : timeline.timeline(run.id)) {
    auto value = nlohmann::json::parse(point.json, nullptr, false);
    if (value.is_discarded()) {
      log::warn("a timeline point is not JSON; left out", {{"run", run.id}});
      continue;
    }
    points.push_back(std::move(value));
  }
  nlohmann::json status = {{"pipeline", config.name},
                           {"runs", nlohmann::json::array({pipeline::run_json_with_cost(run, config)})},
                           {"dead_letters", run.counts.dead_letters},
                           {"report", true}};
  return {{"points", std::move(points)}, {"status", std::move(status)}};
}

}  // namespace

void add_report_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("report", "One run as a static, self-contained HTML page (the dashboard's charts)");
  struct Options {
    std::string file;
    std::string run;
    std::string html;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("FILE", o->file, "The pipeline file")->required();
  cmd->add_option("--run", o->run, "The run to report (default: the newest)");
  cmd->add_option("--html", o->html, "Where to write the page")->required();
  cmd->callback([o, &status] {
    const PipelineConfig config = load_pipeline_or_throw(o->file);
    // Opening a run state would create its file; a report only reads, so a missing one is an answer.
    const auto state = assembly::open_existing_run_state(config);
    if (!state)
      throw invalid_input(
          fmt::format("pipeline {} has no state in {} yet; run it first", config.name, config.state_dir.string()));
    const RunRecord run = find_run(*state, config, o->file, o->run);
    const std::string page = static_dashboard(report_data(*state, config, run));
    // Whole or not at all: a reader never sees half a page, a failure leaves the old one.
    Output out(o->html);
    out.buffer() = page;
    out.commit();
    std::cout << fmt::format("wrote {} ({} bytes): run {}\n", o->html, page.size(), run.id);
    status = 0;
  });
}

}  // namespace sentiflow::cli
