// The ObjectStore conformance suite: every rule of store/object_store.h, written against the
// interface only. A backend runs it with one line,
//
//   INSTANTIATE_TYPED_TEST_SUITE_P(S3, StoreConformance, ::testing::Types<S3StoreFactory>);
//
// where the factory provides:
//
//   static StoreCapabilities capabilities();
//   // An empty store, new for each factory object (one per test); calling it again gives
//   // another object on the same store.
//   std::unique_ptr<ObjectStore> open();
//
// The limits used are the interface's: 1024-byte keys, 1000 keys per list page. A rule a
// backend cannot meet is skipped by a capability, with GTEST_SKIP and the reason.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "store/object_store.h"

namespace sentiflow::testing {

struct StoreCapabilities {
  // Keys are paths in a tree (a directory): "a" and "a/b" cannot both be objects.
  bool keys_are_paths = false;
};

template <typename Factory>
class StoreConformance : public ::testing::Test {
 protected:
  static StoreCapabilities caps() { return Factory::capabilities(); }

  // Every key of a listing, page by page.
  static std::vector<std::string> list_all(ObjectStore& store, const std::string& prefix, size_t max_keys = 1000,
                                           int* pages = nullptr) {
    std::vector<std::string> keys;
    std::string token;
    int count = 0;
    do {
      const ListPage page = store.list({prefix, max_keys, token});
      EXPECT_LE(page.objects.size(), max_keys);
      for (const auto& o : page.objects) keys.push_back(o.key);
      token = page.next_token;
      if (++count > 10'000) {
        ADD_FAILURE() << "the listing does not end";
        break;
      }
    } while (!token.empty());
    if (pages != nullptr) *pages = count;
    return keys;
  }

  static void expect_invalid_key(ObjectStore& store, const std::string& key) {
    const auto check = [&](const char* what, auto&& call) {
      try {
        call();
        ADD_FAILURE() << what << " accepted the key '" << key << "'";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_input) << what << " '" << key << "': " << e.what();
      }
    };
    check("put", [&] { store.put(key, "x"); });
    check("get", [&] { store.get(key); });
    check("head", [&] { store.head(key); });
    check("remove", [&] { store.remove(key); });
  }

  Factory factory_;
};

TYPED_TEST_SUITE_P(StoreConformance);

TYPED_TEST_P(StoreConformance, PutGetHead) {
  auto store = this->factory_.open();
  const auto before = now_millis();
  const ObjectInfo put = store->put("results/run=1/a.jsonl", "hello", "application/x-ndjson");
  EXPECT_EQ(put.key, "results/run=1/a.jsonl");
  EXPECT_EQ(put.size, 5u);
  EXPECT_EQ(put.etag, "5d41402abc4b2a76b9719d911017c592") << "the ETag is the MD5 of the content";
  EXPECT_EQ(put.content_type, "application/x-ndjson");

  const auto got = store->get("results/run=1/a.jsonl");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->data, "hello");
  EXPECT_EQ(got->info.etag, put.etag);
  EXPECT_EQ(got->info.content_type, "application/x-ndjson");

  const auto head = store->head("results/run=1/a.jsonl");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->size, 5u);
  EXPECT_EQ(head->etag, put.etag);
  EXPECT_EQ(head->content_type, "application/x-ndjson");
  EXPECT_GE(head->last_modified, before - std::chrono::seconds(2));
  EXPECT_LE(head->last_modified, now_millis() + std::chrono::seconds(2));
}

TYPED_TEST_P(StoreConformance, DefaultContentTypeComesFromTheExtension) {
  auto store = this->factory_.open();
  store->put("blob", "x");
  EXPECT_EQ(store->head("blob")->content_type, "application/octet-stream");
  store->put("run=1/results.jsonl", "{}");
  EXPECT_EQ(store->head("run=1/results.jsonl")->content_type, "application/x-ndjson");
  EXPECT_EQ(store->put("table.csv", "a,b").content_type, "text/csv");
  EXPECT_THROW(store->put("bad-type", "x", "text/plain\r\nX-Injected: 1"), Error);
}

TYPED_TEST_P(StoreConformance, MissingObjectsAreNullAndDeletingThemSucceeds) {
  auto store = this->factory_.open();
  EXPECT_FALSE(store->get("nothing/here").has_value());
  EXPECT_FALSE(store->head("nothing/here").has_value());
  EXPECT_NO_THROW(store->remove("nothing/here"));
  store->put("folder/object", "x");
  EXPECT_FALSE(store->get("folder").has_value()) << "a prefix of keys is not an object";
  EXPECT_FALSE(store->head("folder").has_value());
}

