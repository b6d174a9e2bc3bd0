#include "pipeline/records.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/error.h"

namespace sentiflow::pipeline {
namespace {

using sentiment::Label;
using sentiment::VaderScores;

Millis at_millis(int64_t ms) { return Millis{std::chrono::milliseconds{ms}}; }

constexpr int64_t kT = 1795672800123;  // 2026-11-26T06:00:00.123Z

ResultRecord vader_record() {
  ResultRecord r;
  r.run = "2026-11-26T06:00:00Z";
  r.key = "Netflix";
  r.text = "Great shows.";
  r.sentiment = sentiment::to_comprehend_shape(VaderScores{0.0, 0.254, 0.746, 0.8316});
  r.engine = "vader";
  r.item = R"({"name":"Netflix","n":12345678901234567890123456789012345678,"big":1e400})";
  r.processed_at = at_millis(kT);
  return r;
}

ResultRecord comprehend_record() {
  ResultRecord r = vader_record();
  r.key = "Meta";
  r.sentiment.label = Label::mixed;
  r.sentiment.scores = {0.1234, 0.5, 0.0001, 0.3765};
  r.sentiment.vader.reset();
  r.engine = "comprehend";
  return r;
}

std::string jsonl(const ResultRecord& r) {
  std::string out;
  append_jsonl(out, r);
  return out;
}

std::string jsonl(const ErrorRecord& r) {
  std::string out;
  append_jsonl(out, r);
  return out;
}

// Records are equal when every field is: their JSON Lines (which print every number in its
// shortest exact form) are then equal too.
void expect_same(const ResultRecord& actual, const ResultRecord& expected) {
  EXPECT_EQ(jsonl(actual), jsonl(expected));
  EXPECT_EQ(actual.text, expected.text);
  EXPECT_EQ(actual.item, expected.item);
  EXPECT_EQ(actual.processed_at, expected.processed_at);
  EXPECT_EQ(actual.sentiment.vader.has_value(), expected.sentiment.vader.has_value());
}

template <typename F>
std::string refusal(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted";
  return "";
}

TEST(ResultRecordJsonl, HasTheDesignedShape) {
  EXPECT_EQ(jsonl(vader_record()),
            R"({"schema":1,"run":"2026-11-26T06:00:00Z","key":"Netflix","text":"Great shows.",)"
            R"("sentiment":"POSITIVE","scores":{"Positive":0.746,"Negative":0.0,"Neutral":0.254,"Mixed":0.0},)"
            R"("vader":{"neg":0.0,"neu":0.254,"pos":0.746,"compound":0.8316},"engine":"vader",)"
            R"("item":{"name":"Netflix","n":12345678901234567890123456789012345678,"big":1e400},)"
            R"("processed_at":"2026-11-26T06:00:00.123Z","attempt":1})"
            "\n");
  const std::string line = jsonl(comprehend_record());
  EXPECT_NE(line.find(R"("sentiment":"MIXED","scores":{"Positive":0.1234,"Negative":0.5,"Neutral":0.0001,)"
                      R"("Mixed":0.3765},"vader":null,"engine":"comprehend")"),
            std::string::npos)
      << line;
}

TEST(ResultRecordJsonl, RoundTripsTextItemsAndNumbersExactly) {
  for (ResultRecord r : {vader_record(), comprehend_record()}) {
    r.text = "Line \"one\",\r\nline two\ttab \\ caf\u00e9 \u65e5\u672c \U0001F600 \x01";
    r.key = "key with \"quotes\" and \u00fc";
    r.item = R"({"name":"x","nested":{"deep":[1,2.50,-0.0,1E-7]},"s":"a\"b\n\u00e9"})";
    const std::string line = jsonl(r);
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.find('\n'), line.size() - 1) << "one line per record";
    // Any JSON reader can read it (this item's numbers fit a double, unlike 1e400).
    EXPECT_EQ(nlohmann::json::parse(line).at("text").get<std::string>(), r.text);
    const ResultRecord back = parse_result_jsonl(std::string_view(line).substr(0, line.size() - 1));
    expect_same(back, r);
    EXPECT_EQ(back.run, r.run);
    EXPECT_EQ(back.key, r.key);
    EXPECT_EQ(back.engine, r.engine);
  }
  const ResultRecord back = parse_result_jsonl(jsonl(vader_record()));  // the '\n' is whitespace
  EXPECT_EQ(back.item, R"({"name":"Netflix","n":12345678901234567890123456789012345678,"big":1e400})");
  ASSERT_TRUE(back.sentiment.vader.has_value());
  EXPECT_EQ(back.sentiment.vader->compound, 0.8316);
  EXPECT_EQ(back.sentiment.label, Label::positive);
}

