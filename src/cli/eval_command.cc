// `sentiflow eval`: VADER against the four human-rated corpora of the VADER paper, beside the
// paper's own figures (sentiment/evaluation.h has the definitions); with --pipeline, the same
// figures for a pipeline's stored results against a human rating carried in each item
// (docs/SENTIMENT.md, "Agreement of a pipeline's results").
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <system_error>

#include "cli/commands.h"
#include "cli/labelled_texts.h"
#include "config/values.h"
#include "sentiment/fasttext.h"
#include "config/loader.h"
#include "core/error.h"
#include "core/json_text.h"
#include "observe/log.h"
#include "pipeline/results.h"
#include "assembly/backends.h"
#include "state/run_state.h"
#include "sentiment/evaluation.h"

namespace sentiflow::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kProbe = "tweets_GroundTruth.txt";

bool has_corpora(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kProbe, ec);
}

// The source tree of a build folder: CMake records it in CMakeCache.txt, which lets a binary
// built outside the source tree (build/, /tmp/x) still find the project's data/.
std::optional<fs::path> source_dir_of_build(const fs::path& build_dir) {
  std::ifstream cache(build_dir / "CMakeCache.txt");
  std::string line;
  constexpr std::string_view kKey = "CMAKE_HOME_DIRECTORY:INTERNAL=";
  while (std::getline(cache, line))
    if (line.rfind(kKey, 0) == 0) return fs::path(line.substr(kKey.size()));
  return std::nullopt;
}

// --corpora when given; else data/corpora found from the executable: beside it (../data/corpora
// for build/sentiflow in a checkout), in an installed share/ folder, or in the source tree of
// the build folder it sits in.
fs::path find_corpora(const std::string& given) {
  if (!given.empty()) {
    if (!has_corpora(given))
      throw invalid_input(
          fmt::format("--corpora {}: no {} there; give the folder that holds the four "
                      "*_GroundTruth.txt files (data/corpora in the source tree)",
                      given, kProbe));
    return given;
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    candidates = {dir / ".." / "data" / "corpora", dir / ".." / "share" / "sentiflow" / "corpora",
                  dir / "data" / "corpora"};
    if (const auto source = source_dir_of_build(dir)) candidates.push_back(*source / "data" / "corpora");
  }
  std::string looked;
  for (const fs::path& candidate : candidates) {
    if (has_corpora(candidate)) return candidate.lexically_normal();
    looked += (looked.empty() ? "" : ", ") + candidate.lexically_normal().string();
  }
  throw invalid_input(
      fmt::format("cannot find the VADER corpora (looked in {}); pass --corpora DIR, the folder "
                  "that holds the four *_GroundTruth.txt files (data/corpora in the source tree)",
                  looked.empty() ? "no folder: the executable's path is unknown" : looked));
}

// One line of eval's table: a corpus (or a group of a pipeline's records) with VADER's figures,
// and the paper's when the name is one of its corpora.
struct TableRow {
  std::string name;
  size_t count = 0;
  double r = 0;
  double f1 = 0;
  std::optional<double> paper_r;
  std::optional<double> paper_f1;
};

// A figure to 3 decimals right-aligned in `width`; "-" when there is none or it is NaN (r of
// fewer than two records or of a constant rating).
std::string figure(std::optional<double> value, size_t width) {
  if (!value || std::isnan(*value)) return fmt::format("{:>{}}", "-", width);
  return fmt::format("{:>{}.3f}", *value, width);
}

// The table both modes print, one row per corpus or group in the order given. `name_heading`
// heads the first column ("corpus", or the --group attribute), `count_heading` the second
// ("sentences", "records").
std::string format_table(std::string_view name_heading, std::string_view count_heading,
                         const std::vector<TableRow>& rows) {
  size_t name_width = std::max<size_t>(8, name_heading.size());
  for (const auto& row : rows) name_width = std::max(name_width, row.name.size());
  std::string out = fmt::format("{:<{}} {:>9}  {:>5}  {:>7}  {:>5}  {:>8}\n", name_heading, name_width, count_heading,
                                "r", "paper r", "F1", "paper F1");
  for (const auto& row : rows)
    out += fmt::format("{:<{}} {:>9}  {}  {}  {}  {}\n", row.name, name_width, row.count, figure(row.r, 5),
                       figure(row.paper_r, 7), figure(row.f1, 5), figure(row.paper_f1, 8));
  return out;
}