TYPED_TEST_P(StoreConformance, BinaryAndEmptyObjectsRoundTrip) {
  auto store = this->factory_.open();
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  bytes += std::string("\0\0\xff", 3);
  store->put("binary", bytes);
  EXPECT_EQ(store->get("binary")->data, bytes);
  const ObjectInfo empty = store->put("empty", "");
  EXPECT_EQ(empty.size, 0u);
  EXPECT_EQ(empty.etag, "d41d8cd98f00b204e9800998ecf8427e");
  const auto got = store->get("empty");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->data, "");
  EXPECT_EQ(got->info.size, 0u);
}

TYPED_TEST_P(StoreConformance, PutReplacesTheWholeObjectAtOnce) {
  auto store = this->factory_.open();
  const std::string a(512 * 1024, 'a');
  const std::string b(256 * 1024, 'b');
  store->put("flip", a);
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    auto own = this->factory_.open();
    while (!done) {
      const auto got = own->get("flip");
      ASSERT_TRUE(got.has_value()) << "the object vanished during a replace";
      const bool whole = got->data == a || got->data == b;
      ASSERT_TRUE(whole) << "a reader saw a mixed or partial object of " << got->data.size() << " bytes";
      EXPECT_EQ(got->info.size, got->data.size());
      ++reads;
    }
  });
  for (int i = 0; i < 20; ++i) store->put("flip", i % 2 ? a : b);
  done = true;
  reader.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store->get("flip")->data, a);
}

TYPED_TEST_P(StoreConformance, KeysThatCouldEscapeAreRefused) {
  auto store = this->factory_.open();
  for (const std::string key : {"", "/absolute", "a//b", "trailing/", "../up", "a/../../up", "./here", "a/./b", "..",
                                "a\\..\\..\\up", "..\\up", "c:\\windows"})
    this->expect_invalid_key(*store, key);
  this->expect_invalid_key(*store, std::string("nul\0byte", 8));
  this->expect_invalid_key(*store, "bad-utf8-\xff");
  this->expect_invalid_key(*store, "overlong-\xc0\xaf");
  this->expect_invalid_key(*store, std::string(1025, 'k'));
  EXPECT_TRUE(this->list_all(*store, "").empty()) << "nothing was stored";
}

TYPED_TEST_P(StoreConformance, LongAndUnicodeKeysWork) {
  auto store = this->factory_.open();
  std::string longest;
  while (longest.size() < 1024) longest += (longest.empty() ? "" : "/") + std::string(100, 'k');
  longest.resize(1024);
  ASSERT_NE(longest.back(), '/');
  store->put(longest, "long");
  EXPECT_EQ(store->get(longest)->data, "long");
  const std::string unicode = "r\xc3\xa9sum\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x98\x80 file.txt";
  store->put(unicode, "unicode");
  EXPECT_EQ(store->get(unicode)->data, "unicode");
  EXPECT_EQ(this->list_all(*store, "r\xc3\xa9"), std::vector<std::string>{unicode});
  store->put("with spaces & symbols=+,;@!", "ok");
  EXPECT_TRUE(store->head("with spaces & symbols=+,;@!").has_value());
}

TYPED_TEST_P(StoreConformance, ListsByPrefixInByteOrder) {
  auto store = this->factory_.open();
  const std::vector<std::string> keys = {
      "run=2/w.jsonl",    "a0", "b", "a/c/d", "run=1/y.jsonl", "a-c", "run=10/z.jsonl", "a/b", "run=1/x.jsonl",
      "\xc3\xa9t\xc3\xa9"};
  for (const auto& k : keys) store->put(k, k);
  // Byte order: '-' (0x2D) < '/' (0x2F) < '0' (0x30); UTF-8 after ASCII.
  EXPECT_EQ(this->list_all(*store, ""),
            (std::vector<std::string>{"a-c", "a/b", "a/c/d", "a0", "b", "run=1/x.jsonl", "run=1/y.jsonl",
                                      "run=10/z.jsonl", "run=2/w.jsonl", "\xc3\xa9t\xc3\xa9"}));
  EXPECT_EQ(this->list_all(*store, "run=1"),
            (std::vector<std::string>{"run=1/x.jsonl", "run=1/y.jsonl", "run=10/z.jsonl"}));
  EXPECT_EQ(this->list_all(*store, "run=1/"), (std::vector<std::string>{"run=1/x.jsonl", "run=1/y.jsonl"}));
  EXPECT_EQ(this->list_all(*store, "a/c"), (std::vector<std::string>{"a/c/d"}));
  EXPECT_EQ(this->list_all(*store, "a"), (std::vector<std::string>{"a-c", "a/b", "a/c/d", "a0"}));
  EXPECT_TRUE(this->list_all(*store, "zzz").empty());
  EXPECT_TRUE(this->list_all(*store, "no/such/folder/").empty());
  EXPECT_TRUE(this->list_all(*store, "../").empty());
}