TEST(ResultRecordJsonl, ReadsRecordsWrittenWithSpacesAndOtherMemberOrders) {
  const ResultRecord r = parse_result_jsonl(
      R"({ "processed_at": "2026-11-26T06:00:00Z", "item": { "name" : "A", "n": 1.50 }, "engine": "vader",)"
      R"( "vader": null, "scores": {"Mixed": 0, "Neutral": 1, "Negative": 0, "Positive": 0},)"
      R"( "sentiment": "NEUTRAL", "text": "", "key": "A", "run": "r", "schema": 1, "future": [1]})");
  EXPECT_EQ(r.item, R"({"name":"A","n":1.50})");
  EXPECT_EQ(r.processed_at, at_millis(1795672800000));
  EXPECT_EQ(r.sentiment.scores.neutral, 1.0);
  EXPECT_FALSE(r.sentiment.vader.has_value());
}

TEST(ResultRecordJsonl, RefusesMalformedLinesSayingWhy) {
  const std::string good = jsonl(vader_record());
  auto with = [&](std::string_view from, std::string_view to) {
    std::string line = good;
    const size_t at = line.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return line.replace(at, from.size(), to);
  };
  auto refuse = [](const std::string& line) { return refusal([&] { parse_result_jsonl(line); }); };
  EXPECT_EQ(refuse("not json"), "the result record is not valid JSON: expected a value at byte 1");
  EXPECT_EQ(refuse("[]"), "the result record must be a JSON object, not an array");
  EXPECT_EQ(refuse(with("\"schema\":1", "\"schema\":2")),
            "the result record's \"schema\" is 2; this sentiflow reads schema 1");
  EXPECT_EQ(refuse(with("\"key\":\"Netflix\"", "\"kee\":\"Netflix\"")), "the result record has no \"key\" string");
  EXPECT_EQ(refuse(with("\"key\":\"Netflix\"", "\"key\":7")), "the result record has no \"key\" string");
  EXPECT_NE(refuse(with("POSITIVE", "GOOD")).find("'GOOD', not POSITIVE"), std::string::npos);
  EXPECT_EQ(refuse(with("\"Positive\":0.746", "\"Positive\":\"x\"")),
            "the result record's \"scores.Positive\" is \"x\", not a number");
  EXPECT_EQ(refuse(with("\"Positive\":0.746,", "")), "the result record has no \"scores.Positive\" number");
  EXPECT_EQ(refuse(with("\"vader\":{\"neg\":0.0,", "\"vader\":{")), "the result record has no \"vader.neg\" number");
  EXPECT_EQ(refuse(with("\"vader\":{\"neg\":0.0,\"neu\":0.254,\"pos\":0.746,\"compound\":0.8316}", "\"vader\":7")),
            "the result record's \"vader\" is neither an object nor null");
  EXPECT_NE(refuse(with("\"compound\":0.8316", "\"compound\":1e400")).find("not a number"), std::string::npos);
  EXPECT_NE(refuse(with("\"vader\":{", "\"vader\":[{")).find("is not valid JSON"), std::string::npos);
  EXPECT_EQ(refuse(with("\"item\":{", "\"item\":[1],\"x\":{")), "the result record has no \"item\" object");
  EXPECT_EQ(refuse(with(",\"item\":{\"name\":\"Netflix\",", ",\"item\":\"x\",\"y\":{")),
            "the result record has no \"item\" object");
  EXPECT_NE(refuse(with(".123Z", ".1234Z")).find("the result record's \"processed_at\": invalid time"),
            std::string::npos);
  EXPECT_NE(refuse(with("\"run\":\"2026", "\"run\":\"\xff")).find("invalid UTF-8"), std::string::npos);
}

