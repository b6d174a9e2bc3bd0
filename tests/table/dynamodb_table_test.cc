// DynamoDbTable: the conversion between our item JSON and DynamoDB JSON (no server), then the
// conformance suite and DynamoDB's own rules against moto_server in auth mode (skipped where
// moto_server is not installed).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "core/digest.h"
#include "core/error.h"
#include "support/moto.h"
#include "table/dynamodb_table.h"
#include "table_conformance.h"

namespace sentiflow::testing {
namespace {

using dynamodb::from_attribute_map;
using dynamodb::to_attribute_map;

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no Error thrown";
  return ErrorCode::internal;
}

TEST(DynamoDbConversion, NumbersKeepTheirExactText) {
  EXPECT_EQ(to_attribute_map(R"({"n": 12345678901234567890123456789012345678, "f": -1.50E-0300, "z": 0})"),
            R"({"n":{"N":"12345678901234567890123456789012345678"},"f":{"N":"-1.50E-0300"},"z":{"N":"0"}})");
  EXPECT_EQ(
      from_attribute_map(R"({"n": {"N": "12345678901234567890123456789012345678"}, "d": {"N": "9007199254740993"}})"),
      R"({"n":12345678901234567890123456789012345678,"d":9007199254740993})");
}

TEST(DynamoDbConversion, NestedMapsListsBoolAndNull) {
  const std::string ours = R"({"name":"x","m":{"deep":{"l":[1,"two",true,false,null,[],{}]}},"e":""})";
  const std::string theirs =
      R"({"name":{"S":"x"},"m":{"M":{"deep":{"M":{"l":{"L":[{"N":"1"},{"S":"two"},{"BOOL":true},{"BOOL":false},)"
      R"({"NULL":true},{"L":[]},{"M":{}}]}}}}},"e":{"S":""}})";
  EXPECT_EQ(to_attribute_map(ours), theirs);
  EXPECT_EQ(from_attribute_map(theirs), ours);
}

TEST(DynamoDbConversion, StringsKeepTheirCharactersAndEscapes) {
  // Written: the literal as it is (DynamoDB decodes JSON escapes itself).
  EXPECT_EQ(to_attribute_map(R"({"caf\u00e9":"line\nbreak \"q\" \\ \/ 😀"})"),
            R"({"caf\u00e9":{"S":"line\nbreak \"q\" \\ \/ 😀"}})");
  // Read: decoded, then written with the fewest escapes, whatever the service chose.
  EXPECT_EQ(from_attribute_map(R"({"caf\u00e9": {"S": "line\nbreak \"q\" \\ \/ \ud83d\ude00 \u0001"}})"),
            "{\"caf\xc3\xa9\":\"line\\nbreak \\\"q\\\" \\\\ / \xf0\x9f\x98\x80 \\u0001\"}");
}

// Both directions, and back: what DynamoDB gives is what we write again.
void expect_both_ways(const std::string& ours, const std::string& theirs) {
  EXPECT_EQ(to_attribute_map(ours), theirs);
  EXPECT_EQ(from_attribute_map(theirs), ours);
}

TEST(DynamoDbConversion, BinaryAndSetsAreTags) {
  expect_both_ways(R"({"b":{"$B":"aGVsbG8="},"e":{"$B":""}})", R"({"b":{"B":"aGVsbG8="},"e":{"B":""}})");
  expect_both_ways("{\"ss\":{\"$SS\":[\"a\",\"b\xc3\xa9\",\"\"]}}", "{\"ss\":{\"SS\":[\"a\",\"b\xc3\xa9\",\"\"]}}");
  expect_both_ways(R"({"bs":{"$BS":["AAE=","/w=="]}})", R"({"bs":{"BS":["AAE=","/w=="]}})");
  // Number sets: numbers in our JSON, strings in DynamoDB's, the exact text either way.
  expect_both_ways(R"({"ns":{"$NS":[1,-0.5,12345678901234567890123456789012345678,1.50E-0300]}})",
                   R"({"ns":{"NS":["1","-0.5","12345678901234567890123456789012345678","1.50E-0300"]}})");
  // Escapes as DynamoDB (moto) writes them are decoded, as for S.
  EXPECT_EQ(from_attribute_map(R"({"ss":{"SS":["caf\u00e9"]},"b":{"B":"aGk\u003d"}})"),
            "{\"ss\":{\"$SS\":[\"caf\xc3\xa9\"]},\"b\":{\"$B\":\"aGk=\"}}");
}

