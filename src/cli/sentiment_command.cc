// `sentiflow sentiment`: the sentiment of one text, or of every line of a file or of stdin
// (sentiment::LineStreamer streams the lines through the analyzer; this file formats them).
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

#include "assembly/backends.h"
#include "cli/commands.h"
#include "config/values.h"
#include "core/error.h"
#include "observe/log.h"
#include "sentiment/fasttext.h"
#include "sentiment/format.h"
#include "sentiment/line_streamer.h"

namespace sentiflow::cli {
namespace {

using sentiment::Result;

enum class Format { jsonl, tsv };

struct Options {
  std::string text;
  bool has_text = false;
  std::string file;
  std::string format = "jsonl";
  int threads = 1;
  std::string engine = "vader";
  std::string language = "en";  // comprehend
  double mixed_threshold = sentiment::kDefaultMixedThreshold;
  bool echo = false;
  std::string lexicon;
  std::string emoji_lexicon;
  std::string model = "builtin";  // fasttext
  std::string labels;             // fasttext: LABEL=CLASS, ...
  double neutral_threshold = sentiment::kDefaultNeutralThreshold;
};

// Appends `text` to a TSV field: backslash, tab and carriage return escaped as \\, \t and \r.
void append_tsv_text(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\r')
      out += "\\r";
    else
      out.push_back(c);
  }
}

void append_number(std::string& out, size_t n) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

constexpr std::string_view kTsvHeader =
    "line\tsentiment\tpositive\tnegative\tneutral\tmixed\tneg\tneu\tpos\tcompound\terror";

// One output line per document; `line` 0 means "a single text, no line number".
void format_result(std::string& out, Format format, bool echo, size_t line, std::string_view text, const Result& r) {
  if (format == Format::jsonl) {
    out.push_back('{');
    if (line != 0) {
      out += "\"line\":";
      append_number(out, line);
      out.push_back(',');
    }
    if (!r.ok()) {
      out += "\"error\":";
      sentiment::append_json_string(out, r.error->what());
      out += "}\n";
      return;
    }
    if (echo) {
      out += "\"text\":";
      sentiment::append_json_string(out, text);
      out.push_back(',');
    }
    sentiment::append_json_fields(out, r.sentiment);
    out += "}\n";
    return;
  }
  append_number(out, line == 0 ? 1 : line);
  out.push_back('\t');
  if (!r.ok()) {
    out += "ERROR\t\t\t\t\t\t\t\t\t";
    append_tsv_text(out, r.error->what());
  } else {
    const auto& s = r.sentiment;
    out += sentiment::to_string(s.label);
    for (const double x : {s.scores.positive, s.scores.negative, s.scores.neutral, s.scores.mixed}) {
      out.push_back('\t');
      sentiment::append_decimal(out, x);
    }
    for (const double x : {s.vader ? s.vader->neg : 0, s.vader ? s.vader->neu : 0, s.vader ? s.vader->pos : 0,
                           s.vader ? s.vader->compound : 0}) {
      out.push_back('\t');
      if (s.vader) sentiment::append_decimal(out, x);  // empty for engines without VADER numbers
    }
    out.push_back('\t');
  }
  if (echo) {
    out.push_back('\t');
    if (r.ok()) append_tsv_text(out, text);
  }
  out.push_back('\n');
}

int run_sentiment(const Options& o) {
  if (o.has_text && !o.file.empty()) throw invalid_input("give either TEXT or --file, not both");
  const Format format = o.format == "tsv" ? Format::tsv : Format::jsonl;
  PipelineConfig::Sentiment engine;
  if (o.engine == "comprehend")
    engine.engine = SentimentEngine::comprehend;
  else if (o.engine == "fasttext")
    engine.engine = SentimentEngine::fasttext;
  else if (o.engine != "vader")
    throw invalid_input(fmt::format("unknown engine '{}': use vader, fasttext or comprehend", o.engine));
  engine.language = o.language;
  engine.mixed_threshold = o.mixed_threshold;
  engine.model = o.model;
  engine.neutral_threshold = o.neutral_threshold;
  if (!o.labels.empty()) engine.labels = parse_label_map(o.labels);
  // Comprehend with the standard AWS settings from the environment and shared files (docs/AWS.md).
  const auto analyzer = assembly::make_analyzer(engine, PipelineConfig::Aws{}, {o.lexicon, o.emoji_lexicon});

  if (o.has_text) {
    const Result r = analyzer->analyze(o.text);
    if (!r.ok()) throw invalid_input(fmt::format("TEXT: {}", r.error->what()));
    std::string out;
    if (format == Format::tsv) out = fmt::format("{}{}\n", kTsvHeader, o.echo ? "\ttext" : "");
    format_result(out, format, o.echo, 0, o.text, r);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return 0;
  }

  std::FILE* in = stdin;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, &std::fclose);
  if (!o.file.empty() && o.file != "-") {
    file.reset(std::fopen(o.file.c_str(), "rb"));
    if (!file) throw invalid_input(fmt::format("cannot read '{}': {}", o.file, std::strerror(errno)));
    in = file.get();
  } else if (::isatty(STDIN_FILENO)) {
    log::info("reading documents from the terminal, one a line; end with Ctrl-D");
  }
  const int threads = o.threads == 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) : o.threads;
  if (format == Format::tsv) {
    const std::string header = fmt::format("{}{}\n", kTsvHeader, o.echo ? "\ttext" : "");
    std::fwrite(header.data(), 1, header.size(), stdout);
  }
  sentiment::LineStreamer streamer(*analyzer,
                                   [&](std::string& out, size_t line, std::string_view text, const Result& r) {
                                     format_result(out, format, o.echo, line, text, r);
                                   });
  const size_t failed = streamer.run(in, stdout, threads);
  if (std::fflush(stdout) != 0)
    throw Error(ErrorCode::internal, fmt::format("writing the results: {}", std::strerror(errno)));
  if (failed > 0) {
    log::warn("some lines could not be analysed; their results are error records", {{"failed_lines", failed}});
    return 2;
  }
  return 0;
}

}  // namespace