TEST(ResultRecordJsonl, RefusesToWriteInvalidUtf8AndLeavesTheOutputAlone) {
  ResultRecord r = vader_record();
  r.text = "bad \xc3(";
  std::string out = "previous line\n";
  EXPECT_EQ(refusal([&] { append_jsonl(out, r); }), "the result record's text is not valid UTF-8 (at byte 5)");
  EXPECT_EQ(refusal([&] { append_csv(out, r); }), "the result record's text is not valid UTF-8 (at byte 5)");
  EXPECT_EQ(out, "previous line\n");
}

TEST(ErrorRecordJsonl, HasTheDesignedShapeAndRoundTrips) {
  ErrorRecord e;
  e.run = "2026-11-26T06:00:00Z";
  e.key = "Netflix";
  e.message_id = "m-1";
  e.receive_count = 3;
  e.code = std::string(error_codes::kEnrichFailed);
  e.reason = "the fetch failed: \"HTTP 503\"\nafter 3 tries";
  e.at = at_millis(kT);
  const std::string line = jsonl(e);
  EXPECT_EQ(line, R"({"run":"2026-11-26T06:00:00Z","key":"Netflix","message_id":"m-1","receive_count":3,)"
                  R"("code":"enrich_failed","reason":"the fetch failed: \"HTTP 503\"\nafter 3 tries",)"
                  R"("at":"2026-11-26T06:00:00.123Z"})"
                  "\n");
  const ErrorRecord back = parse_error_jsonl(std::string_view(line).substr(0, line.size() - 1));
  EXPECT_EQ(back.run, e.run);
  EXPECT_EQ(back.key, e.key);
  EXPECT_EQ(back.message_id, e.message_id);
  EXPECT_EQ(back.receive_count, 3);
  EXPECT_EQ(back.code, e.code);
  EXPECT_EQ(back.reason, e.reason);
  EXPECT_EQ(back.at, e.at);
}

TEST(ErrorRecordJsonl, WritesUnknownKeyAndMessageIdAsNull) {
  ErrorRecord e;
  e.run = "r1";
  e.receive_count = 0;
  e.code = std::string(error_codes::kBadMessage);
  e.reason = "the message is not valid JSON: expected a value at byte 1";
  e.at = at_millis(0);
  const std::string line = jsonl(e);
  EXPECT_EQ(line, R"({"run":"r1","key":null,"message_id":null,"receive_count":0,"code":"bad_message",)"
                  R"("reason":"the message is not valid JSON: expected a value at byte 1",)"
                  R"("at":"1970-01-01T00:00:00.000Z"})"
                  "\n");
  const ErrorRecord back = parse_error_jsonl(line);
  EXPECT_EQ(back.key, "");
  EXPECT_EQ(back.message_id, "");
  EXPECT_EQ(back.reason, e.reason);
}

TEST(ErrorRecordJsonl, AlwaysWritesEvenAReasonThatIsNotUtf8) {
  ErrorRecord e;
  e.run = "r1";
  e.key = "k\xff";
  e.code = "bad_message";
  e.reason = "body \xc3( and \xff end";
  const std::string line = jsonl(e);
  const ErrorRecord back = parse_error_jsonl(line);
  EXPECT_EQ(back.reason, "body \xef\xbf\xbd( and \xef\xbf\xbd end");
  EXPECT_EQ(back.key, "k\xef\xbf\xbd");
}

TEST(ErrorRecordJsonl, RefusesMalformedLines) {
  auto refuse = [](const std::string& line) { return refusal([&] { parse_error_jsonl(line); }); };
  const std::string ok =
      R"("run":"r","key":null,"message_id":"m","code":"c","reason":"x","at":"2026-01-01T00:00:00.000Z")";
  EXPECT_NO_THROW(parse_error_jsonl("{" + ok + R"(,"receive_count":2})"));
  EXPECT_EQ(refuse("{" + ok + "}"), "the error record has no \"receive_count\" number");
  EXPECT_EQ(refuse("{" + ok + R"(,"receive_count":2.5})"),
            "the error record's \"receive_count\" is 2.5, not a whole number");
  EXPECT_EQ(refuse(R"({"run":"r","key":1,"message_id":null,"receive_count":1,"code":"c","reason":"x",)"
                   R"("at":"2026-01-01T00:00:00Z"})"),
            "the error record's \"key\" is neither a string nor null");
  EXPECT_EQ(refuse(R"({"key":null,"message_id":null,"receive_count":1,"code":"c","reason":"x",)"
                   R"("at":"2026-01-01T00:00:00Z"})"),
            "the error record has no \"run\" string");
  EXPECT_EQ(refuse("{\"run\":"), "the error record is not valid JSON: unexpected end at byte 8");
}

