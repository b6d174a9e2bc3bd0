#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "observe/log.h"

namespace sentiflow::log {
namespace {

TEST(Log, TextLinesCarryTimestampLevelMessageAndFields) {
  const auto line = render(Format::text, Level::info, "2026-01-01T10:00:00.000Z", "run started",
                           {{"run", "2026-01-01T10:00:00Z"}, {"items", 3}, {"note", "two words"}});
  EXPECT_EQ(line, "2026-01-01T10:00:00.000Z info  run started items=3 note=\"two words\" run=2026-01-01T10:00:00Z");
}

TEST(Log, JsonLinesAreObjectsWithTsLevelMsgAndFields) {
  const auto line = render(Format::json, Level::warn, "2026-01-01T10:00:00.000Z", "slow batch",
                           {{"ms", 1200}, {"queue", "producer"}});
  const auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["ts"], "2026-01-01T10:00:00.000Z");
  EXPECT_EQ(parsed["level"], "warn");
  EXPECT_EQ(parsed["msg"], "slow batch");
  EXPECT_EQ(parsed["ms"], 1200);
  EXPECT_EQ(parsed["queue"], "producer");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, FieldsCannotOverwriteTheFixedKeys) {
  const auto parsed = nlohmann::json::parse(
      render(Format::json, Level::error, "T", "real message", {{"msg", "forged"}, {"level", "info"}}));
  EXPECT_EQ(parsed["msg"], "real message");
  EXPECT_EQ(parsed["level"], "error");
}

TEST(Log, InvalidUtf8InAFieldDoesNotThrow) {
  std::string line;
  EXPECT_NO_THROW(line = render(Format::json, Level::info, "T", "m", {{"text", std::string("bad \xFF byte")}}));
  EXPECT_NO_THROW(nlohmann::json::parse(line));
  EXPECT_NO_THROW(render(Format::text, Level::info, "T", "m", {{"text", std::string("bad \xFF byte")}}));
}

TEST(Log, ATextLineStaysOneLine) {
  const auto line = render(Format::text, Level::info, "T", "line1\nT error forged", {{"key with space", "v"}});
  EXPECT_EQ(line, "T info  line1\\nT error forged \"key with space\"=v");
}

TEST(Log, ParsesFormatsAndLevels) {
  EXPECT_EQ(parse_format("json"), Format::json);
  EXPECT_EQ(parse_level("warn"), Level::warn);
  EXPECT_THROW(parse_format("xml"), Error);
  EXPECT_THROW(parse_level("verbose"), Error);
}

}  // namespace
}  // namespace sentiflow::log
