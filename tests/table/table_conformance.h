// The Table conformance suite: every rule of table/table.h, written against the interface
// only. A backend runs it with one line,
//
//   INSTANTIATE_TYPED_TEST_SUITE_P(DynamoDb, TableConformance, ::testing::Types<DynamoDbTableFactory>);
//
// where the factory provides:
//
//   static TableCapabilities capabilities();
//   // An empty table with `schema`, new for each factory object (one per test); opening the
//   // same schema again on the same factory gives another object on the same table.
//   std::unique_ptr<Table> open(const KeySchema& schema);
//
// The limits used are the interface's: limits().max_item_bytes (400 KiB), max_batch_items
// (25), max_page_bytes (1 MiB). A rule a backend cannot meet is skipped by a capability, with
// GTEST_SKIP and the reason.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "table/table.h"

namespace sentiflow::testing {

struct TableCapabilities {
  bool exact_count = false;         // count() is exact at once (DynamoDB's ItemCount is not)
  bool no_empty_last_page = false;  // next_token is empty exactly when the segment is done
  // Items come back as the exact text they were put with, whitespace aside: attribute order,
  // escapes and every number as written (1e400, 1.0, -0). DynamoDB keeps 38 significant
  // digits but normalises numbers, limits their range and reorders attributes.
  bool verbatim_text = false;
};

template <typename Factory>
class TableConformance : public ::testing::Test {
 protected:
  static TableCapabilities caps() { return Factory::capabilities(); }

  static KeySchema simple() { return KeySchema{"name"}; }

  static std::string item(const std::string& name, const std::string& rest = "") {
    return "{\"name\":\"" + name + "\"" + (rest.empty() ? "" : "," + rest) + "}";
  }

  // Every item of one segment, page by page; checks each page against the limits.
  static std::vector<std::string> scan_segment(Table& table, int segment, int total, size_t limit,
                                               int* pages = nullptr) {
    std::vector<std::string> items;
    std::string token;
    int count = 0;
    do {
      const ScanPage page = table.scan({segment, total, limit, token});
      EXPECT_LE(page.items.size(), limit);
      uint64_t bytes = 0;
      for (const auto& i : page.items) bytes += i.size();
      if (page.items.size() > 1) {
        EXPECT_LE(bytes, table.limits().max_page_bytes);
      }
      items.insert(items.end(), page.items.begin(), page.items.end());
      token = page.next_token;
      ++count;
      if (count > 100'000) {
        ADD_FAILURE() << "the scan does not end";
        break;
      }
    } while (!token.empty());
    if (pages != nullptr) *pages = count;
    return items;
  }

  static void expect_invalid(Table& table, const std::string& text, const std::string& fragment = "") {
    try {
      table.put(text);
      ADD_FAILURE() << "accepted: " << text.substr(0, 200);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input) << text.substr(0, 200);
      if (!fragment.empty()) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      }
    }
  }

  // The same item: the same text where the backend keeps it verbatim, else the same JSON.
  static void expect_same_item(const std::optional<std::string>& actual, const std::string& expected) {
    ASSERT_TRUE(actual.has_value()) << "no item; expected " << expected.substr(0, 200);
    if (caps().verbatim_text) {
      EXPECT_EQ(*actual, expected);
    } else {
      EXPECT_EQ(nlohmann::json::parse(*actual), nlohmann::json::parse(expected)) << *actual;
    }
  }

  // The partition key values of scanned items.
  static std::vector<std::string> names(const std::vector<std::string>& items) {
    std::vector<std::string> out;
    for (const auto& i : items) out.push_back(nlohmann::json::parse(i).at("name").get<std::string>());
    return out;
  }

  Factory factory_;
};

TYPED_TEST_SUITE_P(TableConformance);