TEST(DynamoDbConversion, TagsNestInMapsAndLists) {
  expect_both_ways(R"({"m":{"l":[{"$SS":["x"]},{"$NS":[2]},[{"$B":"AA=="}],{"in":{"$BS":["AA=="]}}]}})",
                   R"({"m":{"M":{"l":{"L":[{"SS":["x"]},{"NS":["2"]},{"L":[{"B":"AA=="}]},)"
                   R"({"M":{"in":{"BS":["AA=="]}}}]}}}})");
}

TEST(DynamoDbConversion, LargeValues) {
  const std::string bytes(300'000, '\x7f');
  const std::string b64 = base64_encode(bytes);
  expect_both_ways(R"({"b":{"$B":")" + b64 + "\"}}", R"({"b":{"B":")" + b64 + "\"}}");
  std::string ours = R"({"ss":{"$SS":[)", theirs = R"({"ss":{"SS":[)";
  for (int i = 0; i < 5000; ++i) {
    const std::string element = (i ? ",\"" : "\"") + std::to_string(i) + "\"";
    ours += element;
    theirs += element;
  }
  expect_both_ways(ours + "]}}", theirs + "]}}");
}

TEST(DynamoDbConversion, MapsThatLookLikeTagsAreEscaped) {
  // A map whose only attribute has a tag's name: {"$M": ...} on our side, a plain M on theirs.
  expect_both_ways(R"({"m":{"$M":{"$B":{"$SS":["real set"]}}}})", R"({"m":{"M":{"$B":{"SS":["real set"]}}}})");
  expect_both_ways(R"({"m":{"$M":{"$M":{"$M":{"$NS":1}}}}})", R"({"m":{"M":{"$M":{"M":{"$NS":{"N":"1"}}}}}})");
  // An escaped name is the same name.
  EXPECT_EQ(from_attribute_map(R"({"m":{"M":{"\u0024SS":{"S":"x"}}}})"), R"({"m":{"$M":{"$SS":"x"}}})");
  // Not tags: two attributes, another name, the item's top level.
  expect_both_ways(R"({"$B":"top"})", R"({"$B":{"S":"top"}})");
  expect_both_ways(R"({"m":{"$B":"x","y":1},"d":{"$X":1},"$SS":"top"})",
                   R"({"m":{"M":{"$B":{"S":"x"},"y":{"N":"1"}}},"d":{"M":{"$X":{"N":"1"}}},"$SS":{"S":"top"}})");
}

TEST(DynamoDbConversion, MalformedTagsAreInvalidInput) {
  for (const std::string bad :
       {R"({"$B":1})", R"({"$B":"aGk"})", R"({"$SS":[]})", R"({"$SS":["a","a"]})", R"({"$NS":[1,1.00]})",
        R"({"$NS":["1"]})", R"({"$BS":["x"]})", R"({"$M":{"a":1}})", R"({"$M":"x"})", R"({"\u0024B":true})"}) {
    EXPECT_EQ(code_of([&] { to_attribute_map(R"({"v":)" + bad + "}"); }), ErrorCode::invalid_input) << bad;
  }
  try {
    to_attribute_map(R"({"v":{"l":[0,{"$SS":"a"}]}})");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              R"(the item is invalid: attribute 'v.l[1]': {"$SS": …} is a DynamoDB string set (SS) and needs an )"
              R"(array of strings; a map whose only attribute is named '$SS' is written {"$M": {"$SS": …}})");
  }
}

TEST(DynamoDbConversion, MalformedServiceValuesAreInternalErrors) {
  EXPECT_EQ(code_of([] { from_attribute_map(R"({"a":{"X":"1"}})"); }), ErrorCode::internal);
  EXPECT_EQ(code_of([] { from_attribute_map(R"({"a":{"N":"1.5.2"}})"); }), ErrorCode::internal);
  EXPECT_EQ(code_of([] { from_attribute_map(R"({"a":{"N":" 1"}})"); }), ErrorCode::internal);
  EXPECT_EQ(code_of([] { from_attribute_map(R"({"a":{"S":"x","N":"1"}})"); }), ErrorCode::internal);
  EXPECT_EQ(code_of([] { from_attribute_map(R"({"a":{"BOOL":"yes"}})"); }), ErrorCode::internal);
  EXPECT_EQ(code_of([] { from_attribute_map(R"({"a":"plain"})"); }), ErrorCode::internal);
  EXPECT_EQ(code_of([] { from_attribute_map(R"({"a":{"SS":"x"}})"); }), ErrorCode::internal);
  EXPECT_EQ(code_of([] { to_attribute_map("[1]"); }), ErrorCode::invalid_input);
}

// ---- Against moto ---------------------------------------------------------------------------

