#include "pipeline/message.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/error.h"

namespace sentiflow::pipeline {
namespace {

std::string poison_reason(std::string_view body) {
  try {
    decode_message(body);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << body;
  return "";
}

TEST(Message, EncodesTheDesignedBodyWithTheItemVerbatim) {
  const std::string item = R"({"name":"Netflix","n":12345678901234567890123456789012345678,"big":1e400})";
  EXPECT_EQ(encode_message("2026-11-26T06:00:00Z", "Netflix", item),
            R"({"v":1,"run":"2026-11-26T06:00:00Z","key":"Netflix","item":)" + item + "}");
  EXPECT_EQ(encode_message("r", "a \"quoted\"\nkey \u00e9", "{}"),
            "{\"v\":1,\"run\":\"r\",\"key\":\"a \\\"quoted\\\"\\nkey \u00e9\",\"item\":{}}");
}

TEST(Message, CarriesAnIncrementalScansFingerprintAndIgnoresAMalformedOne) {
  const std::string fp = "0123456789abcdef0123456789abcdef";
  const std::string body = encode_message("r", "k", R"({"id":"k"})", 2, fp);
  EXPECT_EQ(body, R"({"v":1,"run":"r","attempt":2,"key":"k","fp":")" + fp + R"(","item":{"id":"k"}})");
  EXPECT_EQ(decode_message(body).fingerprint, fp);
  EXPECT_EQ(decode_message(encode_message("r", "k", "{}")).fingerprint, "");
  for (const std::string& bad : std::vector<std::string>{R"("XYZ")", "12", R"("")", "\"" + std::string(65, 'a') + "\""})
    EXPECT_EQ(decode_message(R"({"v":1,"run":"r","key":"k","fp":)" + bad + R"(,"item":{}})").fingerprint, "") << bad;
}

TEST(Message, RoundTripsKeysAndExactNumbers) {
  const std::string item =
      R"({"name":"Net \"flix\"\n\u00e9","n":12345678901234567890123456789012345678,"big":1e400,"l":[-0.0,1E-7,{}]})";
  for (const std::string key : {"Netflix", "caf\u00e9 \U0001F600", "tab\there \"q\" \\ back\x01"}) {
    const Message m = decode_message(encode_message("2026-11-26T06:00:00Z", key, item));
    EXPECT_EQ(m.run, "2026-11-26T06:00:00Z");
    EXPECT_EQ(m.key, key);
    EXPECT_EQ(m.item, item);
  }
}

TEST(Message, DecodesBodiesWrittenByOthers) {
  // Spaces, another member order and unknown members: only the content counts.
  const Message m = decode_message(
      "{ \"item\" : { \"name\" : \"A\", \"n\" : 1.50 } ,\n \"trace\": [1], \"key\": \"A\", \"run\": \"r\", \"v\": 1 }");
  EXPECT_EQ(m.key, "A");
  EXPECT_EQ(m.run, "r");
  EXPECT_EQ(m.item, R"({"name":"A","n":1.50})");
  EXPECT_EQ(decode_message(R"({"v":1,"run":"r","key":"\u0041\ud83d\ude00","item":{}})").key, "A\U0001F600");
}

TEST(Message, RefusesPoisonBodiesWithAReason) {
  EXPECT_EQ(poison_reason("hello"), "the message is not valid JSON: expected a value at byte 1");
  EXPECT_EQ(poison_reason(""), "the message is not valid JSON: unexpected end at byte 1");
  EXPECT_EQ(poison_reason(R"({"v":1,"run":"r","key":"k","item":{})"),
            "the message is not valid JSON: unexpected end at byte 37");
  EXPECT_EQ(poison_reason(R"([{"v":1}])"), "the message must be a JSON object, not an array");
  EXPECT_EQ(poison_reason(R"("text")"), "the message must be a JSON object, not a string");
  EXPECT_EQ(poison_reason(R"({"run":"r","key":"k","item":{}})"),
            "the message has no \"v\"; this sentiflow reads version 1");
  EXPECT_EQ(poison_reason(R"({"v":2,"run":"r","key":"k","item":{}})"),
            "the message's \"v\" is 2; this sentiflow reads version 1");
  EXPECT_EQ(poison_reason(R"({"v":"1","run":"r","key":"k","item":{}})"),
            "the message's \"v\" is \"1\"; this sentiflow reads version 1");
  EXPECT_EQ(poison_reason(R"({"v":1.0,"run":"r","key":"k","item":{}})"),
            "the message's \"v\" is 1.0; this sentiflow reads version 1");
  EXPECT_EQ(poison_reason(R"({"v":1,"key":"k","item":{}})"), "the message has no \"run\" string");
  EXPECT_EQ(poison_reason(R"({"v":1,"run":"r","item":{}})"), "the message has no \"key\" string");
  EXPECT_EQ(poison_reason(R"({"v":1,"run":"r","key":42,"item":{}})"), "the message has no \"key\" string");
  EXPECT_EQ(poison_reason(R"({"v":1,"run":"r","key":"","item":{}})"), "the message's \"key\" is empty");
  EXPECT_EQ(poison_reason(R"({"v":1,"run":"r","key":"k"})"), "the message has no \"item\" object");
  EXPECT_EQ(poison_reason(R"({"v":1,"run":"r","key":"k","item":[{}]})"), "the message has no \"item\" object");
  EXPECT_EQ(poison_reason(R"({"v":1,"run":"r","key":"k","item":null})"), "the message has no \"item\" object");
  EXPECT_EQ(poison_reason("{\"v\":1,\"run\":\"r\",\"key\":\"k\xff\",\"item\":{}}"),
            "the message is not valid JSON: invalid UTF-8 in a string at byte 26");
  EXPECT_EQ(poison_reason(R"({"v":1,"run":"r","key":"k","key":"k2","item":{}})"),
            "the message is not valid JSON: the attribute 'key' appears twice at byte 28");
  EXPECT_NE(poison_reason(R"({"v":1,"run":"r","key":"\udc00","item":{}})").find("lone low surrogate"),
            std::string::npos);
}

// A run id is checked as the producer's are: it names a folder of the sink, so `x/y` or a space
// must fail its own message, not the batch's put (issue 14, fault 3).
TEST(Message, RefusesARunThatIsNotARunId) {
  for (const std::string& run : std::vector<std::string>{"x/y", "a b", std::string(129, 'r'), "r\\u0000"}) {
    const std::string reason = poison_reason(R"({"v":1,"run":")" + run + R"(","key":"k","item":{}})");
    EXPECT_TRUE(reason.starts_with("the message's \"run\": run id")) << run << ": " << reason;
  }
  EXPECT_EQ(decode_message(R"({"v":1,"run":"2026-11-26T06:00:00Z","key":"k","item":{}})").run, "2026-11-26T06:00:00Z");
  EXPECT_EQ(decode_message(R"({"v":1,"run":"manual-20261126T060000.123Z","key":"k","item":{}})").key, "k");
}

TEST(Message, KeepsTheItemsNestingLimitInsideTheMessage) {
  std::string deep = "1";
  for (int i = 0; i < 31; ++i) deep = "[" + deep + "]";
  const std::string item = "{\"v\":" + deep + "}";  // 32 levels: the most an item may have
  EXPECT_EQ(decode_message(encode_message("r", "k", item)).item, item);
  EXPECT_NE(poison_reason(encode_message("r", "k", "{\"v\":[" + deep + "]}")).find("nested deeper than 33 levels"),
            std::string::npos);
}

TEST(Message, RefusesToEncodeRunOrKeyThatIsNotUtf8) {
  try {
    encode_message("r", "bad\xc3", "{}");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_STREQ(e.what(), "the message's key is not valid UTF-8 (at byte 4)");
  }
  EXPECT_THROW(encode_message("\xff", "k", "{}"), Error);
}

TEST(Message, IsReadableByAnyJsonParser) {
  const std::string body = encode_message("r", "k \"x\"", R"({"name":"k \"x\"","n":2.5})");
  const auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j.at("v"), 1);
  EXPECT_EQ(j.at("key"), "k \"x\"");
  EXPECT_EQ(j.at("item").at("n"), 2.5);
}

}  // namespace
}  // namespace sentiflow::pipeline

namespace sentiflow::pipeline {
namespace {

// A run's attempt travels in the message from attempt 2 on (issue 14, fault 7): the results'
// dedupe orders by it. A first attempt's body is as before; a bad attempt is a poison message.
TEST(Message, CarriesTheAttemptFromTheSecondOn) {
  EXPECT_EQ(encode_message("r", "k", "{}"), R"({"v":1,"run":"r","key":"k","item":{}})");
  EXPECT_EQ(decode_message(encode_message("r", "k", "{}")).attempt, 1);
  const std::string second = encode_message("r", "k", "{}", 2);
  EXPECT_EQ(second, R"({"v":1,"run":"r","attempt":2,"key":"k","item":{}})");
  EXPECT_EQ(decode_message(second).attempt, 2);
  for (const char* bad : {R"({"v":1,"run":"r","attempt":0,"key":"k","item":{}})",
                          R"({"v":1,"run":"r","attempt":"2","key":"k","item":{}})",
                          R"({"v":1,"run":"r","attempt":1.5,"key":"k","item":{}})"})
    EXPECT_THROW(decode_message(bad), Error) << bad;
}

}  // namespace
}  // namespace sentiflow::pipeline