TYPED_TEST_P(TableConformance, PutGetRemove) {
  auto table = this->factory_.open(this->simple());
  EXPECT_EQ(table->key_schema(), this->simple());
  table->put(R"({"name": "Apple", "text": "Apple designs devices."})");
  this->expect_same_item(table->get({"Apple"}), R"({"name":"Apple","text":"Apple designs devices."})");
  EXPECT_EQ(table->get({"Pear"}), std::nullopt);
  EXPECT_TRUE(table->remove({"Apple"}));
  EXPECT_FALSE(table->remove({"Apple"}));
  EXPECT_EQ(table->get({"Apple"}), std::nullopt);
  EXPECT_THROW(table->get({""}), Error);
  EXPECT_THROW(table->get({"Apple", "unexpected sort key"}), Error);
}

TYPED_TEST_P(TableConformance, PutReplacesTheItemWithTheSameKey) {
  auto table = this->factory_.open(this->simple());
  table->put(this->item("a", "\"v\":1"));
  table->put(this->item("a", "\"v\":2"));
  this->expect_same_item(table->get({"a"}), this->item("a", "\"v\":2"));
  if (this->caps().exact_count) {
    EXPECT_EQ(table->count(), 1);
  }
}

TYPED_TEST_P(TableConformance, NumbersKeepTheirDigits) {
  auto table = this->factory_.open(this->simple());
  const std::vector<std::string> numbers = {
      "12345678901234567890123456789012345678",  // 38 digits: a DynamoDB N at full precision
      "-0.12345678901234567890123456789012345678",
      "9007199254740993",  // 2^53 + 1: a double would make it ...992
      "0.1",
  };
  std::string rest = "\"n\":[";
  for (size_t i = 0; i < numbers.size(); ++i) rest += (i ? "," : "") + numbers[i];
  rest += "],\"nested\":{\"deep\":{\"x\":100000000000000000000000000001}}";
  table->put(this->item("numbers", rest));
  const auto got = table->get({"numbers"});
  ASSERT_TRUE(got.has_value());
  for (const auto& n : numbers) EXPECT_NE(got->find(n), std::string::npos) << n << " is not in " << *got;
  EXPECT_NE(got->find("100000000000000000000000000001"), std::string::npos) << *got;
  const auto scanned = this->scan_segment(*table, 0, 1, 10);
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned[0], *got);
}

TYPED_TEST_P(TableConformance, NumbersKeepTheirTextVerbatim) {
  if (!this->caps().verbatim_text)
    GTEST_SKIP() << "this backend normalises numbers (1.0 -> 1) and limits their range (DynamoDB: 1e-130 to 1e126)";
  auto table = this->factory_.open(this->simple());
  const std::string text = this->item("numbers", "\"n\":[1e400,-1.50E-0300,1.0,-0,0,1E+2,123.4560]");
  table->put(text);
  EXPECT_EQ(table->get({"numbers"}), text);
  EXPECT_EQ(this->scan_segment(*table, 0, 1, 10).at(0), text);
}

TYPED_TEST_P(TableConformance, TextKeepsItsCharactersAndEscapes) {
  auto table = this->factory_.open(this->simple());
  const std::string text =
      R"({"name":"caf\u00e9 \ud83d\ude00","text":"line\nbreak \"quoted\" \\ \/ tab\t","raw":"café 😀","e":"","t":true,"f":false,"z":null,"l":[],"m":{}})";
  table->put(text);
  this->expect_same_item(table->get({"caf\xc3\xa9 \xf0\x9f\x98\x80"}), text);  // the key is the decoded string
}

TYPED_TEST_P(TableConformance, InsignificantWhitespaceIsDropped) {
  auto table = this->factory_.open(this->simple());
  table->put(" {\n  \"name\" : \"spaced\" ,\r\n \"list\" : [ 1 , 2 , { \"a\" : \"b c\" } ] \t}\n");
  this->expect_same_item(table->get({"spaced"}), R"({"name":"spaced","list":[1,2,{"a":"b c"}]})");
}