// One moto for the whole test binary: starting one takes seconds.
testing_support::AuthMoto& shared_moto() {
  static std::unique_ptr<testing_support::AuthMoto> moto;
  static std::once_flag once;
  std::call_once(once, [] { moto = std::make_unique<testing_support::AuthMoto>("sentiflow-dynamodb"); });
  return *moto;
}

std::shared_ptr<const aws::AwsClient> moto_dynamodb() {
  return std::make_shared<const aws::AwsClient>(shared_moto().client(aws::kDynamoDb, 3));
}

std::string fresh_table_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(++counter);
}

// Marks the current test skipped; gtest does not run a test whose fixture's constructor skipped.
void skip(const std::string& why) { GTEST_SKIP() << why; }

class DynamoDbTableFactory {
 public:
  DynamoDbTableFactory() {
    if (!shared_moto().skip_reason().empty()) {
      skip(shared_moto().skip_reason());
      return;
    }
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    if (test == "ItemSizeLimit") {
      skip(
          "moto 5 refuses items over 405,000 bytes of its own measure; DynamoDB's limit is 400 KiB "
          "(409,600 bytes). DynamoDbTableTest.ItemsNearTheLimit checks ours below moto's.");
      return;
    }
    client_ = moto_dynamodb();
  }
  static TableCapabilities capabilities() {
    // count() scans with ConsistentRead: exact on a quiet table.
    return {.exact_count = true, .no_empty_last_page = false, .verbatim_text = false};
  }
  std::unique_ptr<Table> open(const KeySchema& schema) {
    return std::make_unique<DynamoDbTable>(
        client_,
        DynamoDbTableOptions{
            .name = name_ + (schema.sort_key ? "-sorted" : ""), .key_schema = schema, .create_if_missing = true});
  }

 private:
  std::shared_ptr<const aws::AwsClient> client_;
  std::string name_ = fresh_table_name("conformance");
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(DynamoDb, TableConformance, ::testing::Types<DynamoDbTableFactory>);

namespace {

class DynamoDbTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!shared_moto().skip_reason().empty()) GTEST_SKIP() << shared_moto().skip_reason();
    client_ = moto_dynamodb();
  }
  std::string call(const std::string& operation, const std::string& body) {
    return client_
        ->call({.operation = operation,
                .headers = {{"Content-Type", "application/x-amz-json-1.0"},
                            {"X-Amz-Target", "DynamoDB_20120810." + operation}},
                .body = body})
        .body;
  }
  std::shared_ptr<const aws::AwsClient> client_;
};

TEST_F(DynamoDbTableTest, OpensAnExistingTableWithItsSchemaAndRefusesAnotherOne) {
  const std::string name = fresh_table_name("schema");
  DynamoDbTable created(client_, {.name = name, .key_schema = KeySchema{"company", "year"}, .create_if_missing = true});
  DynamoDbTable opened(client_, {.name = name});
  EXPECT_EQ(opened.key_schema(), (KeySchema{"company", "year"}));
  EXPECT_EQ(code_of([&] { DynamoDbTable(client_, {.name = name, .key_schema = KeySchema{"company"}}); }),
            ErrorCode::invalid_input);
  EXPECT_EQ(code_of([&] { DynamoDbTable(client_, {.name = fresh_table_name("missing")}); }), ErrorCode::not_found);
  EXPECT_EQ(code_of([&] { DynamoDbTable(client_, {.name = "a"}); }), ErrorCode::invalid_input);
  EXPECT_EQ(code_of([&] { DynamoDbTable(client_, {.name = "ok-name", .create_if_missing = true}); }),
            ErrorCode::invalid_input);
  created.drop();
  EXPECT_EQ(code_of([&] { DynamoDbTable(client_, {.name = name}); }), ErrorCode::not_found);
}

TEST_F(DynamoDbTableTest, RefusesATableWithANumberKey) {
  const std::string name = fresh_table_name("numberkey");
  call("CreateTable", R"({"TableName":")" + name +
                          R"(","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"id",)"
                          R"("AttributeType":"N"}],"KeySchema":[{"AttributeName":"id","KeyType":"HASH"}]})");
  EXPECT_EQ(code_of([&] { DynamoDbTable(client_, {.name = name}); }), ErrorCode::invalid_input);
}