TEST(ResultRecordCsv, HasTheDesignedShape) {
  std::string out;
  append_csv_header(out);
  EXPECT_EQ(out,
            "run,key,sentiment,positive,negative,neutral,mixed,compound,engine,processed_at,text,item,attempt\r\n");
  out.clear();
  append_csv(out, vader_record());
  EXPECT_EQ(out,
            "2026-11-26T06:00:00Z,Netflix,POSITIVE,0.746,0.0,0.254,0.0,0.8316,vader,2026-11-26T06:00:00.123Z,"
            "Great shows.,\"{\"\"name\"\":\"\"Netflix\"\",\"\"n\"\":12345678901234567890123456789012345678,"
            "\"\"big\"\":1e400}\",1\r\n");
  out.clear();
  ResultRecord r = comprehend_record();
  r.text = "a, \"b\"\nc";
  append_csv(out, r);
  EXPECT_EQ(out.substr(0, out.find(",\"{")),
            "2026-11-26T06:00:00Z,Meta,MIXED,0.1234,0.5,0.0001,0.3765,,comprehend,2026-11-26T06:00:00.123Z,"
            "\"a, \"\"b\"\"\nc\"");
}

TEST(ResultRecordCsv, RoundTripsMultiLineFieldsUnicodeAndExactItems) {
  std::vector<ResultRecord> records = {vader_record(), comprehend_record(), vader_record(), vader_record()};
  records[0].text = "first line\r\nsecond, \"quoted\" line\nthird \u00e9\u65e5 \U0001F600";
  records[1].text = "";
  records[1].key = "comma, key";
  records[2].key = "mixed";
  records[2].sentiment = sentiment::to_comprehend_shape(VaderScores{0.215, 0.385, 0.4, 0.2023});
  ASSERT_EQ(records[2].sentiment.label, Label::mixed);
  records[3].key = "negative";
  records[3].sentiment = sentiment::to_comprehend_shape(VaderScores{0.347, 0.653, 0.0, -0.5423});
  records[3].item = R"({"name":"negative","deep":{"a":[{"b":"x,\"y\"\nz"}]},"n":-1.0E+38})";
  std::string csv;
  append_csv_header(csv);
  for (const auto& r : records) append_csv(csv, r);
  const std::vector<ResultRecord> back = parse_result_csv(csv, "run=r/a.csv");
  ASSERT_EQ(back.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    SCOPED_TRACE(records[i].key);
    expect_same(back[i], records[i]);  // VADER's neg, neu and pos come back from the scores
  }
  EXPECT_TRUE(parse_result_csv("\xEF\xBB\xBF" + csv.substr(0, csv.find("\r\n") + 2), "x").empty());
}

TEST(ResultRecordCsv, RefusesMalformedObjectsNamingTheLine) {
  std::string header;
  append_csv_header(header);
  std::string row;
  append_csv(row, vader_record());
  auto refuse = [](const std::string& csv) { return refusal([&] { parse_result_csv(csv, "run=r/a.csv"); }); };
  EXPECT_EQ(refuse(""),
            "run=r/a.csv is empty; expected the header row "
            "'run,key,sentiment,positive,negative,neutral,mixed,compound,engine,processed_at,text,item,attempt'");
  EXPECT_NE(refuse("run,key\r\n" + row).find("run=r/a.csv is not a sentiflow results CSV: its header is 'run,key'"),
            std::string::npos);
  EXPECT_EQ(refuse(header + row + "a,b,c\r\n"), "run=r/a.csv, line 3: expected 13 fields, found 3");
  EXPECT_EQ(refuse(header + "\"open,\r\nnever closed"), "run=r/a.csv, line 2: a quoted field is not closed");
  EXPECT_EQ(refuse(header + "\"a\"b,\r\n"), "run=r/a.csv, line 2: text after a quoted field's closing quote");
  EXPECT_EQ(refuse(header + "a\"b,\r\n"), "run=r/a.csv, line 2: a quote inside a field that does not start with one");
  EXPECT_EQ(refuse(header + "\xff\r\n"),
            "run=r/a.csv is not valid UTF-8 (at byte " + std::to_string(header.size() + 1) + ")");
  auto with = [&](std::string_view from, std::string_view to) {
    std::string r = row;
    return header + r.replace(r.find(from), from.size(), to);
  };
  EXPECT_EQ(refuse(with("0.746,", "x,")), "run=r/a.csv, line 2: the positive column is 'x', not a number");
  EXPECT_EQ(refuse(with("0.8316,", "1e999,")), "run=r/a.csv, line 2: the compound column is '1e999', not a number");
  EXPECT_NE(refuse(with("POSITIVE", "GOOD")).find("line 2: the sentiment 'GOOD' is not POSITIVE"), std::string::npos);
  EXPECT_NE(refuse(with(".123Z", "Z+")).find("line 2: processed_at: invalid time"), std::string::npos);
  EXPECT_NE(refuse(with("1e400}", "1e400")).find("line 2: the item is not valid JSON"), std::string::npos);
  // A multi-line field moves the line count of the rows after it.
  ResultRecord two_lines = vader_record();
  two_lines.text = "a\r\nb\nc";
  std::string csv = header;
  append_csv(csv, two_lines);
  EXPECT_EQ(refuse(csv + "x\r\n"), "run=r/a.csv, line 5: expected 13 fields, found 1");
}

