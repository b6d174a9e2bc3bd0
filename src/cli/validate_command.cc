#include <fmt/format.h>

#include <iostream>

#include "cli/commands.h"
#include "config/keys.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/secrets.h"
#include "core/time.h"

namespace sentiflow::cli {
namespace {

std::string table_line(const PipelineConfig& c) {
  std::string line = c.source.table.uri + fmt::format(" (key {}", c.source.key);
  if (c.source.text) line += fmt::format(", text {}", *c.source.text);
  if (c.source.seed) line += fmt::format(", seed {}", c.source.seed->string());
  if (c.source.segments > 1) line += fmt::format(", {} segments", c.source.segments);
  return line + ")";
}

// The readable summary: what the pipeline will do, in the order it does it.
void print_summary(const std::string& file, const PipelineConfig& c) {
  std::cout << fmt::format("{}: valid\n", file);
  // Values from the environment are shown as the ${NAME} that brought them (core/secrets.h).
  auto row = [](std::string_view label, const std::string& text) {
    std::cout << fmt::format("  {:<10} {}\n", label, redact_secrets(text));
  };
  row("name", c.name);
  if (c.schedule) {
    std::string next;
    auto t = now_seconds();
    for (int i = 0; i < 3; ++i) {
      const auto fire = c.schedule->next_fire_time(t);
      if (!fire) break;
      next += (next.empty() ? "" : ", ") + format_utc(*fire);
      t = *fire;
    }
    row("schedule", fmt::format("{} (next: {})", c.schedule->expression(), next.empty() ? "never" : next));
  } else {
    row("schedule", "none: manual runs only");
  }
  row("source", table_line(c));
  row("queue",
      fmt::format("{} (visibility {}, dead letters after {} receives to {})", c.queue.url.uri,
                  format_duration(c.queue.visibility_timeout), c.queue.max_receive_count, c.queue.dead_letter));
  row("consumer",
      fmt::format("batches of {} within {}, {}-{} workers{}", c.consumer.batch_size,
                  format_duration(c.consumer.batch_window), c.consumer.min_concurrency, c.consumer.max_concurrency,
                  c.consumer.enrich ? fmt::format(", text from {}", c.consumer.enrich->url) : ""));
  row("sentiment",
      c.sentiment.engine == SentimentEngine::vader ? fmt::format("vader (MIXED at {})", c.sentiment.mixed_threshold)
      : c.sentiment.engine == SentimentEngine::fasttext
          ? fmt::format("fasttext, model {} (NEUTRAL under {})", c.sentiment.model, c.sentiment.neutral_threshold)
          : fmt::format("comprehend, {} calls in flight", c.sentiment.concurrency));
  row("sink", fmt::format("{} as {}{}", c.sink.store.uri, c.sink.format == SinkFormat::jsonl ? "jsonl" : "csv",
                          c.sink.compression == Compression::gzip ? ".gz" : ""));
  row("state", c.state_dir.string());
}

}  // namespace

void add_validate_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("validate", "Check a pipeline file and show what it resolves to");
  struct Options {
    std::string file;
    bool json = false;
    bool reference = false;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("FILE", options->file, "The pipeline file (YAML)");
  cmd->add_flag("--json", options->json, "Print the resolved config (or the errors) as JSON");
  cmd->add_flag("--reference", options->reference,
                "Print the reference of every pipeline-file key as Markdown (docs/PIPELINE.md) and exit");
  cmd->footer("Exit status: 0 valid, 2 invalid. Every error of the file is reported, with line and column.");
  cmd->callback([options, &status] {
    if (options->reference) {
      std::cout << render_reference_markdown();
      return;
    }
    if (options->file.empty()) throw invalid_input("validate needs a FILE (or --reference)");
    const LoadResult result = load_pipeline(options->file);
    status = result.ok() ? 0 : 2;
    if (options->json) {
      nlohmann::ordered_json out = {{"file", options->file}, {"valid", result.ok()}};
      out["errors"] = nlohmann::ordered_json::array();
      for (const auto& e : result.errors) out["errors"].push_back(e.to_json());
      out["warnings"] = nlohmann::ordered_json::array();
      for (const auto& w : result.warnings) out["warnings"].push_back(w.to_json());
      if (result.ok()) out["config"] = result.resolved;
      std::cout << redact_secrets(out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) << "\n";
      return;
    }
    for (const auto& w : result.warnings) std::cerr << "warning: " << redact_secrets(w.to_string()) << "\n";
    if (!result.ok()) {
      for (const auto& e : result.errors) std::cerr << redact_secrets(e.to_string()) << "\n";
      std::cerr << fmt::format("{}: {} error{}\n", options->file, result.errors.size(),
                               result.errors.size() == 1 ? "" : "s");
      return;
    }
    print_summary(options->file, *result.config);
  });
}

}  // namespace sentiflow::cli
