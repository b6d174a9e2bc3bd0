// `sentiflow report FILE [--run ID] --html OUT` as users run it: the page of a real run, an
// explicit run, text that tries to leave the data script, and the runs that are not there.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "core/time.h"
#include "state/run_state.h"
#include "state/sqlite_run_state.h"
#include "support/run_binary.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using sentiflow::testing_support::Outcome;
using sentiflow::testing_support::read_whole_file;
using sentiflow::testing_support::TempDir;

constexpr std::string_view kDataOpen = R"(<script id="sentiflow-data" type="application/json">)";

// The JSON of the page's data script; fails the test (and gives null) when there is none.
nlohmann::json page_data(const std::string& page) {
  const size_t open = page.find(kDataOpen);
  EXPECT_NE(open, std::string::npos) << "no data script";
  if (open == std::string::npos) return nullptr;
  const size_t begin = open + kDataOpen.size();
  const size_t end = page.find("</script>", begin);
  EXPECT_NE(end, std::string::npos) << "the data script does not end";
  if (end == std::string::npos) return nullptr;
  return nlohmann::json::parse(page.substr(begin, end - begin));
}

class ReportCli : public ::testing::Test {
 protected:
  ReportCli() {
    write("pipeline.yaml",
          "name: report-test\n"
          "state_dir: state\n"
          "source: {table: local://items, key: name, text: description, seed: seed.jsonl, page_size: 10}\n"
          "queue: {url: local://producer, visibility_timeout: 5s}\n"
          "consumer: {batch_size: 5, concurrency: {min: 1, max: 2}}\n"
          "sink: {store: out/}\n");
    write("seed.jsonl", "");  // the pipeline file names it; run_once fills it
  }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_.path() / name, std::ios::binary) << text;
  }
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }
  std::string file() const { return "'" + path("pipeline.yaml") + "'"; }
  Outcome run(const std::string& args) const {
    return sentiflow::testing_support::run_sentiflow(args, {.cwd = dir_.path()});
  }

  // Seeds `n` items and runs the pipeline once; returns the run's id.
  std::string run_once(int n) const {
    static const char* const kTexts[] = {"a wonderful, great and happy company", "a terrible, awful and sad failure",
                                         "a company that makes tables"};
    std::string seed;
    for (int i = 0; i < n; ++i)
      seed += nlohmann::json{{"name", "item-" + std::to_string(i)}, {"description", kTexts[i % 3]}}.dump() + "\n";
    write("seed.jsonl", seed);
    const Outcome r = run("run " + file() + " --once --no-progress");
    EXPECT_EQ(r.status, 0) << r.err;
    const Outcome s = run("status " + file() + " --json");
    EXPECT_EQ(s.status, 0) << s.err;
    return nlohmann::json::parse(s.out).at("runs").at(0).at("id").get<std::string>();
  }

  TempDir dir_{"report-cli"};
};

TEST_F(ReportCli, WritesTheNewestRunAsAPageThatNeedsNoServer) {
  const std::string id = run_once(100);
  write("old.html", "an older report");
  const Outcome r = run("report " + file() + " --html old.html");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("old.html"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("bytes"), std::string::npos) << r.out;

  const std::string page = read_whole_file(dir_.path() / "old.html");
  EXPECT_NE(r.out.find(std::to_string(page.size())), std::string::npos) << "the size printed is the file's: " << r.out;
  const nlohmann::json data = page_data(page);
  ASSERT_TRUE(data.is_object());
  const auto& points = data.at("points");
  ASSERT_FALSE(points.empty());
  for (const auto& p : points) EXPECT_EQ(p.at("run"), id);
  EXPECT_EQ(points.back().at("processed").get<double>(), 100);
  // The run's own counts ride along (the page's tiles prefer them to the process's counters).
  EXPECT_EQ(points.back().at("run_counts").at("processed"), 100);
  EXPECT_EQ(points.back().at("run_counts").at("scanned"), 100);
  const auto& status = data.at("status");
  EXPECT_EQ(status.at("pipeline"), "report-test");
  EXPECT_EQ(status.at("report"), true);
  EXPECT_EQ(status.at("dead_letters"), 0);
  ASSERT_EQ(status.at("runs").size(), 1u);
  const auto& record = status.at("runs").at(0);
  EXPECT_EQ(record.at("id"), id);
  EXPECT_EQ(record.at("state"), "finished");
  EXPECT_EQ(record.at("processed"), 100);
  EXPECT_EQ(record.at("scanned"), 100);
  EXPECT_TRUE(record.at("seconds").is_number());
  EXPECT_EQ(record.at("labels").at("POSITIVE"), 34);

  // Self-contained: nothing is loaded from elsewhere (an SVG namespace is a name, not a load).
  static const std::regex kExternal(
      R"((src|href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import|fetch\(\s*["'`]https?:)",
      std::regex::icase);
  EXPECT_FALSE(std::regex_search(page, kExternal)) << "the report loads something from elsewhere";
  // The page was replaced whole: no temporary file is left beside it.
  for (const auto& entry : fs::directory_iterator(dir_.path()))
    EXPECT_EQ(entry.path().filename().string().find("sentiflow-tmp"), std::string::npos) << entry.path();
}

TEST_F(ReportCli, ReportsTheRunItIsAskedFor) {
  const std::string first = run_once(30);
  const std::string second = run_once(30);
  ASSERT_NE(first, second);
  Outcome r = run("report " + file() + " --run '" + first + "' --html first.html");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(page_data(read_whole_file(dir_.path() / "first.html")).at("status").at("runs").at(0).at("id"), first);
  r = run("report " + file() + " --html newest.html");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(page_data(read_whole_file(dir_.path() / "newest.html")).at("status").at("runs").at(0).at("id"), second);
}

TEST_F(ReportCli, TextThatLooksLikeMarkupStaysInsideTheDataScript) {
  const std::string id = "r</script><script>alert(1)</script><!--";
  {
    sentiflow::SqliteRunState state(dir_.path() / "state");
    state.start_run(id, sentiflow::RunKind::manual, sentiflow::Millis{std::chrono::milliseconds{1'700'000'000'000}});
    state.record_timeline(id, {sentiflow::Seconds{std::chrono::seconds{1'700'000'000}},
                               nlohmann::json{{"run", id}, {"processed", 1}}.dump()});
    state.record_timeline(id, {sentiflow::Seconds{std::chrono::seconds{1'700'000'001}}, "not json"});
  }
  const Outcome r = run("report " + file() + " --run '" + id + "' --html page.html");
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string page = read_whole_file(dir_.path() / "page.html");
  EXPECT_EQ(page.find("alert(1)</script>"), std::string::npos);
  const nlohmann::json data = page_data(page);
  ASSERT_TRUE(data.is_object());
  ASSERT_EQ(data.at("points").size(), 1u) << "the point that is not JSON is left out";
  EXPECT_EQ(data.at("points").at(0).at("run"), id);
  EXPECT_EQ(data.at("status").at("runs").at(0).at("id"), id);
  EXPECT_EQ(data.at("status").at("runs").at(0).at("state"), "producing");
}

TEST_F(ReportCli, NoStateOrAnUnknownRunIsBadInput) {
  Outcome r = run("report " + file() + " --html page.html");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("run it first"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(sentiflow::SqliteRunState::file_in(dir_.path() / "state"))) << "a report creates no state";

  run_once(10);
  r = run("report " + file() + " --run no-such-run --html page.html");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no-such-run"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_.path() / "page.html"));

  r = run("report " + file());
  EXPECT_EQ(r.status, 2) << "--html is required";
}

}  // namespace