nlohmann::json number_or_null(std::optional<double> value) {
  return value && !std::isnan(*value) ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

// ---- sentiflow eval --pipeline FILE ------------------------------------------------------------

struct PipelineEvalOptions {
  std::string pipeline;
  std::string run;
  std::string truth = "rating";
  std::string group = "corpus";
  bool json = false;
};

// Records whose group attribute is missing, empty, null, an object or an array.
constexpr std::string_view kNoGroup = "(none)";
// The one group of `--group ''`.
constexpr std::string_view kAllGroup = "all";

// One group of a run's records: the pairs compared, and the records skipped.
struct Group {
  std::vector<double> compound;  // VADER's, of the records compared
  std::vector<double> truth;     // the human rating beside each
  int64_t no_truth = 0;          // skipped: the truth attribute missing or not a JSON number
  int64_t no_vader = 0;          // skipped: no VADER numbers (engine comprehend)
};

struct RunFigures {
  std::string run;
  std::map<std::string, Group> groups;
  int64_t records = 0;  // distinct records read, skipped ones included
};

// The attribute's value when it is a JSON number, read from its exact decimal text as the
// corpus files' ratings are (so the same digits give the same double); nullopt when it is
// missing, not a number (a string "2.5" included) or beyond a double's range.
std::optional<double> number_member(const JsonObject& item, std::string_view name) {
  const JsonMember* member = item.find(name);
  if (member == nullptr || member->value.empty()) return std::nullopt;
  const std::string_view text = member->value;
  if (text.front() != '-' && (text.front() < '0' || text.front() > '9')) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string group_of(const JsonObject& item, const std::string& attribute) {
  if (attribute.empty()) return std::string(kAllGroup);
  const JsonMember* member = item.find(attribute);
  const auto text = member == nullptr ? std::nullopt : json_scalar_text(member->value);
  return text && !text->empty() ? *text : std::string(kNoGroup);
}

RunFigures read_run(pipeline::ResultsReader& reader, const std::string& run, const PipelineEvalOptions& o) {
  RunFigures figures;
  figures.run = run;
  reader.for_each_result(run, [&](const pipeline::ResultRecord& record) {
    ++figures.records;
    JsonObject item;
    try {
      item = parse_json_object(record.item, "the item");  // depth 32: DynamoDB's, the table's limit
    } catch (const Error& e) {
      throw invalid_input(fmt::format("run {}, key {}: {}", run, record.key, e.what()));
    }
    Group& group = figures.groups[group_of(item, o.group)];
    if (!record.sentiment.vader) {
      ++group.no_vader;
      return;
    }
    const auto truth = number_member(item, o.truth);
    if (!truth) {
      ++group.no_truth;
      return;
    }
    group.compound.push_back(record.sentiment.vader->compound);
    group.truth.push_back(*truth);
  });
  return figures;
}

struct Candidate {
  std::string run;
  bool unfinished = false;
};

// The runs to try when no --run is given, best first, among those with objects in the sink
// (`stored`): the run state's finished runs, newest first; then its unfinished ones, newest
// first; then runs the state does not know (a removed state folder, results copied in), by id
// from the greatest. Reads the state only when its file exists: eval creates nothing.
std::vector<Candidate> candidate_runs(const PipelineConfig& config, const std::vector<std::string>& stored) {
  std::set<std::string> unknown(stored.begin(), stored.end());
  std::vector<Candidate> finished, unfinished;
  if (const auto state = assembly::open_existing_run_state(config)) {
    for (const auto& run : state->recent_runs(std::numeric_limits<size_t>::max())) {
      if (unknown.erase(run.id) == 0) continue;  // nothing stored for it
      if (run.phase == RunPhase::finished)
        finished.push_back({run.id, false});
      else
        unfinished.push_back({run.id, true});
    }
  }
  std::vector<Candidate> out = std::move(finished);
  out.insert(out.end(), unfinished.begin(), unfinished.end());
  for (auto it = unknown.rbegin(); it != unknown.rend(); ++it) out.push_back({*it, false});
  return out;
}

// The figures of --run, or of the first candidate run that has result records (a run with
// error records only has none). Throws Error(invalid_input) when there is none.
RunFigures choose_run(const PipelineConfig& config, const PipelineEvalOptions& o) {
  const auto nothing = [&](std::string_view why) {
    return invalid_input(fmt::format("{}: no results to evaluate: {}; `sentiflow run {} --once` stores some",
                                     o.pipeline, why, o.pipeline));
  };
  const assembly::SinkStore sink = assembly::open_existing_sink_store(config);
  if (!sink.store)
    throw nothing(fmt::format("the sink folder {} does not exist yet", config.sink.store.directory.string()));
  pipeline::ResultsReader reader(*sink.store, sink.prefix);
  if (!o.run.empty()) {
    RunFigures figures = read_run(reader, o.run, o);
    if (figures.records == 0) throw nothing(fmt::format("run {} has no result records", o.run));
    return figures;
  }
  for (const Candidate& candidate : candidate_runs(config, reader.runs())) {
    RunFigures figures = read_run(reader, candidate.run, o);
    if (figures.records == 0) continue;
    if (candidate.unfinished)
      log::warn("the newest run with results is not finished; its figures cover the records stored so far",
                {{"run", candidate.run}});
    return figures;
  }
  throw nothing("no run has stored a result record yet");
}

// The groups in the paper's corpus order first, then the others by name.
std::vector<TableRow> rows_of(const RunFigures& figures) {
  const auto paper = sentiment::paper_corpora();
  std::vector<std::string> names;
  for (const auto& corpus : paper)
    if (figures.groups.contains(std::string(corpus.corpus))) names.emplace_back(corpus.corpus);
  for (const auto& [name, group] : figures.groups)
    if (std::none_of(paper.begin(), paper.end(), [&](const auto& c) { return c.corpus == name; }))
      names.push_back(name);
  std::vector<TableRow> rows;
  for (const std::string& name : names) {
    const Group& group = figures.groups.at(name);
    TableRow row{name,
                 group.compound.size(),
                 std::numeric_limits<double>::quiet_NaN(),
                 std::numeric_limits<double>::quiet_NaN(),
                 std::nullopt,
                 std::nullopt};
    if (!group.compound.empty()) {
      std::vector<int> truth, predicted;
      for (size_t i = 0; i < group.compound.size(); ++i) {
        truth.push_back(sentiment::human_class(group.truth[i]));
        predicted.push_back(sentiment::vader_class(group.compound[i]));
      }
      row.r = sentiment::pearson(group.compound, group.truth);
      row.f1 = sentiment::weighted_f1(truth, predicted);
    }
    for (const auto& corpus : paper)
      if (corpus.corpus == name) row.paper_r = corpus.paper_r, row.paper_f1 = corpus.paper_f1;
    rows.push_back(std::move(row));
  }
  return rows;
}

// "N records without …: tweets 1, movie 2\n", or "" when N is 0.
std::string skipped_line(const RunFigures& figures, int64_t Group::*count, std::string_view why) {
  int64_t total = 0;
  std::string by_group;
  for (const auto& [name, group] : figures.groups) {
    if (group.*count == 0) continue;
    total += group.*count;
    by_group += fmt::format("{}{} {}", by_group.empty() ? "" : ", ", name, group.*count);
  }
  if (total == 0) return "";
  return fmt::format("skipped {} record{} {}: {}\n", total, total == 1 ? "" : "s", why, by_group);
}

void run_pipeline_eval(const PipelineEvalOptions& o) {
  if (o.truth.empty()) throw invalid_input("--truth: give the item attribute that holds the human rating");
  const PipelineConfig config = load_pipeline_or_throw(o.pipeline);
  const RunFigures figures = choose_run(config, o);
  const std::vector<TableRow> rows = rows_of(figures);
  size_t compared = 0;
  for (const auto& row : rows) compared += row.count;
  if (compared == 0)
    throw invalid_input(
        fmt::format("{}: run {}: none of its {} records has VADER numbers and a numeric '{}' "
                    "attribute to compare them with (--truth names the attribute)",
                    o.pipeline, figures.run, figures.records, o.truth));
  const std::string group_heading = o.group.empty() ? "group" : o.group;
  int64_t no_truth = 0, no_vader = 0;
  for (const auto& [name, group] : figures.groups) no_truth += group.no_truth, no_vader += group.no_vader;
  if (o.json) {
    nlohmann::json results = nlohmann::json::array();
    for (const auto& row : rows) {
      const Group& group = figures.groups.at(row.name);
      results.push_back({{"group", row.name},
                         {"records", row.count},
                         {"r", number_or_null(row.r)},
                         {"f1", number_or_null(row.f1)},
                         {"paper_r", number_or_null(row.paper_r)},
                         {"paper_f1", number_or_null(row.paper_f1)},
                         {"skipped", {{"truth", group.no_truth}, {"no_vader", group.no_vader}}}});
    }
    std::cout << nlohmann::json{{"pipeline", config.name},
                                {"run", figures.run},
                                {"truth", o.truth},
                                {"group", o.group},
                                {"records", figures.records},
                                {"results", results},
                                {"skipped", {{"truth", no_truth}, {"no_vader", no_vader}}}}
                     .dump()
              << "\n";
    return;
  }
  std::string out = fmt::format("pipeline {} · run {} · {} records, {} compared with '{}'\n", config.name, figures.run,
                                figures.records, compared, o.truth);
  out += format_table(group_heading, "records", rows);
  out += skipped_line(figures, &Group::no_truth, fmt::format("without a numeric '{}'", o.truth));
  out += skipped_line(figures, &Group::no_vader, "without VADER numbers (engine comprehend)");
  std::cout << out;
}

// ---- sentiflow eval --labelled FILE -----------------------------------------------------------

void run_labelled_eval(const sentiment::Analyzer& analyzer, const std::string& file, bool json) {
  const auto texts = read_labelled_file(file, "", "");
  sentiment::LabelledAccuracy a;
  try {
    a = sentiment::labelled_accuracy(analyzer, texts);
  } catch (const Error& e) {
    throw invalid_input(fmt::format("{}: {}", file, e.what()));
  }
  if (json)
    std::cout << nlohmann::json{{"file", file},
                                {"engine", analyzer.engine()},
                                {"texts", a.texts},
                                {"correct", a.correct},
                                {"accuracy", a.accuracy()}}
                     .dump()
              << "\n";
  else
    std::cout << fmt::format("{}: {} texts, accuracy {:.4f} ({})\n", file, a.texts, a.accuracy(), analyzer.engine());
}

}  // namespace

void add_eval_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("eval",
                                 "VADER against the human-rated corpora, beside the VADER paper's figures; with\n"
                                 "--pipeline, a pipeline's stored results against the human rating in its items");
  struct Options {
    std::string corpora;
    bool json = false;
    PipelineEvalOptions pipeline;
    std::string engine = "vader";
    std::string model = "builtin";
    std::string labels;
    double neutral_threshold = sentiment::kDefaultNeutralThreshold;
    std::string labelled;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("--engine", options->engine, "The engine to evaluate: vader or fasttext")
      ->check(CLI::IsMember({"vader", "fasttext"}))
      ->capture_default_str();
  cmd->add_option("--model", options->model, "fasttext: builtin, or a .bin/.ftz model file")->capture_default_str();
  cmd->add_option("--labels", options->labels, "fasttext: the model's labels as classes, LABEL=CLASS,...");
  cmd->add_option("--neutral-threshold", options->neutral_threshold,
                  "fasttext: NEUTRAL when a model without that label is less sure than this (0.5-1)")
      ->capture_default_str();
  auto* labelled_option = cmd->add_option(
      "--labelled", options->labelled,
      "Binary accuracy on this TSV of TEXT<TAB>LABEL (0/1 or negative/positive; SST-2's format) instead of the "
      "corpora");
  auto* corpora_option =
      cmd->add_option("--corpora", options->corpora,
                      "The folder with the four *_GroundTruth.txt files; default: the project's data/corpora");
  cmd->add_flag("--json", options->json, "Print the figures as one JSON object");
  auto* pipeline_option = cmd->add_option("--pipeline", options->pipeline.pipeline,
                                          "Evaluate this pipeline's stored results instead of the corpus files");
  corpora_option->excludes(pipeline_option);
  labelled_option->excludes(pipeline_option);
  labelled_option->excludes(corpora_option);
  cmd->add_option("--run", options->pipeline.run,
                  "With --pipeline: this run; default: the newest finished run that has results")
      ->needs(pipeline_option);
  cmd->add_option("--truth", options->pipeline.truth,
                  "With --pipeline: the item attribute holding the human rating (a JSON number)")
      ->needs(pipeline_option)
      ->capture_default_str();
  cmd->add_option("--group", options->pipeline.group,
                  "With --pipeline: the item attribute to group the records by; '' for one group")
      ->needs(pipeline_option)
      ->capture_default_str();
  cmd->footer(
      "r: Pearson correlation of compound with the human mean rating. F1: three classes weighted by support;\n"
      "human class = sign of the mean rating, VADER class = compound >= 0.05 positive, <= -0.05 negative.\n"
      "Paper: Hutto & Gilbert (2014), VADER, ICWSM, Table 4.\n"
      "--pipeline: records whose truth attribute is missing or not a number, and records without VADER\n"
      "numbers (engine comprehend), are skipped and counted. Exit status 2 when there are no results.");
  cmd->callback([options, &status] {
    if (!options->pipeline.pipeline.empty()) {
      options->pipeline.json = options->json;
      run_pipeline_eval(options->pipeline);
      status = 0;
      return;
    }
    PipelineConfig::Sentiment engine;
    engine.engine = options->engine == "fasttext" ? SentimentEngine::fasttext : SentimentEngine::vader;
    engine.model = options->model;
    engine.neutral_threshold = options->neutral_threshold;
    if (!options->labels.empty()) engine.labels = parse_label_map(options->labels);
    const auto analyzer = assembly::make_analyzer(engine, PipelineConfig::Aws{});
    if (!options->labelled.empty()) {
      run_labelled_eval(*analyzer, options->labelled, options->json);
      status = 0;
      return;
    }
    const fs::path dir = find_corpora(options->corpora);
    auto corpora = sentiment::paper_corpora();
    for (auto& corpus : corpora) {
      const auto texts = sentiment::read_ground_truth((dir / corpus.file).string());
      sentiment::evaluate(*analyzer, texts, corpus);
    }
    if (options->json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& c : corpora)
        rows.push_back({{"corpus", c.corpus},
                        {"file", c.file},
                        {"sentences", c.sentences},
                        {"r", c.r},
                        {"f1", c.f1},
                        {"paper_r", c.paper_r},
                        {"paper_f1", c.paper_f1}});
      std::cout << nlohmann::json{{"corpora", dir.string()}, {"results", rows}}.dump() << "\n";
    } else {
      std::vector<TableRow> rows;
      for (const auto& c : corpora)
        rows.push_back({std::string(c.corpus), c.sentences, c.r, c.f1, c.paper_r, c.paper_f1});
      std::cout << format_table("corpus", "sentences", rows);
    }
    status = 0;
  });
}

}  // namespace sentiflow::cli