TYPED_TEST_P(StoreConformance, ListPaginatesWithTokens) {
  auto store = this->factory_.open();
  std::vector<std::string> keys;
  for (int i = 0; i < 25; ++i) {
    keys.push_back("page/" + std::string(i < 10 ? "0" : "") + std::to_string(i));
    store->put(keys.back(), "x");
  }
  store->put("pagf", "outside the prefix");
  int pages = 0;
  EXPECT_EQ(this->list_all(*store, "page/", 10, &pages), keys);
  EXPECT_GE(pages, 3);
  const ListPage first = store->list({"page/", 10, ""});
  ASSERT_EQ(first.objects.size(), 10u);
  EXPECT_FALSE(first.next_token.empty());
  const ListPage second = store->list({"page/", 10, first.next_token});
  ASSERT_FALSE(second.objects.empty());
  EXPECT_EQ(second.objects.front().key, keys[10]);
  const auto expect_invalid = [&](const ListRequest& r) {
    try {
      store->list(r);
      ADD_FAILURE() << "list accepted max_keys " << r.max_keys << " token '" << r.continuation_token << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    }
  };
  expect_invalid({"page/", 0, ""});
  expect_invalid({"page/", store->limits().max_keys_per_page + 1, ""});
  expect_invalid({"page/", 10, "not a token"});
}

TYPED_TEST_P(StoreConformance, ListGivesSizeEtagAndTime) {
  auto store = this->factory_.open();
  store->put("info/one", "hello");
  const ListPage page = store->list({"info/", 10, ""});
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, "info/one");
  EXPECT_EQ(page.objects[0].size, 5u);
  EXPECT_EQ(page.objects[0].etag, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_GT(page.objects[0].last_modified.time_since_epoch().count(), 0);
}

TYPED_TEST_P(StoreConformance, RemoveDeletes) {
  auto store = this->factory_.open();
  store->put("gone/soon", "x");
  store->put("gone/stays", "y");
  store->remove("gone/soon");
  EXPECT_FALSE(store->get("gone/soon").has_value());
  EXPECT_EQ(this->list_all(*store, "gone/"), std::vector<std::string>{"gone/stays"});
  store->remove("gone/stays");
  EXPECT_TRUE(this->list_all(*store, "").empty());
  store->put("gone/soon", "back");
  EXPECT_EQ(store->get("gone/soon")->data, "back");
}

TYPED_TEST_P(StoreConformance, ConcurrentPutsAllLand) {
  auto store = this->factory_.open();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) store->put("c/t" + std::to_string(t) + "/" + std::to_string(i), "x");
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(this->list_all(*store, "c/").size(), 100u);
}

TYPED_TEST_P(StoreConformance, AKeyAndItsFolder) {
  auto store = this->factory_.open();
  store->put("both", "object");
  if (!this->caps().keys_are_paths) {
    store->put("both/inside", "object too");
    EXPECT_EQ(store->get("both")->data, "object");
    return;
  }
  try {
    store->put("both/inside", "cannot be");
    ADD_FAILURE() << "a path store stored both 'both' and 'both/inside'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::conflict) << e.what();
  }
  store->put("folder/inside", "x");
  try {
    store->put("folder", "cannot be");
    ADD_FAILURE() << "a path store stored both 'folder/inside' and 'folder'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::conflict) << e.what();
  }
  EXPECT_EQ(store->get("both")->data, "object");
  EXPECT_EQ(store->get("folder/inside")->data, "x");
}

REGISTER_TYPED_TEST_SUITE_P(StoreConformance, PutGetHead, DefaultContentTypeComesFromTheExtension,
                            MissingObjectsAreNullAndDeletingThemSucceeds, BinaryAndEmptyObjectsRoundTrip,
                            PutReplacesTheWholeObjectAtOnce, KeysThatCouldEscapeAreRefused, LongAndUnicodeKeysWork,
                            ListsByPrefixInByteOrder, ListPaginatesWithTokens, ListGivesSizeEtagAndTime, RemoveDeletes,
                            ConcurrentPutsAllLand, AKeyAndItsFolder);

}  // namespace sentiflow::testing
