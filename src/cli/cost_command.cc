// `sentiflow cost FILE [--items N] [--avg-chars C]`: what one run of the pipeline, and a month
// of its schedule, would cost on AWS, before any run (pipeline/cost.h, docs/COST.md). The
// items are profiled from a sample of the pipeline's table (or of its seed file, for a local
// table not created yet), or from the user's figures.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "assembly/backends.h"
#include "cli/commands.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/strings.h"
#include "core/temp_file.h"
#include "core/time.h"
#include "core/utf8.h"
#include "pipeline/cost.h"
#include "pipeline/message.h"

namespace sentiflow::cli {
namespace {

struct Options {
  std::string file;
  std::optional<int64_t> items;
  std::optional<double> avg_chars;
  int64_t sample = 10'000;
  double batch_seconds = -1;
  double producer_seconds = -1;
  bool json = false;
};

// The profile of up to `sample` items of the table, and the table's count.
struct TableProfile {
  pipeline::ItemProfile profile;
  int64_t sampled = 0;
  int64_t count = 0;
  double mean_characters = 0;
};

TableProfile profile_table(Table& table, const PipelineConfig& c, int64_t sample, bool count) {
  TableProfile t;
  double units = 0, item_bytes = 0, message_bytes = 0, chars = 0;
  int64_t texts = 0;
  ScanRequest request;
  request.limit = static_cast<size_t>(c.source.page_size);
  do {
    const ScanPage page = table.scan(request);
    for (const auto& item : page.items) {
      if (t.sampled == sample) break;
      ++t.sampled;
      item_bytes += static_cast<double>(item.size());
      const auto json = nlohmann::json::parse(item, nullptr, /*allow_exceptions=*/false);
      const auto key = json.is_object() ? json.find(c.source.key) : json.end();
      const std::string key_text = key != json.end() && key->is_string() ? key->get<std::string>() : "";
      message_bytes += static_cast<double>(pipeline::encode_message("2026-01-01T00:00:00Z", key_text, item).size());
      if (c.source.text && json.is_object()) {
        const auto text = json.find(*c.source.text);
        if (text != json.end() && text->is_string()) {
          const auto& s = text->get_ref<const std::string&>();
          units += static_cast<double>(pipeline::comprehend_units(s));
          chars += static_cast<double>(count_characters(s));
          ++texts;
        }
      }
    }
    request.start_token = page.next_token;
  } while (!request.start_token.empty() && t.sampled < sample);
  if (t.sampled > 0) {
    t.profile.item_bytes = item_bytes / static_cast<double>(t.sampled);
    t.profile.message_bytes = message_bytes / static_cast<double>(t.sampled);
  }
  if (texts > 0) {
    t.profile.comprehend_units = units / static_cast<double>(texts);
    t.mean_characters = chars / static_cast<double>(texts);
  }
  t.count = count ? table.count() : 0;
  return t;
}

// The units of a text of `chars` characters, and an item and message around it: the key and
// the attribute names as a typical item has them (docs/COST.md, "Without a table").
pipeline::ItemProfile profile_of_characters(double chars) {
  pipeline::ItemProfile p;
  p.comprehend_units = static_cast<double>(pipeline::comprehend_units_of(std::llround(std::ceil(chars))));
  p.item_bytes = chars + 60;
  p.message_bytes = p.item_bytes + 80;
  return p;
}

void print_cost(const pipeline::Cost& cost, std::string_view total_label) {
  for (const auto& l : cost.lines)
    std::cout << fmt::format(
        "  {:<22} {:<66} {:>12}\n", l.service, l.work,
        l.counted ? pipeline::format_dollars(l.dollars) : "(" + pipeline::format_dollars(l.dollars) + ")");
  std::cout << fmt::format("  {:<89} {:>12}\n", total_label, pipeline::format_dollars(cost.total));
}

void run_cost(const Options& o) {
  const PipelineConfig c = load_pipeline_or_throw(o.file);
  if (o.items && *o.items < 0) throw invalid_input(fmt::format("--items {}: a count is 0 or more", *o.items));
  if (o.avg_chars && !(*o.avg_chars >= 0 && *o.avg_chars <= 1e9))
    throw invalid_input(fmt::format("--avg-chars {}: a number of characters from 0 to 10^9", *o.avg_chars));
  if (o.sample < 1) throw invalid_input(fmt::format("--sample {}: at least 1 item", o.sample));

  pipeline::ItemProfile profile;
  int64_t items = o.items.value_or(0);
  std::string basis;
  if (o.items && o.avg_chars) {
    profile = profile_of_characters(*o.avg_chars);
    basis = fmt::format("{} items (--items), texts of {:.0f} characters (--avg-chars)", thousands(items), *o.avg_chars);
  } else {
    if (!c.source.text && !o.avg_chars)
      throw invalid_input(
          fmt::format("{}: the pipeline fetches its texts (consumer.enrich), so the table cannot tell "
                      "their length: give --avg-chars C",
                      o.file));
    std::optional<TempFile> scratch;  // before the table: removed after it is closed
    std::unique_ptr<Table> table;
    std::string source = c.source.table.uri;
    try {
      table = assembly::open_table(c, /*create=*/false);
    } catch (const Error& e) {
      // A local table made from its seed at the first run: profile the seed file instead.
      if (e.code() != ErrorCode::invalid_input || c.source.table.backend != TableLocation::Backend::local ||
          !c.source.seed)
        throw invalid_input(fmt::format("{} (or give --items N and --avg-chars C)", e.what()));
      scratch.emplace(std::filesystem::temp_directory_path() / "sentiflow-cost.sqlite");
      table = assembly::open_seed_copy(c, scratch->path());
      source = fmt::format("the seed {}", c.source.seed->filename().string());
    }
    const TableProfile t = profile_table(*table, c, o.sample, /*count=*/!o.items);
    if (!o.items) items = t.count;
    profile = t.profile;
    if (o.avg_chars) profile.comprehend_units = profile_of_characters(*o.avg_chars).comprehend_units;
    basis = fmt::format("{} items ({}), texts of {:.0f} characters on average ({}; a sample of {} items)",
                        thousands(items), o.items ? "--items" : source, o.avg_chars.value_or(t.mean_characters),
                        o.avg_chars ? "--avg-chars" : "measured", thousands(t.sampled));
  }

  const pipeline::TimeAssumptions times{o.batch_seconds, o.producer_seconds};
  const pipeline::RunWork run = pipeline::estimate_run_work(c, items, profile, times);
  const pipeline::Cost run_cost = pipeline::price(run, c);
  const int64_t runs = pipeline::runs_in_30_days(
      c, std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()));
  pipeline::RunWork month = run;
  month *= runs;
  const pipeline::Cost month_cost = pipeline::price(month, c);
  const double batch_seconds =
      o.batch_seconds >= 0 ? o.batch_seconds : pipeline::default_batch_seconds(c, c.consumer.batch_size);