TYPED_TEST_P(TableConformance, InvalidItemsAreRefused) {
  auto table = this->factory_.open(this->simple());
  this->expect_invalid(*table, "[1, 2]", "object");
  this->expect_invalid(*table, "\"just a string\"");
  this->expect_invalid(*table, "", "");
  this->expect_invalid(*table, R"({"other": "x"})", "'name' is missing");
  this->expect_invalid(*table, R"({"name": 42})", "must be a string");
  this->expect_invalid(*table, R"({"name": ""})", "empty");
  this->expect_invalid(*table, R"({"name": "a",})");
  this->expect_invalid(*table, R"({"name": "a", "v": })");
  this->expect_invalid(*table, R"({"name": "a"} trailing)");
  this->expect_invalid(*table, R"({"name": "a", "v": 01})");
  this->expect_invalid(*table, R"({"name": "a", "v": 1.})");
  this->expect_invalid(*table, R"({"name": "a", "v": NaN})");
  this->expect_invalid(*table, R"({"name": "a", "v": "\x"})");
  this->expect_invalid(*table, R"({"name": "a", "v": "\ud800"})", "surrogate");
  this->expect_invalid(*table, "{\"name\": \"a\", \"v\": \"\xff\"}", "UTF-8");
  this->expect_invalid(*table, "{\"name\": \"a\", \"v\": \"tab\there\"}", "control character");
  this->expect_invalid(*table, R"({"name": "a", "v": 1, "v": 2})", "twice");
  this->expect_invalid(*table, R"({"name": "a", "name": "b"})", "twice");
  std::string deep = "1";
  for (int i = 0; i < 40; ++i) deep = "[" + deep + "]";
  this->expect_invalid(*table, this->item("deep", "\"v\":" + deep), "nested");
  if (this->caps().exact_count) {
    EXPECT_EQ(table->count(), 0);
  }
}

// DynamoDB's binary and set types as tags (table/json_item.h): every table stores and returns
// them as put (sets in an order of the backend's), nested in maps and lists, with the $M escape.
TYPED_TEST_P(TableConformance, TaggedTypesRoundTrip) {
  auto table = this->factory_.open(this->simple());
  const std::string text =
      R"({"name":"typed","b":{"$B":"aGVsbG8="},"empty":{"$B":""},"ss":{"$SS":["a","b\u00e9"]},)"
      R"("ns":{"$NS":[1,-0.5,12345678901234567890123456789012345678]},"bs":{"$BS":["AAE=","/w=="]},)"
      R"("m":{"deep":{"l":[{"$B":"AA=="},{"$SS":["x"]},{"$M":{"$SS":"a map, not a set"}}]}},)"
      R"("escaped":{"$M":{"$M":{"$B":"AQID"}}},"two":{"$B":1,"other":2},"dollar":{"$X":"plain"}})";
  table->put(text);
  const auto sorted_sets = [](const std::string& item) {
    nlohmann::json j = nlohmann::json::parse(item);
    const std::function<void(nlohmann::json&)> walk = [&](nlohmann::json& v) {
      if (v.is_object() && v.size() == 1 && (v.contains("$SS") || v.contains("$NS") || v.contains("$BS"))) {
        auto& set = v.begin().value();
        std::sort(set.begin(), set.end());
      }
      if (v.is_structured())
        for (auto& child : v) walk(child);
    };
    walk(j);
    return j;
  };
  const auto got = table->get({"typed"});
  ASSERT_TRUE(got.has_value());
  if (this->caps().verbatim_text) {
    EXPECT_EQ(*got, text);
  } else {
    EXPECT_EQ(sorted_sets(*got), sorted_sets(text)) << *got;
  }
  EXPECT_NE(got->find("12345678901234567890123456789012345678"), std::string::npos) << *got;
  const auto scanned = this->scan_segment(*table, 0, 1, 10);
  ASSERT_EQ(scanned.size(), 1u);
  EXPECT_EQ(scanned[0], *got);
  // What came out goes back in unchanged, through a batch too.
  table->put_batch(std::vector<std::string>{*got});
  EXPECT_EQ(sorted_sets(*table->get({"typed"})), sorted_sets(*got));
}

