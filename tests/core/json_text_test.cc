#include "core/json_text.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>

#include "core/error.h"

namespace sentiflow {
namespace {

// The message of the Error(invalid_input) that parse_json_object throws for `json`.
std::string refusal(std::string_view json, std::string_view what = "the value", int max_depth = 32) {
  try {
    parse_json_object(json, what, max_depth);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << json;
  return "";
}

TEST(JsonText, CompactsAndKeepsNumbersAndStringsAsWritten) {
  const JsonObject o = parse_json_object(
      " {\n \"n\" : 12345678901234567890123456789012345678 ,\r\n\t\"big\": 1e400, \"neg\": -0.5E-3,"
      " \"s\" : \"a \\u00e9 \\n\" , \"list\" : [ 1 , { \"x\" : null } , true, false ] , \"empty\": {} } \n");
  EXPECT_EQ(o.text, R"({"n":12345678901234567890123456789012345678,"big":1e400,"neg":-0.5E-3,"s":"a \u00e9 \n",)"
                    R"("list":[1,{"x":null},true,false],"empty":{}})");
  ASSERT_EQ(o.members.size(), 6u);
  EXPECT_EQ(o.members[0].name, "n");
  EXPECT_EQ(o.members[0].value, "12345678901234567890123456789012345678");
  EXPECT_EQ(o.members[1].value, "1e400");
  EXPECT_EQ(o.members[2].value, "-0.5E-3");
  EXPECT_EQ(o.members[3].value, R"("a \u00e9 \n")");
  EXPECT_EQ(o.members[4].value, R"([1,{"x":null},true,false])");
  EXPECT_EQ(o.members[5].name, "empty");
  EXPECT_EQ(o.members[5].value, "{}");
  EXPECT_EQ(parse_json_object("{}").text, "{}");
  EXPECT_TRUE(parse_json_object(" { } ").members.empty());
}

TEST(JsonText, MemberNamesAreDecodedAndFoundByName) {
  const JsonObject o = parse_json_object(R"({"caf\u00e9":1,"a\"b":2,"\ud83d\ude00":3})");
  ASSERT_NE(o.find("caf\u00e9"), nullptr);
  EXPECT_EQ(o.find("caf\u00e9")->value, "1");
  ASSERT_NE(o.find("a\"b"), nullptr);
  EXPECT_EQ(o.find("a\"b")->value, "2");
  ASSERT_NE(o.find("\U0001F600"), nullptr);
  EXPECT_EQ(o.find("\U0001F600")->value, "3");
  EXPECT_EQ(o.find("missing"), nullptr);
  // Only the top level is listed.
  EXPECT_EQ(parse_json_object(R"({"a":{"b":1}})").find("b"), nullptr);
}

TEST(JsonText, CopiesAndMovesKeepTheirViewsValid) {
  // A short text lives inside the string object itself (SSO), so a move must re-point.
  JsonObject small = parse_json_object(R"({"a":1})");
  JsonObject moved = std::move(small);
  JsonObject copied = moved;
  small = parse_json_object(R"({"b":22})");
  moved = parse_json_object(R"({"c":333})");
  for (const auto* o : {&small, &moved, &copied}) {
    ASSERT_EQ(o->members.size(), 1u);
    EXPECT_GE(o->members[0].value.data(), o->text.data());
    EXPECT_LE(o->members[0].value.data() + o->members[0].value.size(), o->text.data() + o->text.size());
  }
  EXPECT_EQ(copied.find("a")->value, "1");
  EXPECT_EQ(small.find("b")->value, "22");
  EXPECT_EQ(moved.find("c")->value, "333");
  JsonObject assigned;
  assigned = copied;
  EXPECT_EQ(assigned.find("a")->value, "1");
  EXPECT_EQ(assigned.find("a")->value.data(), assigned.text.data() + 5);
}

TEST(JsonText, RefusesMalformedJsonSayingWhatAndWhere) {
  EXPECT_EQ(refusal("not json", "the message"), "the message is not valid JSON: expected a value at byte 1");
  EXPECT_EQ(refusal(""), "the value is not valid JSON: unexpected end at byte 1");
  EXPECT_EQ(refusal(R"({"a":1,})"), "the value is not valid JSON: expected an attribute name at byte 8");
  EXPECT_EQ(refusal(R"({"a": })"), "the value is not valid JSON: expected a value at byte 7");
  EXPECT_EQ(refusal(R"({"a":1} x)", "the item"),
            "the item is not valid JSON: unexpected text after the item at byte 9");
  EXPECT_EQ(refusal(R"({"a":1)"), "the value is not valid JSON: unexpected end at byte 7");
  EXPECT_EQ(refusal(R"({"a" 1})"), "the value is not valid JSON: expected ':' at byte 6");
  EXPECT_NE(refusal(R"({"a":01})").find("at byte 7"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":1.})").find("digits after '.'"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":1e})").find("exponent"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":-})").find("needs digits"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":NaN})").find("expected a value"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":tru})").find("expected a value"), std::string::npos);
  EXPECT_EQ(refusal(R"({"a":"\x"})"), "the value is not valid JSON: an invalid escape in a string at byte 7");
  EXPECT_NE(refusal(R"({"a":"\u12"})").find("four hex digits"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":"open)").find("not closed"), std::string::npos);
  EXPECT_NE(refusal("{\"a\":\"tab\there\"}").find("control character"), std::string::npos);
  EXPECT_NE(refusal("{\"a\":\"x\\").find("not closed"), std::string::npos);
}

TEST(JsonText, RefusesOtherKindsOfJsonByName) {
  EXPECT_EQ(refusal("[1, 2]", "the message"), "the message must be a JSON object, not an array");
  EXPECT_EQ(refusal(R"("s")"), "the value must be a JSON object, not a string");
  EXPECT_EQ(refusal(" 42 "), "the value must be a JSON object, not a number");
  EXPECT_EQ(refusal("null"), "the value must be a JSON object, not null");
  EXPECT_EQ(refusal("true"), "the value must be a JSON object, not a boolean");
  // Broken JSON of another kind is reported as broken.
  EXPECT_NE(refusal("[1,").find("not valid JSON"), std::string::npos);
}

TEST(JsonText, RefusesInvalidUtf8AndLoneSurrogates) {
  EXPECT_EQ(refusal("{\"a\":\"ok \xff\"}"), "the value is not valid JSON: invalid UTF-8 in a string at byte 10");
  EXPECT_NE(refusal("{\"\xc3\":1}").find("invalid UTF-8"), std::string::npos);
  EXPECT_NE(refusal("{\"a\":\"\xed\xa0\x80\"}").find("invalid UTF-8"), std::string::npos);  // a raw surrogate
  EXPECT_NE(refusal("{\"a\":1,\xff:2}").find("expected an attribute name"), std::string::npos);
  EXPECT_EQ(refusal(R"({"a":"\udc00"})"), "the value is not valid JSON: a lone low surrogate escape at byte 7");
  EXPECT_NE(refusal(R"({"a":"\ud800"})").find("high surrogate escape without its low half"), std::string::npos);
  EXPECT_NE(refusal(R"({"a":"\ud800\u0041"})").find("without its low half"), std::string::npos);
  EXPECT_NO_THROW(parse_json_object("{\"\xf0\x9f\x98\x80\":\"\xe2\x82\xac\"}"));
}

TEST(JsonText, RefusesARepeatedNameInAnyObject) {
  EXPECT_EQ(refusal(R"({"a":1,"a":2})"), "the value is not valid JSON: the attribute 'a' appears twice at byte 8");
  EXPECT_NE(refusal(R"({"x":{"b":1,"b":2}})").find("'b' appears twice"), std::string::npos);
  EXPECT_NE(refusal(R"({"x":[{"b":1,"\u0062":2}]})").find("'b' appears twice"), std::string::npos);
  // Past the linear scan's size too.
  std::string many = "{";
  for (int i = 0; i < 100; ++i) many += "\"k" + std::to_string(i) + "\":1,";
  EXPECT_EQ(parse_json_object(many + "\"end\":1}").members.size(), 101u);
  EXPECT_NE(refusal(many + "\"k57\":1}").find("'k57' appears twice"), std::string::npos);
  // The same name in sibling objects is fine.
  EXPECT_NO_THROW(parse_json_object(R"({"x":{"b":1},"y":{"b":2}})"));
}

TEST(JsonText, LimitsNesting) {
  std::string deep = "1";
  for (int i = 0; i < 31; ++i) deep = "[" + deep + "]";
  EXPECT_NO_THROW(parse_json_object("{\"v\":" + deep + "}"));  // 32 levels with the object
  EXPECT_NE(refusal("{\"v\":[" + deep + "]}").find("nested deeper than 32 levels"), std::string::npos);
  EXPECT_NO_THROW(parse_json_object(R"({"a":{"b":1}})", "the value", 2));
  EXPECT_NE(refusal(R"({"a":{"b":{}}})", "the value", 2).find("nested deeper than 2 levels"), std::string::npos);
  std::string very_deep(100000, '[');
  EXPECT_NE(refusal("{\"v\":" + very_deep).find("nested"), std::string::npos);  // no stack overflow
}

TEST(JsonText, ReadsStringAndScalarValues) {
  EXPECT_EQ(json_string_value(R"("plain")"), "plain");
  EXPECT_EQ(json_string_value(R"("")"), "");
  EXPECT_EQ(json_string_value(R"("a\"b\\c\/\n\t\u00e9\ud83d\ude00")"), "a\"b\\c/\n\t\u00e9\U0001F600");
  EXPECT_EQ(json_string_value("12"), std::nullopt);
  EXPECT_EQ(json_string_value("null"), std::nullopt);
  EXPECT_EQ(json_string_value("{\"a\":\"b\"}"), std::nullopt);
  EXPECT_EQ(json_string_value(""), std::nullopt);
  EXPECT_EQ(json_string_value(R"("a"b")"), std::nullopt);
  EXPECT_EQ(json_string_value(R"("\ud800")"), std::nullopt);

  EXPECT_EQ(json_scalar_text(R"("Netflix")"), "Netflix");
  EXPECT_EQ(json_scalar_text("12345678901234567890123456789012345678"), "12345678901234567890123456789012345678");
  EXPECT_EQ(json_scalar_text("1e400"), "1e400");
  EXPECT_EQ(json_scalar_text("true"), "true");
  EXPECT_EQ(json_scalar_text("false"), "false");
  EXPECT_EQ(json_scalar_text("null"), std::nullopt);
  EXPECT_EQ(json_scalar_text("[1]"), std::nullopt);
  EXPECT_EQ(json_scalar_text("{}"), std::nullopt);

  const JsonObject o = parse_json_object(R"({"name":"Net\u0066lix","n":7})");
  EXPECT_EQ(json_string_value(o.find("name")->value), "Netflix");
  EXPECT_EQ(json_string_value(o.find("n")->value), std::nullopt);
}

TEST(JsonText, QuotesStrings) {
  std::string out = "x";
  append_json_quoted(out, "a\"b\\c\n\r\t\b\f\x01\x1f\x7f \u00e9\U0001F600/");
  EXPECT_EQ(out, "x\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\x7f \u00e9\U0001F600/\"");
  // What we write, we read back; and nlohmann agrees.
  const std::string text = "line 1\nline \"2\"\t\\ \x02 caf\u00e9 \U0001F600";
  std::string quoted;
  append_json_quoted(quoted, text);
  EXPECT_EQ(json_string_value(quoted), text);
  EXPECT_EQ(nlohmann::json::parse(quoted).get<std::string>(), text);
  std::string empty;
  append_json_quoted(empty, "");
  EXPECT_EQ(empty, "\"\"");
}

TEST(JsonText, QuotingRefusesInvalidUtf8AndLeavesTheOutputAlone) {
  std::string out = "keep";
  try {
    append_json_quoted(out, "ab\xff");
    ADD_FAILURE() << "accepted invalid UTF-8";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_STREQ(e.what(), "invalid UTF-8 at byte 3");
  }
  EXPECT_EQ(out, "keep");
  std::string unchecked;
  append_json_quoted_unchecked(unchecked, "ab\xff");
  EXPECT_EQ(unchecked, "\"ab\xff\"");
}

TEST(JsonText, AgreesWithNlohmannOnWhatItAccepts) {
  for (const char* json : {R"({"a":[1,2.5,-3e2,{"b":"c"}],"d":null,"e":true})", R"({"":""})",
                           R"({"u":"\u0000\u001f\u2028"})", "{\"k\":\"\xe2\x80\xa8\"}"}) {
    const JsonObject o = parse_json_object(json);
    EXPECT_EQ(nlohmann::json::parse(o.text), nlohmann::json::parse(json)) << json;
  }
}

TEST(JsonText, FindMemberUncheckedWalksACheckedObject) {
  const JsonObject item = parse_json_object(
      R"({"a" : {"x": [1, "}", {"y": "\"]"}]}, "s\"": "q", "b": "two \" {", "n": -1.5e3, "t": true, "e\u0301": 7})");
  EXPECT_EQ(find_member_unchecked(item.text, "a"), R"({"x":[1,"}",{"y":"\"]"}]})");
  EXPECT_EQ(find_member_unchecked(item.text, "b"), R"("two \" {")");
  EXPECT_EQ(find_member_unchecked(item.text, "n"), "-1.5e3");
  EXPECT_EQ(find_member_unchecked(item.text, "t"), "true");
  EXPECT_EQ(find_member_unchecked(item.text, "s\""), R"("q")");  // a name with an escape, compared decoded
  EXPECT_EQ(find_member_unchecked(item.text, "e\u0301"), "7");
  EXPECT_FALSE(find_member_unchecked(item.text, "x"));  // nested members are not top-level
  EXPECT_FALSE(find_member_unchecked("{}", "a"));
  // Every member of every checked object is found, whatever its neighbours.
  for (const auto& m : item.members) EXPECT_EQ(find_member_unchecked(item.text, m.name), m.value) << m.name;
  // Text that was never checked gives some answer, never a crash.
  for (std::string_view broken : {"{", "{\"", "{\"a", "{\"a\":", "{\"a\":[", "{\"a\":\"x"})
    (void)find_member_unchecked(broken, "a");
}

}  // namespace
}  // namespace sentiflow