// An item written by someone else with every type goes through DynamoDbTable (scan, then put
// and put_batch) and comes back with the same types: compared as DynamoDB's own JSON.
TEST_F(DynamoDbTableTest, ItemsCopiedThroughUsKeepEveryType) {
  const std::string source = fresh_table_name("types");
  const std::string copy = fresh_table_name("types-copy");
  DynamoDbTable from(client_, {.name = source, .key_schema = KeySchema{"name"}, .create_if_missing = true});
  DynamoDbTable to(client_, {.name = copy, .key_schema = KeySchema{"name"}, .create_if_missing = true});
  const std::string raw_item =
      R"({"name":{"S":"s"},"ss":{"SS":["a","b"]},"ns":{"NS":["12345678901234567890123456789012345678","-0.5"]},)"
      R"("bs":{"BS":["AAE=","/w=="]},"b":{"B":"aGVsbG8="},"e":{"B":""},"z":{"NULL":true},"t":{"BOOL":true},)"
      R"("m":{"M":{"l":{"L":[{"SS":["x"]},{"B":"AA=="},{"M":{"$SS":{"S":"a map"}}}]}}},)"
      R"("look":{"M":{"$B":{"BS":["AQID"]}}}})";
  call("PutItem", R"({"TableName":")" + source + R"(","Item":)" + raw_item + "}");

  const ScanPage page = from.scan({0, 1, 10, ""});
  ASSERT_EQ(page.items.size(), 1u);
  const std::string& item = page.items[0];
  EXPECT_NE(item.find(R"("ns":{"$NS":[)"), std::string::npos) << item;
  EXPECT_NE(item.find("12345678901234567890123456789012345678"), std::string::npos) << item;
  EXPECT_NE(item.find(R"("b":{"$B":"aGVsbG8="})"), std::string::npos) << item;
  EXPECT_NE(item.find(R"({"$M":{"$SS":"a map"}})"), std::string::npos) << item;
  EXPECT_NE(item.find(R"("look":{"$M":{"$B":{"$BS":["AQID"]}}})"), std::string::npos) << item;

  to.put_batch(std::vector<std::string>{item});  // BatchWriteItem
  from.put(item);                                // PutItem over the original
  // Sets compared as sets: DynamoDB keeps them in an order of its own.
  const auto sets_sorted = [](nlohmann::json j) {
    const std::function<void(nlohmann::json&)> walk = [&](nlohmann::json& v) {
      for (const char* set : {"SS", "NS", "BS"})
        if (v.is_object() && v.contains(set)) std::sort(v[set].begin(), v[set].end());
      if (v.is_structured())
        for (auto& child : v) walk(child);
    };
    walk(j);
    return j;
  };
  const auto raw = [&](const std::string& table) {
    return sets_sorted(
        nlohmann::json::parse(call("GetItem", R"({"TableName":")" + table + R"(","Key":{"name":{"S":"s"}}})"))
            .at("Item"));
  };
  const nlohmann::json expected = sets_sorted(nlohmann::json::parse(raw_item));
  EXPECT_EQ(raw(source), expected);
  EXPECT_EQ(raw(copy), expected);
}

TEST_F(DynamoDbTableTest, ItemsNearTheLimit) {
  DynamoDbTable table(client_,
                      {.name = fresh_table_name("size"), .key_schema = KeySchema{"name"}, .create_if_missing = true});
  const std::string text = R"({"name":"big","text":")" + std::string(400'000, 'x') + "\"}";
  table.put(text);
  EXPECT_EQ(table.get({"big"}), text);
  EXPECT_EQ(code_of([&] { table.put(R"({"name":"big","text":")" + std::string(410'000, 'y') + "\"}"); }),
            ErrorCode::invalid_input);
}

TEST_F(DynamoDbTableTest, ScanTokensBelongToTheirTable) {
  DynamoDbTable a(client_,
                  {.name = fresh_table_name("tokens"), .key_schema = KeySchema{"name"}, .create_if_missing = true});
  DynamoDbTable b(client_,
                  {.name = fresh_table_name("tokens"), .key_schema = KeySchema{"name"}, .create_if_missing = true});
  for (int i = 0; i < 5; ++i) {
    a.put(R"({"name":"k)" + std::to_string(i) + "\"}");
    b.put(R"({"name":"k)" + std::to_string(i) + "\"}");
  }
  const ScanPage page = a.scan({0, 1, 2, ""});
  ASSERT_EQ(page.items.size(), 2u);
  ASSERT_FALSE(page.next_token.empty());
  EXPECT_EQ(code_of([&] { b.scan({0, 1, 2, page.next_token}); }), ErrorCode::invalid_input);
  EXPECT_EQ(a.scan({0, 1, 2, page.next_token}).items.size(), 2u);
  EXPECT_EQ(a.count(), 5);
}

}  // namespace
}  // namespace sentiflow::testing