TYPED_TEST_P(TableConformance, MalformedTagsAreRefused) {
  auto table = this->factory_.open(this->simple());
  const auto bad = [&](const std::string& attribute, const std::string& fragment) {
    this->expect_invalid(*table, this->item("bad", "\"v\":" + attribute), fragment);
  };
  bad(R"({"$B":1})", "written {\"$M\": {\"$B\": …}}");
  bad(R"({"$B":"aGk"})", "canonical base64");   // unpadded
  bad(R"({"$B":"aGl="})", "canonical base64");  // stray bits
  bad(R"({"$B":"aG k="})", "canonical base64");
  bad(R"({"$SS":[]})", "at least one");
  bad(R"({"$SS":"a"})", "array of strings");
  bad(R"({"$SS":["a",1]})", "array of strings");
  bad(R"({"$SS":["a","a"]})", "twice");
  bad(R"({"$NS":[1,1.0]})", "twice");
  bad(R"({"$NS":[0,-0]})", "twice");
  bad(R"({"$NS":[10,1e1]})", "twice");
  bad(R"({"$NS":["1"]})", "array of numbers");
  bad(R"({"$BS":["AAE=","AAE="]})", "twice");
  bad(R"({"$BS":["not base64"]})", "canonical base64");
  bad(R"({"$M":{"a":1}})", "need no escape");
  bad(R"({"$M":[1]})", "only attribute");
  bad(R"({"\u0024B":1})", "'v'");            // an escaped name is the same name
  bad(R"({"m":[{"$SS":[]}]})", "'v.m[0]'");  // the message names where
  if (this->caps().exact_count) {
    EXPECT_EQ(table->count(), 0);
  }
}

TYPED_TEST_P(TableConformance, ItemSizeLimit) {
  auto table = this->factory_.open(this->simple());
  const uint64_t limit = table->limits().max_item_bytes;
  ASSERT_EQ(limit, 400u * 1024) << "the suite checks DynamoDB's 400 KB";
  const std::string frame = this->item("big", "\"text\":\"\"");
  const std::string fits = this->item("big", "\"text\":\"" + std::string(limit - frame.size(), 'x') + "\"");
  ASSERT_EQ(fits.size(), limit);
  EXPECT_NO_THROW(table->put(fits));
  const std::string too_big = this->item("big", "\"text\":\"" + std::string(limit - frame.size() + 1, 'y') + "\"");
  this->expect_invalid(*table, too_big, "400 KiB");
  this->expect_same_item(table->get({"big"}), fits);
}

TYPED_TEST_P(TableConformance, KeyLengthLimits) {
  auto table = this->factory_.open(this->simple());
  const size_t max = table->limits().max_partition_key_bytes;
  EXPECT_NO_THROW(table->put(this->item(std::string(max, 'k'))));
  this->expect_invalid(*table, this->item(std::string(max + 1, 'k')), "at most");
}

TYPED_TEST_P(TableConformance, PutBatchIsAllOrNothing) {
  auto table = this->factory_.open(this->simple());
  const size_t max = table->limits().max_batch_items;
  ASSERT_EQ(max, 25u);
  std::vector<std::string> batch;
  for (size_t i = 0; i < max; ++i) batch.push_back(this->item("b" + std::to_string(i)));
  std::vector<std::string> unprocessed = table->put_batch(batch);
  for (int attempt = 0; !unprocessed.empty() && attempt < 10; ++attempt) unprocessed = table->put_batch(unprocessed);
  EXPECT_TRUE(unprocessed.empty());
  for (size_t i = 0; i < max; ++i) EXPECT_TRUE(table->get({"b" + std::to_string(i)}).has_value());

  batch.push_back(this->item("one too many"));
  EXPECT_THROW(table->put_batch(batch), Error);
  EXPECT_FALSE(table->get({"one too many"}).has_value());
  EXPECT_THROW(table->put_batch(std::vector<std::string>{this->item("dup"), this->item("dup", "\"v\":2")}), Error);
  EXPECT_FALSE(table->get({"dup"}).has_value());
  EXPECT_THROW(table->put_batch(std::vector<std::string>{this->item("fine"), "{\"no key\": 1}"}), Error);
  EXPECT_FALSE(table->get({"fine"}).has_value());
  EXPECT_THROW(table->put_batch(std::vector<std::string>{}), Error);
}

