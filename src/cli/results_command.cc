// `sentiflow results FILE`: a pipeline's results, each (run, key) once, as JSON Lines or CSV;
// or its error records, or a summary (docs/RESULTS.md).
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/output.h"
#include "config/loader.h"
#include "core/error.h"
#include "pipeline/results.h"
#include "assembly/backends.h"
#include "sentiment/analyzer.h"

namespace sentiflow::cli {
namespace {

struct ResultsOptions {
  std::string pipeline;
  std::string run;
  std::string format = "jsonl";
  std::string out;
  bool summary = false;
  bool errors = false;
};

// The pipeline's sink store and prefix (assembly/backends.h); a null store when its folder does
// not exist yet (no run has stored anything: there are no results, which is not an error).
assembly::SinkStore open_sink(const std::string& pipeline) {
  return assembly::open_existing_sink_store(load_pipeline_or_throw(pipeline));
}

std::string summary_text(const pipeline::ResultsSummary& s) {
  std::string out = fmt::format("records: {} distinct (run, key), {} duplicates skipped\n", s.records, s.duplicates);
  const auto percent = [&](int64_t n) {
    return s.records == 0 ? 0.0 : 100.0 * static_cast<double>(n) / static_cast<double>(s.records);
  };
  // The four labels always, in Comprehend's order, so that scripts find each on its line.
  for (const auto label :
       {sentiment::Label::positive, sentiment::Label::negative, sentiment::Label::neutral, sentiment::Label::mixed}) {
    const std::string name(sentiment::to_string(label));
    const auto found = s.labels.find(name);
    const int64_t n = found == s.labels.end() ? 0 : found->second;
    out += fmt::format("  {:<9}{:>10}  {:>5.1f}%\n", name, n, percent(n));
  }
  out += fmt::format("runs: {}\n", s.by_run.size());
  for (const auto& [run, n] : s.by_run) out += fmt::format("  {}  {}\n", run, n);
  out += fmt::format("error records: {}\n", s.errors);
  for (const auto& [code, n] : s.errors_by_code) out += fmt::format("  {}  {}\n", code, n);
  return out;
}

// Returns the exit status: 1 when an object of the sink was damaged (its name on stderr), the
// rest of the results printed all the same; 0 otherwise.
int run_results(const ResultsOptions& o) {
  const assembly::SinkStore sink = open_sink(o.pipeline);
  const std::optional<std::string> run = o.run.empty() ? std::nullopt : std::optional<std::string>(o.run);
  std::optional<pipeline::ResultsReader> reader;
  if (sink.store) reader.emplace(*sink.store, sink.prefix);
  Output out(o.out);
  if (o.summary) {
    out.buffer() += summary_text(reader ? reader->summary(run) : pipeline::ResultsSummary{});
  } else if (o.errors) {
    if (reader)
      for (const auto& record : reader->errors(run)) {
        pipeline::append_jsonl(out.buffer(), record);
        out.maybe_flush();
      }
  } else {
    const bool csv = o.format == "csv";
    if (csv) pipeline::append_csv_header(out.buffer());  // a CSV of no records is still a table
    if (reader)
      reader->for_each_result(run, [&](const pipeline::ResultRecord& record) {
        if (csv)
          pipeline::append_csv(out.buffer(), record);
        else
          pipeline::append_jsonl(out.buffer(), record);
        out.maybe_flush();
      });
  }
  out.commit();
  if (!reader || reader->damaged().empty()) return 0;
  for (const auto& [key, why] : reader->damaged()) std::cerr << fmt::format("sentiflow: damaged object: {}\n", why);
  std::cerr << fmt::format(
      "sentiflow: {} object{} of the sink could not be read whole; the records of the rest are above. Remove or "
      "restore {}, or run the runs again (`sentiflow run --run ID`)\n",
      reader->damaged().size(), reader->damaged().size() == 1 ? "" : "s",
      reader->damaged().size() == 1 ? "it" : "them");
  return 1;
}

}  // namespace

void add_results_command(CLI::App& app, int& status) {
  auto options = std::make_shared<ResultsOptions>();
  auto* cmd =
      app.add_subcommand("results", "Print a pipeline's results, each (run, key) once; or its errors or a summary");
  cmd->add_option("FILE", options->pipeline, "The pipeline file: its sink store")->required();
  cmd->add_option("--run", options->run, "Only this run, e.g. 2026-11-26T06:00:00Z");
  auto* format = cmd->add_option("--format", options->format, "Results as jsonl or csv")
                     ->check(CLI::IsMember({"jsonl", "csv"}))
                     ->capture_default_str();
  cmd->add_option("--out", options->out, "Write to this file (whole, or not at all) instead of stdout");
  auto* summary = cmd->add_flag("--summary", options->summary,
                                "Counts instead of records: per label, per run, duplicates, error records by code");
  auto* errors = cmd->add_flag("--errors", options->errors, "The error records (JSON Lines) instead of the results");
  summary->excludes(errors);
  format->excludes(summary);
  format->excludes(errors);
  cmd->footer(
      "Reads every result object of the sink (.jsonl, .csv and their .gz forms) and prints each (run, key)\n"
      "once, the one with the latest processed_at, sorted by run then key. A sink folder that does not exist\n"
      "yet holds no results. The sink may be a folder or s3://BUCKET/PREFIX/. A damaged object (empty,\n"
      "truncated, a line that is not a record) is named on stderr, the rest is printed, and the exit status is 1.");
  cmd->callback([options, &status] { status = run_results(*options); });
}

}  // namespace sentiflow::cli