void add_sentiment_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("sentiment", "The sentiment of a text, or of each line of a file or stdin");
  auto options = std::make_shared<Options>();
  auto* text =
      cmd->add_option("TEXT", options->text, "A text to analyse; without it (and without --file) stdin is read");
  cmd->add_option("--file", options->file, "Analyse each line of this file (- for stdin)");
  cmd->add_option("--format", options->format, "jsonl (one JSON object a line) or tsv (with a header line)")
      ->check(CLI::IsMember({"jsonl", "tsv"}))
      ->capture_default_str();
  cmd->add_option("--threads", options->threads, "Worker threads for files and stdin; 0 = one per core")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  cmd->add_option(
         "--engine", options->engine,
         "vader, fasttext, or comprehend (Amazon Comprehend; region, credentials and endpoint from the standard AWS "
         "settings: AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_COMPREHEND...)")
      ->capture_default_str();
  cmd->add_option("--model", options->model, "fasttext: builtin, or a .bin/.ftz model file (sentiflow train)")
      ->capture_default_str();
  cmd->add_option("--labels", options->labels,
                  "fasttext: the model's labels as classes, LABEL=CLASS,... (e.g. __label__1=NEGATIVE)");
  cmd->add_option("--neutral-threshold", options->neutral_threshold,
                  "fasttext: NEUTRAL when a model without that label is less sure than this (0.5-1)")
      ->capture_default_str();
  cmd->add_option("--language", options->language, "comprehend: the documents' language code")->capture_default_str();
  cmd->add_option("--mixed-threshold", options->mixed_threshold,
                  "MIXED when VADER's pos and neg are both at least this (0 < x <= 1)")
      ->capture_default_str();
  cmd->add_flag("--echo", options->echo, "Include each document's text in its result");
  cmd->add_option("--lexicon", options->lexicon, "A vader_lexicon.txt to use instead of the built-in one");
  cmd->add_option("--emoji-lexicon", options->emoji_lexicon,
                  "An emoji_utf8_lexicon.txt to use instead of the built-in one");
  cmd->footer(
      "One document per input line (a trailing CR is dropped); one result per line, in input order:\n"
      "  "
      "{\"line\":N,\"sentiment\":\"POSITIVE|NEGATIVE|NEUTRAL|MIXED\",\"scores\":{\"Positive\",\"Negative\",\"Neutral\","
      "\"Mixed\"},\"vader\":{\"neg\",\"neu\",\"pos\",\"compound\"}}\n"
      "A line that is not UTF-8 gives {\"line\":N,\"error\":\"...\"}; the others go on and the exit status is 2.\n"
      "TSV columns: line, sentiment, positive, negative, neutral, mixed, neg, neu, pos, compound, error[, text].");
  cmd->callback([options, text, &status] {
    options->has_text = text->count() > 0;
    status = run_sentiment(*options);
  });
}

}  // namespace sentiflow::cli