TYPED_TEST_P(TableConformance, CountsItems) {
  if (!this->caps().exact_count) GTEST_SKIP() << "this backend's count is approximate";
  auto table = this->factory_.open(this->simple());
  EXPECT_EQ(table->count(), 0);
  for (int i = 0; i < 30; ++i) table->put(this->item("c" + std::to_string(i)));
  table->remove({"c0"});
  EXPECT_EQ(table->count(), 29);
}

TYPED_TEST_P(TableConformance, ScanPagesCoverEveryItemOnce) {
  auto table = this->factory_.open(this->simple());
  std::set<std::string> expected;
  for (int i = 0; i < 250; ++i) {
    table->put(this->item("s" + std::to_string(i)));
    expected.insert("s" + std::to_string(i));
  }
  int pages = 0;
  const auto items = this->names(this->scan_segment(*table, 0, 1, 100, &pages));
  EXPECT_EQ(items.size(), 250u);
  EXPECT_EQ(std::set<std::string>(items.begin(), items.end()), expected);
  if (this->caps().no_empty_last_page) {
    EXPECT_EQ(pages, 3);
  }
  const auto one_by_one = this->names(this->scan_segment(*table, 0, 1, 1));
  EXPECT_EQ(one_by_one, items) << "the scan order does not depend on the page size";
}

TYPED_TEST_P(TableConformance, ScanPagesStopBeforeOneMegabyte) {
  auto table = this->factory_.open(this->simple());
  const std::string filler(300 * 1024, 'f');
  for (int i = 0; i < 8; ++i) table->put(this->item("big" + std::to_string(i), "\"text\":\"" + filler + "\""));
  int pages = 0;
  const auto items = this->scan_segment(*table, 0, 1, 1000, &pages);  // checks every page's bytes
  EXPECT_EQ(items.size(), 8u);
  EXPECT_GE(pages, 3) << "8 items of 300 KiB need at least 3 pages of at most 1 MiB";
}

TYPED_TEST_P(TableConformance, ScanChecksItsRequest) {
  auto table = this->factory_.open(this->simple());
  for (int i = 0; i < 20; ++i) table->put(this->item("t" + std::to_string(i)));
  const auto expect_invalid_scan = [&](const ScanRequest& r) {
    try {
      table->scan(r);
      ADD_FAILURE() << "scan accepted segment " << r.segment << " of " << r.total_segments << ", limit " << r.limit;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    }
  };
  expect_invalid_scan({2, 2, 10, ""});
  expect_invalid_scan({-1, 2, 10, ""});
  expect_invalid_scan({0, 0, 10, ""});
  expect_invalid_scan({0, 1, 0, ""});
  expect_invalid_scan({0, 1, 10, "not a token"});
  const ScanPage page = table->scan({0, 1, 5, ""});
  ASSERT_FALSE(page.next_token.empty());
  expect_invalid_scan({0, 2, 5, page.next_token});  // a token of another segmentation
}

