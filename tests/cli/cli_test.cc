// The binary as users run it: exit statuses, stdout versus stderr, messages.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/run_binary.h"

namespace {

namespace fs = std::filesystem;
using sentiflow::testing_support::Outcome;

Outcome run(const std::string& args) { return sentiflow::testing_support::run_sentiflow(args); }

const std::string kSource = SENTIFLOW_SOURCE_DIR;

TEST(Cli, ScheduleCronPrintsTheTenOClockTimes) {
  const auto r = run("schedule 'cron(0 10 * * ? *)' --from 2026-01-01T00:00:00Z --count 3");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "2026-01-01T10:00:00Z\n2026-01-02T10:00:00Z\n2026-01-03T10:00:00Z\n");
  EXPECT_EQ(r.err, "");
}

TEST(Cli, ScheduleRefusesBothDaysSet) {
  const auto r = run("schedule 'cron(0 10 * * 1 *)'");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("cron: day-of-month and day-of-week cannot both be set; use ? in one of them"),
            std::string::npos)
      << r.err;
}

TEST(Cli, SchedulePrintsFewerLinesWhenFewerExist) {
  const auto r = run("schedule 'at(2026-06-01T12:00:00)' --from 2026-01-01T00:00:00Z --count 5");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "2026-06-01T12:00:00Z\n");
  const auto none = run("schedule 'at(2026-06-01T12:00:00)' --from 2027-01-01T00:00:00Z");
  EXPECT_EQ(none.status, 0);
  EXPECT_EQ(none.out, "");
}

TEST(Cli, ScheduleRefusesABadFromTime) {
  const auto r = run("schedule 'rate(1 hour)' --from yesterday");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("invalid time 'yesterday'"), std::string::npos) << r.err;
}

TEST(Cli, ValidateAcceptsEveryExample) {
  for (const auto& entry : fs::directory_iterator(kSource + "/examples")) {
    if (entry.path().extension() != ".yaml") continue;
    const auto r = run("validate '" + entry.path().string() + "'");
    EXPECT_EQ(r.status, 0) << entry.path() << "\n" << r.err;
    EXPECT_NE(r.out.find(": valid"), std::string::npos);
  }
}

TEST(Cli, ValidateSummarisesTheDemo) {
  const auto r = run("validate '" + kSource + "/examples/demo.yaml'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("rate(1 hour) (next: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("local://vader_corpora (key doc, text text"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1-4 workers"), std::string::npos) << r.out;
}

TEST(Cli, ValidateJsonPrintsTheResolvedConfig) {
  const auto r = run("validate --json '" + kSource + "/examples/demo.yaml'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["valid"], true);
  EXPECT_EQ(j["config"]["queue"]["visibility_timeout"], "30s");
  EXPECT_EQ(j["config"]["queue"]["message_size_limit"], "256KiB");
  EXPECT_EQ(j["config"]["consumer"]["concurrency"]["max"], 4);
  EXPECT_EQ(j["config"]["sink"]["store"], "file://" + kSource + "/examples/out/");
}

TEST(Cli, ValidateRefusesABrokenFileWithKeyAndLine) {
  const std::string file = kSource + "/tests/config/broken/bad_duration.yaml";
  const auto r = run("validate '" + file + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(file + ":5:23: queue.visibility_timeout: '30x' is not a duration"), std::string::npos) << r.err;
  const auto j = run("validate --json '" + file + "'");
  EXPECT_EQ(j.status, 2);
  const auto parsed = nlohmann::json::parse(j.out);
  EXPECT_EQ(parsed["valid"], false);
  EXPECT_EQ(parsed["errors"][0]["key"], "queue.visibility_timeout");
  EXPECT_EQ(parsed["errors"][0]["line"], 5);
  EXPECT_EQ(parsed["errors"][0]["value"], "30x");
}

TEST(Cli, VersionHelpAndUsageErrors) {
  const auto version = run("--version");
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out.rfind("sentiflow ", 0), 0u);
  const auto help = run("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("validate"), std::string::npos);
  EXPECT_NE(help.out.find("schedule"), std::string::npos);
  const auto help_cmd = run("help schedule");
  EXPECT_EQ(help_cmd.status, 0);
  EXPECT_NE(help_cmd.out.find("--count"), std::string::npos);
  EXPECT_NE(help_cmd.out.find("Usage: sentiflow schedule"), std::string::npos) << help_cmd.out;
  EXPECT_EQ(run("help nosuch").status, 2);
  EXPECT_EQ(run("").status, 2);
  EXPECT_EQ(run("frobnicate").status, 2);
  EXPECT_EQ(run("schedule 'rate(1 hour)' --count 0").status, 2);
  EXPECT_EQ(run("--log-format xml schedule 'rate(1 hour)'").status, 2);
}

TEST(Cli, JsonLogFormatMakesErrorsJsonLines) {
  const auto r = run("--log-format json schedule 'cron(0 10 * * 1 *)'");
  EXPECT_EQ(r.status, 2);
  const auto line = nlohmann::json::parse(r.err);
  EXPECT_EQ(line["level"], "error");
  EXPECT_EQ(line["code"], "invalid_input");
  EXPECT_NE(line["msg"].get<std::string>().find("cannot both be set"), std::string::npos);
  EXPECT_TRUE(line.contains("ts"));
}

TEST(Cli, FatalErrorsAreWrittenWhateverTheLogLevel) {
  const auto r = run("--log-format json --log-level off schedule 'cron(bad)'");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(nlohmann::json::parse(r.err)["level"], "error");
  EXPECT_NE(run("--log-level off schedule 'cron(bad)'").err.find("sentiflow: cron:"), std::string::npos);
}

TEST(Cli, ScheduleStopsAtTheLastFourDigitYear) {
  const auto r = run("schedule 'rate(1 hour)' --from 9999-12-31T22:30:00Z --count 5");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "9999-12-31T23:00:00Z\n");
}

}  // namespace
