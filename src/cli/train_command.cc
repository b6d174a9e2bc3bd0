// `sentiflow train`: a fastText model for `engine: fasttext` from labelled texts — a TSV or JSON
// Lines file, or a pipeline's own table — trained by sentiment/fasttext_train.h and measured on
// validation texts (docs/SENTIMENT.md, "Training a model").
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <random>

#include "assembly/backends.h"
#include "cli/commands.h"
#include "cli/labelled_texts.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/utf8.h"
#include "sentiment/fasttext_train.h"
#include "table/table.h"

namespace sentiflow::cli {
namespace {

using sentiment::LabelledText;

struct Options {
  std::string engine;
  std::string data;
  std::string pipeline;
  std::string text_attribute;
  std::string label_attribute;
  std::string validation;
  double split = 0.1;
  std::string out;
  sentiment::TrainSettings settings;
};

// Every item of the pipeline's table, its text from --text or source.text.
std::vector<LabelledText> read_pipeline_table(Options o) {
  const PipelineConfig config = load_pipeline_or_throw(o.pipeline);
  if (o.text_attribute.empty()) {
    if (!config.source.text)
      throw invalid_input(
          fmt::format("{}: the pipeline fetches its texts (consumer.enrich); give --text ATTR", o.pipeline));
    o.text_attribute = *config.source.text;
  }
  const auto table = assembly::open_table(config, /*create=*/false);
  std::vector<LabelledText> texts;
  ScanRequest request;
  size_t n = 0;
  do {
    const ScanPage page = table->scan(request);
    for (const auto& item : page.items) {
      ++n;
      texts.push_back(labelled_item(item, o.text_attribute, o.label_attribute,
                                    fmt::format("{} item {}", config.source.table.uri, n), n));
    }
    request.start_token = page.next_token;
  } while (!request.start_token.empty());
  if (texts.empty()) throw invalid_input(fmt::format("{}: the table is empty", config.source.table.uri));
  return texts;
}

int run_train(const Options& o) {
  if (o.engine != "fasttext") throw invalid_input(fmt::format("--engine {}: only fasttext is trained here", o.engine));
  if (o.data.empty() == o.pipeline.empty()) throw invalid_input("give either --data FILE or --pipeline FILE");
  if (!o.pipeline.empty() && o.label_attribute.empty()) throw invalid_input("--pipeline needs --label ATTR");
  std::vector<LabelledText> train =
      o.data.empty() ? read_pipeline_table(o) : read_labelled_file(o.data, o.text_attribute, o.label_attribute);
  std::vector<LabelledText> validation;
  if (!o.validation.empty()) {
    validation = read_labelled_file(o.validation, o.text_attribute, o.label_attribute);
  } else {
    if (!(o.split > 0 && o.split < 1)) throw invalid_input(fmt::format("--split {} is outside 0-1", o.split));
    // A seeded shuffle: the same data and seed hold out the same texts.
    std::mt19937_64 random(static_cast<uint64_t>(o.settings.seed));
    std::shuffle(train.begin(), train.end(), random);
    const auto held = std::max<size_t>(1, static_cast<size_t>(static_cast<double>(train.size()) * o.split));
    if (held >= train.size()) throw invalid_input("too few texts to hold some out for validation");
    validation.assign(std::make_move_iterator(train.end() - static_cast<std::ptrdiff_t>(held)),
                      std::make_move_iterator(train.end()));
    train.resize(train.size() - held);
  }
  std::map<std::string, size_t> counts;
  for (const auto& t : train) ++counts[t.label];
  std::string classes;
  for (const auto& [label, n] : counts) classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ", label, n);
  std::fprintf(stderr, "training on %zu texts (%s), validating on %zu%s\n", train.size(), classes.c_str(),
               validation.size(), o.validation.empty() ? fmt::format(" held out ({:g})", o.split).c_str() : "");

  const auto report = sentiment::train_fasttext(train, validation, o.settings, o.out);
  std::string out = fmt::format("model      {} ({} bytes{}, {:.1f} s)\n", o.out, report.model_bytes,
                                o.settings.quantize ? ", quantized" : "", report.seconds);
  out += fmt::format("accuracy   {:.4f} on {} validation texts\n", report.accuracy, report.validation_texts);
  out += fmt::format("{:<12} {:>9} {:>9} {:>9} {:>9}\n", "label", "precision", "recall", "f1", "support");
  for (const auto& c : report.classes)
    out += fmt::format("{:<12} {:>9.4f} {:>9.4f} {:>9.4f} {:>9}\n", c.label, c.precision, c.recall, c.f1, c.support);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

void add_train_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("train", "Train a sentiment model (fastText) on labelled texts");
  auto options = std::make_shared<Options>();
  auto& s = options->settings;
  cmd->add_option("--engine", options->engine, "The engine to train a model for: fasttext")->required();
  cmd->add_option("--data", options->data,
                  "Labelled texts: TSV (TEXT<TAB>LABEL, an optional header) or JSON Lines (.jsonl, with --text and "
                  "--label); labels are names or 0/1 (negative/positive)");
  cmd->add_option("--pipeline", options->pipeline, "Train on this pipeline's table instead (with --label)");
  cmd->add_option("--text", options->text_attribute,
                  "JSON Lines or table: the text's attribute (a pipeline: source.text)");
  cmd->add_option("--label", options->label_attribute, "JSON Lines or table: the label's attribute");
  cmd->add_option("--validation", options->validation,
                  "Validation texts, in the same format; else --split holds some out");
  cmd->add_option("--split", options->split, "The part of --data held out for validation without --validation")
      ->capture_default_str();
  cmd->add_option("--out", options->out, "The model file to write (.bin, or .ftz with --quantize)")->required();
  cmd->add_option("--autotune", s.autotune_seconds,
                  "Search fastText's settings for this many seconds on the validation texts");
  cmd->add_flag("--quantize", s.quantize, "Write a quantized model (.ftz): about 100x smaller");
  cmd->add_option("--dim", s.dim, "Embedding dimensions")->capture_default_str();
  cmd->add_option("--epoch", s.epoch, "Passes over the data")->capture_default_str();
  cmd->add_option("--lr", s.lr, "Learning rate")->capture_default_str();
  cmd->add_option("--word-ngrams", s.word_ngrams, "Word n-grams (2: pairs)")->capture_default_str();
  cmd->add_option("--min-count", s.min_count, "Words seen fewer times are dropped")->capture_default_str();
  cmd->add_option("--bucket", s.bucket, "Hash buckets of the n-grams")->capture_default_str();
  cmd->add_option("--cutoff", s.cutoff, "--quantize: the input rows kept")->capture_default_str();
  cmd->add_option("--threads", s.threads, "Training threads (1 makes the model reproducible byte for byte)")
      ->capture_default_str();
  cmd->add_option("--seed", s.seed, "The seed of the split and of fastText")->capture_default_str();
  cmd->footer(
      "Texts are preprocessed as the fasttext engine preprocesses documents (docs/SENTIMENT.md). Prints accuracy and "
      "per-class precision, recall and F1 on the validation texts and the model's size. Exit status 2 for bad data.");
  cmd->callback([options, &status] { status = run_train(*options); });
}

}  // namespace sentiflow::cli