TEST(ParseUtcMillis, ReadsWhatFormatUtcMillisWrites) {
  for (const int64_t ms : {int64_t{0}, int64_t{5}, kT, int64_t{1767261600999}, int64_t{4102444799999}})
    EXPECT_EQ(parse_utc_millis(format_utc_millis(at_millis(ms))), at_millis(ms)) << ms;
  EXPECT_EQ(parse_utc_millis("2026-01-01T10:00:00Z"), at_millis(1767261600000));
  EXPECT_EQ(parse_utc_millis("2026-01-01T10:00:00.5Z"), at_millis(1767261600500));
  EXPECT_EQ(parse_utc_millis("2026-01-01T10:00:00.05Z"), at_millis(1767261600050));
  EXPECT_EQ(parse_utc_millis("2026-01-01T10:00:00.123"), at_millis(1767261600123));
  for (const char* bad : {"", "2026-01-01T10:00:00.Z", "2026-01-01T10:00:00.1234Z", "2026-01-01T10:00:00.12aZ",
                          "2026-01-01T10:00:00.123+02:00", "2026-02-30T10:00:00.000Z"}) {
    EXPECT_NE(refusal([&] { parse_utc_millis(bad); }).find("invalid time"), std::string::npos) << bad;
  }
  // Whole-second parsing still refuses fractions.
  EXPECT_NE(refusal([&] { parse_utc("2026-01-01T10:00:00.5Z"); }).find("fractions of a second are not supported"),
            std::string::npos);
}

}  // namespace
}  // namespace sentiflow::pipeline

namespace sentiflow::pipeline {
namespace {

// The attempt (issue 14, fault 7) reads back from both formats; records and CSV objects written
// before it read as attempt 1, and a bad attempt is refused.
TEST(ResultRecordAttempt, RoundTripsAndOlderRecordsAreAttemptOne) {
  ResultRecord r = vader_record();
  r.attempt = 3;
  EXPECT_EQ(parse_result_jsonl(jsonl(r)).attempt, 3);
  std::string csv;
  append_csv_header(csv);
  append_csv(csv, r);
  EXPECT_EQ(parse_result_csv(csv, "r.csv").at(0).attempt, 3);

  std::string old_line = jsonl(vader_record());
  old_line.replace(old_line.find(",\"attempt\":1"), 12, "");
  EXPECT_EQ(parse_result_jsonl(old_line).attempt, 1);
  std::string old_csv;
  append_csv_header(old_csv);
  append_csv(old_csv, vader_record());
  for (const std::string_view cut : {std::string_view(",attempt\r\n"), std::string_view(",1\r\n")})
    old_csv.replace(old_csv.find(cut), cut.size(), "\r\n");
  EXPECT_EQ(parse_result_csv(old_csv, "old.csv").at(0).attempt, 1);

  std::string bad = jsonl(vader_record());
  bad.replace(bad.find("\"attempt\":1"), 11, "\"attempt\":0");
  EXPECT_THROW(parse_result_jsonl(bad), Error);
}

}  // namespace
}  // namespace sentiflow::pipeline