  if (o.json) {
    nlohmann::json out = {{"pipeline", c.name},
                          {"items", items},
                          {"profile",
                           {{"comprehend_units_per_text", profile.comprehend_units},
                            {"item_bytes", profile.item_bytes},
                            {"message_bytes", profile.message_bytes}}},
                          {"assumed", {{"consumer_batch_seconds", batch_seconds}}},
                          {"run", {{"work", to_json(run)}, {"cost", to_json(run_cost)}}},
                          {"runs_in_30_days", runs}};
    if (runs > 0) out["month"] = {{"work", to_json(month)}, {"cost", to_json(month_cost)}};
    std::cout << out.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("pipeline {} on AWS: one run of {}\n", c.name, basis);
  print_cost(run_cost, "a run");
  if (runs > 0) {
    std::cout << fmt::format("{} runs in 30 days ({}), Comprehend's monthly tiers applied:\n", thousands(runs),
                             c.schedule->expression());
    print_cost(month_cost, "30 days");
  } else {
    std::cout << "no schedule: runs are manual (a month's cost is the runs' sum)\n";
  }
  std::cout << fmt::format(
      "(prices: us-east-1 list prices unless the pipeline file's cost section sets them; no free tier; a consumer "
      "batch of {} items assumed to take {:.3f} s at lambda.memory {} MB: docs/COST.md)\n",
      c.consumer.batch_size, batch_seconds, c.lambda.memory_mb);
}

}  // namespace

void add_cost_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("cost", "What one run of a pipeline, and a month of its schedule, would cost on AWS");
  auto o = std::make_shared<Options>();
  cmd->add_option("FILE", o->file, "The pipeline file")->required();
  cmd->add_option("--items", o->items, "Items a run reads (default: the table's count)");
  cmd->add_option("--avg-chars", o->avg_chars, "Characters of a text on average (default: measured on the table)");
  cmd->add_option("--sample", o->sample, "Items of the table to measure")->capture_default_str();
  cmd->add_option("--batch-seconds", o->batch_seconds,
                  "Seconds of one consumer invocation (default: the engine's assumption, docs/COST.md)");
  cmd->add_option("--producer-seconds", o->producer_seconds,
                  "Seconds of the producer's invocations of a run (default: from the pages and sends)");
  cmd->add_flag("--json", o->json, "One JSON object instead of text");
  cmd->callback([o, &status] {
    run_cost(*o);
    status = 0;
  });
}

}  // namespace sentiflow::cli
