// `sentiflow eval`: VADER against the four human-rated corpora of the VADER paper, beside the
// paper's own figures (sentiment/evaluation.h has the definitions).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <system_error>

#include "cli/commands.h"
#include "core/error.h"
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
      throw invalid_input(fmt::format("--corpora {}: no {} there; give the folder that holds the four "
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
  throw invalid_input(fmt::format("cannot find the VADER corpora (looked in {}); pass --corpora DIR, the folder "
                                  "that holds the four *_GroundTruth.txt files (data/corpora in the source tree)",
                                  looked.empty() ? "no folder: the executable's path is unknown" : looked));
}

}  // namespace

void add_eval_command(CLI::App& app, int& status) {
  auto* cmd = app.add_subcommand("eval", "VADER against the human-rated corpora, beside the VADER paper's figures");
  struct Options {
    std::string corpora;
    bool json = false;
  };
  auto options = std::make_shared<Options>();
  cmd->add_option("--corpora", options->corpora,
                  "The folder with the four *_GroundTruth.txt files; default: the project's data/corpora");
  cmd->add_flag("--json", options->json, "Print the figures as one JSON object");
  cmd->footer(
      "r: Pearson correlation of compound with the human mean rating. F1: three classes weighted by support;\n"
      "human class = sign of the mean rating, VADER class = compound >= 0.05 positive, <= -0.05 negative.\n"
      "Paper: Hutto & Gilbert (2014), VADER, ICWSM, Table 4.");
  cmd->callback([options, &status] {
    const fs::path dir = find_corpora(options->corpora);
    const sentiment::VaderAnalyzer analyzer;
    auto corpora = sentiment::paper_corpora();
    for (auto& corpus : corpora) {
      const auto texts = sentiment::read_ground_truth((dir / corpus.file).string());
      sentiment::evaluate(analyzer, texts, corpus);
    }
    if (options->json) {
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& c : corpora)
        rows.push_back({{"corpus", c.corpus}, {"file", c.file}, {"sentences", c.sentences}, {"r", c.r},
                        {"f1", c.f1}, {"paper_r", c.paper_r}, {"paper_f1", c.paper_f1}});
      std::cout << nlohmann::json{{"corpora", dir.string()}, {"results", rows}}.dump() << "\n";
    } else {
      std::string out = fmt::format("{:<8} {:>9}  {:>5}  {:>7}  {:>5}  {:>8}\n", "corpus", "sentences", "r",
                                    "paper r", "F1", "paper F1");
      for (const auto& c : corpora)
        out += fmt::format("{:<8} {:>9}  {:>5.3f}  {:>7.3f}  {:>5.3f}  {:>8.3f}\n", c.corpus, c.sentences, c.r,
                           c.paper_r, c.f1, c.paper_f1);
      std::cout << out;
    }
    status = 0;
  });
}

}  // namespace sentiflow::cli