TYPED_TEST_P(TableConformance, ParallelScanSegmentsAreDisjointAndCoverTheTable) {
  auto table = this->factory_.open(this->simple());
  std::set<std::string> all;
  for (int i = 0; i < 1000; i += 25) {
    std::vector<std::string> batch;
    for (int k = i; k < i + 25; ++k) {
      batch.push_back(this->item("key-" + std::to_string(k), "\"i\":" + std::to_string(k)));
      all.insert("key-" + std::to_string(k));
    }
    ASSERT_TRUE(table->put_batch(batch).empty());
  }
  for (int total : {1, 2, 3, 7, 16}) {
    std::set<std::string> seen;
    for (int segment = 0; segment < total; ++segment) {
      const auto items = this->names(this->scan_segment(*table, segment, total, 64));
      EXPECT_FALSE(items.empty()) << "segment " << segment << " of " << total << " is empty for 1000 items";
      for (const auto& i : items) EXPECT_TRUE(seen.insert(i).second) << i << " is in two segments of " << total;
    }
    EXPECT_EQ(seen, all) << "the " << total << " segments do not cover the table";
  }
}

TYPED_TEST_P(TableConformance, SegmentsCanBeScannedFromSeveralThreads) {
  auto table = this->factory_.open(this->simple());
  for (int i = 0; i < 400; ++i) table->put(this->item("p" + std::to_string(i)));
  constexpr int kSegments = 4;
  std::vector<std::vector<std::string>> found(kSegments);
  std::vector<std::thread> threads;
  for (int s = 0; s < kSegments; ++s)
    threads.emplace_back([&, s] {
      auto own = this->factory_.open(this->simple());
      found[s] = this->scan_segment(*own, s, kSegments, 10);
    });
  for (auto& t : threads) t.join();
  size_t total = 0;
  for (const auto& f : found) total += f.size();
  EXPECT_EQ(total, 400u);
}

TYPED_TEST_P(TableConformance, SortKeyTablesKeepOneItemPerKeyPair) {
  const KeySchema schema{"company", "year"};
  auto table = this->factory_.open(schema);
  EXPECT_EQ(table->key_schema(), schema);
  table->put(R"({"company":"Apple","year":"2024","text":"a"})");
  table->put(R"({"company":"Apple","year":"2025","text":"b"})");
  table->put(R"({"company":"Apple","year":"2025","text":"c"})");
  this->expect_same_item(table->get({"Apple", "2024"}), R"({"company":"Apple","year":"2024","text":"a"})");
  this->expect_same_item(table->get({"Apple", "2025"}), R"({"company":"Apple","year":"2025","text":"c"})");
  EXPECT_EQ(this->scan_segment(*table, 0, 1, 10).size(), 2u);
  EXPECT_THROW(table->put(R"({"company":"Apple","text":"no year"})"), Error);
  EXPECT_THROW(table->put(R"({"company":"Apple","year":2024})"), Error);
  EXPECT_THROW(table->get({"Apple"}), Error);
  EXPECT_TRUE(table->remove({"Apple", "2024"}));
  EXPECT_FALSE(table->get({"Apple", "2024"}).has_value());
  EXPECT_TRUE(table->get({"Apple", "2025"}).has_value());
}

TYPED_TEST_P(TableConformance, ConcurrentPutsAllLand) {
  auto table = this->factory_.open(this->simple());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) table->put(this->item("t" + std::to_string(t) + "-" + std::to_string(i)));
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(this->scan_segment(*table, 0, 1, 1000).size(), 200u);
}

REGISTER_TYPED_TEST_SUITE_P(TableConformance, PutGetRemove, PutReplacesTheItemWithTheSameKey, NumbersKeepTheirDigits,
                            NumbersKeepTheirTextVerbatim, TextKeepsItsCharactersAndEscapes,
                            InsignificantWhitespaceIsDropped, InvalidItemsAreRefused, ItemSizeLimit, KeyLengthLimits,
                            PutBatchIsAllOrNothing, CountsItems, ScanPagesCoverEveryItemOnce,
                            ScanPagesStopBeforeOneMegabyte, ScanChecksItsRequest,
                            ParallelScanSegmentsAreDisjointAndCoverTheTable, SegmentsCanBeScannedFromSeveralThreads,
                            SortKeyTablesKeepOneItemPerKeyPair, ConcurrentPutsAllLand, TaggedTypesRoundTrip,
                            MalformedTagsAreRefused);

}  // namespace sentiflow::testing
