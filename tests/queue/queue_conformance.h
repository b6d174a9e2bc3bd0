// The Queue conformance suite: every rule of queue/queue.h, written against the interface
// only. A backend runs it with one line,
//
//   INSTANTIATE_TYPED_TEST_SUITE_P(Sqs, QueueConformance, ::testing::Types<SqsQueueFactory>);
//
// where the factory provides:
//
//   static QueueCapabilities capabilities();
//   // A queue as `spec` says; opening the same spec name again gives another object on the
//   // same queue. Each factory object (one per test) starts from no queues at all.
//   std::unique_ptr<Queue> open(const QueueSpec& spec);
//   // Sends `body` to the queue through a separate connection (another process for local
//   // backends) and returns once that send has been acknowledged.
//   void send_from_elsewhere(const QueueSpec& spec, const std::string& body);
//
// A rule a backend cannot meet is skipped by a capability, with GTEST_SKIP and the reason,
// never silently. The durations used below are kShort (sub-second when the backend allows it,
// else SQS's whole seconds); tests never sleep to wait for a condition, they long-poll or poll
// with a deadline.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "queue/queue.h"

namespace sentiflow::testing {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

struct QueueSpec {
  std::string name = "conformance";
  milliseconds visibility_timeout{30'000};
  std::string dead_letter_queue{};  // empty: none
  int max_receive_count = 5;
  uint64_t message_size_limit = 256 * 1024;
  milliseconds retention{4LL * 24 * 3600 * 1000};
};

struct QueueCapabilities {
  bool sub_second_timing = false;      // durations in milliseconds (SQS: whole seconds)
  bool strict_stale_receipts = false;  // a stale handle is refused (SQS may accept it)
  bool short_retention = false;        // retention under 60 s (SQS: at least 60 s)
  bool keeps_last_error = false;       // VisibilityChange::reason reaches the dead letter
  bool exact_counts = false;           // counts() is exact at once (SQS's are eventually consistent)
};

template <typename Factory>
class QueueConformance : public ::testing::Test {
 protected:
  static QueueCapabilities caps() { return Factory::capabilities(); }

  // A short duration the backend can express: `local` where sub-second timing works, else
  // its whole seconds rounded up.
  static milliseconds short_time(milliseconds local) {
    if (caps().sub_second_timing) return local;
    return std::chrono::ceil<std::chrono::seconds>(local);
  }

  // Receives with a long poll until a message comes or `deadline` passes.
  static std::vector<ReceivedMessage> receive_within(Queue& queue, milliseconds deadline, size_t max = 1,
                                                     std::optional<milliseconds> visibility = std::nullopt) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (true) {
      const auto left = std::chrono::duration_cast<milliseconds>(end - std::chrono::steady_clock::now());
      if (left <= 0ms) return {};
      const auto wait = std::min(left, queue.limits().max_wait);
      auto messages = queue.receive({max, visibility, short_time(wait)});
      if (!messages.empty()) return messages;
    }
  }

  static std::vector<EntryResult> delete_one(Queue& queue, const std::string& handle) {
    const DeleteEntry entry{"d1", handle};
    return queue.delete_messages(std::span(&entry, 1));
  }

  static std::vector<EntryResult> change_one(Queue& queue, const std::string& handle, milliseconds timeout,
                                             std::string reason = "") {
    const VisibilityChange entry{"v1", handle, timeout, std::move(reason)};
    return queue.change_visibility(std::span(&entry, 1));
  }

  // Receives everything visible now (no wait), up to `max` in total.
  static std::vector<ReceivedMessage> drain(Queue& queue, size_t max = 1000) {
    std::vector<ReceivedMessage> all;
    while (all.size() < max) {
      const size_t n = std::min(queue.limits().max_receive_messages, max - all.size());
      auto got = queue.receive({n, std::nullopt, 0ms});
      if (got.empty()) break;
      for (auto& m : got) all.push_back(std::move(m));
    }
    return all;
  }

  Factory factory_;
};

TYPED_TEST_SUITE_P(QueueConformance);

TYPED_TEST_P(QueueConformance, SendThenReceiveGivesTheMessage) {
  auto queue = this->factory_.open({});
  const std::string id = queue->send_one("hello, queue");
  EXPECT_FALSE(id.empty());
  const auto got = this->receive_within(*queue, 5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id, id);
  EXPECT_EQ(got[0].body, "hello, queue");
  EXPECT_EQ(got[0].receive_count, 1);
  EXPECT_FALSE(got[0].receipt_handle.empty());
  EXPECT_FALSE(got[0].dead_letter.has_value());
  const auto age = now_millis() - got[0].sent_at;
  EXPECT_GE(age.count(), 0);
  EXPECT_LT(age, 60s);
  EXPECT_GE(got[0].first_received_at, got[0].sent_at);
  const auto deleted = this->delete_one(*queue, got[0].receipt_handle);
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_TRUE(deleted[0].ok()) << deleted[0].error->what();
}

TYPED_TEST_P(QueueConformance, ReceiveOnAnEmptyQueueReturnsAtOnce) {
  auto queue = this->factory_.open({});
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(queue->receive({10, std::nullopt, 0ms}).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TYPED_TEST_P(QueueConformance, LongPollEndsEmptyWhenNothingArrives) {
  auto queue = this->factory_.open({});
  const auto wait = this->short_time(300ms);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(queue->receive({1, std::nullopt, wait}).empty());
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, wait - 5ms);
  EXPECT_LT(took, wait + 2s);
}

TYPED_TEST_P(QueueConformance, SendBatchReportsEachEntry) {
  auto queue = this->factory_.open({});
  const std::vector<SendEntry> entries = {
      {"good-1", "first"},
      {"too_long", std::string(queue->limits().max_message_bytes + 1, 'x')},
      {"bad-chars", std::string("a\x01z")},
      {"good-2", "second"},
      {"empty", ""},
  };
  const auto results = queue->send(entries);
  ASSERT_EQ(results.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(results[i].id, entries[i].id);
  EXPECT_TRUE(results[0].ok());
  EXPECT_FALSE(results[0].message_id.empty());
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error->code(), ErrorCode::invalid_input);
  EXPECT_EQ(results[1].service_code, "MessageTooLong");
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error->code(), ErrorCode::invalid_input);
  EXPECT_EQ(results[2].service_code, "InvalidMessageContents");
  EXPECT_TRUE(results[3].ok());
  EXPECT_NE(results[3].message_id, results[0].message_id);
  ASSERT_FALSE(results[4].ok());
  EXPECT_EQ(results[4].error->code(), ErrorCode::invalid_input);

  std::set<std::string> bodies;
  for (const auto& m : this->receive_within(*queue, 5s, 10)) bodies.insert(m.body);
  for (const auto& m : this->drain(*queue)) bodies.insert(m.body);
  EXPECT_EQ(bodies, (std::set<std::string>{"first", "second"}));
}

TYPED_TEST_P(QueueConformance, BatchCallsCheckTheirEntries) {
  auto queue = this->factory_.open({});
  const auto expect_invalid = [](auto&& call) {
    try {
      call();
      ADD_FAILURE() << "expected Error(invalid_input)";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    }
  };
  expect_invalid([&] { queue->send(std::vector<SendEntry>{}); });
  expect_invalid([&] { queue->send(std::vector<SendEntry>{{"same", "a"}, {"same", "b"}}); });
  expect_invalid([&] { queue->send(std::vector<SendEntry>{{"has space", "a"}}); });
  expect_invalid([&] { queue->send(std::vector<SendEntry>{{std::string(81, 'i'), "a"}}); });
  std::vector<SendEntry> too_many;
  for (size_t i = 0; i <= queue->limits().max_batch_entries; ++i) too_many.push_back({"e" + std::to_string(i), "x"});
  expect_invalid([&] { queue->send(too_many); });
  expect_invalid([&] { queue->delete_messages(std::vector<DeleteEntry>{}); });
  expect_invalid([&] { queue->change_visibility(std::vector<VisibilityChange>{{"a", "h", 0ms}, {"a", "h", 0ms}}); });
  expect_invalid([&] { queue->receive({0, std::nullopt, 0ms}); });
  expect_invalid([&] { queue->receive({queue->limits().max_receive_messages + 1, std::nullopt, 0ms}); });
  expect_invalid([&] { queue->receive({1, std::nullopt, queue->limits().max_wait + 1s}); });
  expect_invalid([&] { queue->receive({1, queue->limits().max_visibility_timeout + 1s, 0ms}); });
  EXPECT_EQ(queue->counts().total(), 0) << "a refused batch sends nothing";
}

TYPED_TEST_P(QueueConformance, MessageSizeLimitCountsBodyAndAttributes) {
  QueueSpec spec;
  spec.message_size_limit = 4096;  // the suite's limit: small, so the test stays fast
  auto queue = this->factory_.open(spec);
  ASSERT_EQ(queue->limits().max_message_bytes, 4096u);
  EXPECT_NO_THROW(queue->send_one(std::string(4096, 'a')));
  try {
    queue->send_one(std::string(4097, 'a'));
    ADD_FAILURE() << "a body over the limit was sent";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find("4096"), std::string::npos) << "the message names the limit: " << e.what();
  }
  // Name "n" + type "String" + value "v": 8 bytes of attributes.
  const MessageAttributes attributes = {{"n", {"String", "v"}}};
  EXPECT_NO_THROW(queue->send_one(std::string(4096 - 8, 'a'), 0ms, attributes));
  EXPECT_THROW(queue->send_one(std::string(4096 - 7, 'a'), 0ms, attributes), Error);
}

TYPED_TEST_P(QueueConformance, AttributesRoundTrip) {
  auto queue = this->factory_.open({});
  const MessageAttributes attributes = {
      {"run", {"String", "2026-01-01T10:00:00Z"}},
      {"count", {"Number", "12345678901234567890123456789012345678"}},
      {"small", {"Number.int", "-0.5e-3"}},
      {"raw", {"Binary", std::string("\0\xff\x01 bytes", 10)}},
      {"text.utf8", {"String", "caf\xc3\xa9 \xf0\x9f\x98\x80"}},
  };
  queue->send_one("with attributes", 0ms, attributes);
  const auto got = this->receive_within(*queue, 5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attributes, attributes);
}

TYPED_TEST_P(QueueConformance, BadAttributesAreRefusedPerEntry) {
  auto queue = this->factory_.open({});
  const std::vector<MessageAttributes> bad = {
      {{"AWS.reserved", {"String", "x"}}},
      {{"has space", {"String", "x"}}},
      {{".dot", {"String", "x"}}},
      {{"a..b", {"String", "x"}}},
      {{"n", {"Text", "x"}}},
      {{"n", {"String.", "x"}}},
      {{"n", {"Number", "twelve"}}},
      {{"n", {"Number", "123456789012345678901234567890123456789"}}},
      {{"n", {"String", ""}}},
  };
  for (const auto& attributes : bad) {
    const SendEntry entry{"e", "body", 0ms, attributes};
    const auto results = queue->send(std::span(&entry, 1));
    ASSERT_EQ(results.size(), 1u);
    ASSERT_FALSE(results[0].ok()) << attributes.begin()->first << " " << attributes.begin()->second.data_type;
    EXPECT_EQ(results[0].error->code(), ErrorCode::invalid_input);
  }
  MessageAttributes eleven;
  for (int i = 0; i < 11; ++i) eleven["a" + std::to_string(i)] = {"String", "v"};
  EXPECT_THROW(queue->send_one("body", 0ms, eleven), Error);
  EXPECT_EQ(queue->counts().total(), 0);
}

TYPED_TEST_P(QueueConformance, VisibilityTimeoutHidesThenReturnsTheMessage) {
  QueueSpec spec;
  spec.visibility_timeout = this->short_time(300ms);
  auto queue = this->factory_.open(spec);
  queue->send_one("comes back");
  const auto first = this->receive_within(*queue, 5s);
  ASSERT_EQ(first.size(), 1u);
  const auto received_at = std::chrono::steady_clock::now();
  EXPECT_TRUE(queue->receive({1, std::nullopt, 0ms}).empty()) << "in flight: hidden from other receives";
  const auto again = this->receive_within(*queue, spec.visibility_timeout + 10s);
  ASSERT_EQ(again.size(), 1u) << "the message came back after its visibility timeout";
  EXPECT_GE(std::chrono::steady_clock::now() - received_at, spec.visibility_timeout - 20ms);
  EXPECT_EQ(again[0].message_id, first[0].message_id);
  EXPECT_EQ(again[0].receive_count, 2);
  EXPECT_NE(again[0].receipt_handle, first[0].receipt_handle) << "each receive issues a new handle";
  EXPECT_EQ(again[0].first_received_at, first[0].first_received_at);
}

TYPED_TEST_P(QueueConformance, ReceiveVisibilityTimeoutOverridesTheDefault) {
  auto queue = this->factory_.open({});  // default 30 s
  queue->send_one("short");
  const auto first = this->receive_within(*queue, 5s, 1, this->short_time(200ms));
  ASSERT_EQ(first.size(), 1u);
  const auto again = this->receive_within(*queue, 10s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].receive_count, 2);
}

TYPED_TEST_P(QueueConformance, ReceiveReturnsUpToNDistinctMessages) {
  auto queue = this->factory_.open({});
  std::vector<SendEntry> entries;
  for (int i = 0; i < 10; ++i) entries.push_back({"e" + std::to_string(i), "m" + std::to_string(i)});
  for (const auto& r : queue->send(entries)) ASSERT_TRUE(r.ok());
  entries.resize(5);
  for (auto& e : entries) e.body += "-second";
  for (const auto& r : queue->send(entries)) ASSERT_TRUE(r.ok());
  auto first = this->receive_within(*queue, 5s, 4);
  ASSERT_GE(first.size(), 1u);
  EXPECT_LE(first.size(), 4u);
  std::set<std::string> ids;
  for (const auto& m : first) ids.insert(m.message_id);
  for (const auto& m : this->drain(*queue)) EXPECT_TRUE(ids.insert(m.message_id).second) << "delivered twice";
  if (this->caps().exact_counts) {
    EXPECT_EQ(ids.size(), 15u);
  }
}

TYPED_TEST_P(QueueConformance, DeletedMessagesNeverComeBack) {
  QueueSpec spec;
  spec.visibility_timeout = this->short_time(200ms);
  auto queue = this->factory_.open(spec);
  queue->send_one("deleted");
  queue->send_one("kept");
  auto got = this->receive_within(*queue, 5s, 2);
  if (got.size() == 1) {
    auto more = this->receive_within(*queue, 5s, 1);
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_EQ(got.size(), 2u);
  for (const auto& m : got)
    if (m.body == "deleted") {
      EXPECT_TRUE(this->delete_one(*queue, m.receipt_handle)[0].ok());
    }
  const auto back = this->receive_within(*queue, spec.visibility_timeout + 10s, 10);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].body, "kept");
}

TYPED_TEST_P(QueueConformance, DeleteBatchReportsEachEntry) {
  auto queue = this->factory_.open({});
  queue->send(std::vector<SendEntry>{{"a", "one"}, {"b", "two"}});
  auto got = this->receive_within(*queue, 5s, 2);
  for (auto& m : this->drain(*queue)) got.push_back(m);
  ASSERT_EQ(got.size(), 2u);
  const std::vector<DeleteEntry> entries = {
      {"first", got[0].receipt_handle}, {"garbage", "not-a-receipt-handle"}, {"second", got[1].receipt_handle}};
  const auto results = queue->delete_messages(entries);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].id, "first");
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].id, "garbage");
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error->code(), ErrorCode::invalid_input);
  EXPECT_TRUE(results[2].ok());
  if (this->caps().exact_counts) {
    EXPECT_EQ(queue->counts().total(), 0);
  }
}

TYPED_TEST_P(QueueConformance, DeletingTwiceSucceeds) {
  auto queue = this->factory_.open({});
  queue->send_one("once");
  const auto got = this->receive_within(*queue, 5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(this->delete_one(*queue, got[0].receipt_handle)[0].ok());
  EXPECT_TRUE(this->delete_one(*queue, got[0].receipt_handle)[0].ok()) << "delete is idempotent, as on SQS";
}

TYPED_TEST_P(QueueConformance, StaleReceiptCanNeitherDeleteNorChangeVisibility) {
  if (!this->caps().strict_stale_receipts)
    GTEST_SKIP() << "this backend may accept a stale receipt handle (SQS documents that a delete with an old "
                    "handle can succeed), so the strict rule is not checked";
  QueueSpec spec;
  spec.visibility_timeout = this->short_time(200ms);
  auto queue = this->factory_.open(spec);
  queue->send_one("received twice");
  const auto first = this->receive_within(*queue, 5s);
  ASSERT_EQ(first.size(), 1u);
  const auto second = this->receive_within(*queue, 10s, 1, 30s);
  ASSERT_EQ(second.size(), 1u);
  ASSERT_EQ(second[0].message_id, first[0].message_id);

  const auto deleted = this->delete_one(*queue, first[0].receipt_handle);
  ASSERT_FALSE(deleted[0].ok()) << "a stale handle deleted the message";
  EXPECT_EQ(deleted[0].error->code(), ErrorCode::conflict);
  const auto changed = this->change_one(*queue, first[0].receipt_handle, 0ms);
  ASSERT_FALSE(changed[0].ok()) << "a stale handle changed the visibility";
  EXPECT_EQ(changed[0].error->code(), ErrorCode::conflict);
  EXPECT_TRUE(queue->receive({1, std::nullopt, 0ms}).empty()) << "the stale change made it visible";
  EXPECT_TRUE(this->delete_one(*queue, second[0].receipt_handle)[0].ok());
}

TYPED_TEST_P(QueueConformance, ChangeVisibilityIsNotAReceive) {
  auto queue = this->factory_.open({});  // 30 s default
  queue->send_one("released");
  const auto first = this->receive_within(*queue, 5s);
  ASSERT_EQ(first.size(), 1u);
  const auto released = this->change_one(*queue, first[0].receipt_handle, 0ms);
  ASSERT_TRUE(released[0].ok()) << released[0].error->what();
  const auto again = this->receive_within(*queue, 5s);
  ASSERT_EQ(again.size(), 1u) << "visibility 0 makes the message visible at once";
  EXPECT_EQ(again[0].receive_count, 2) << "only receives count, not the change of visibility";
}

TYPED_TEST_P(QueueConformance, ChangeVisibilityExtendsTheTimeout) {
  QueueSpec spec;
  spec.visibility_timeout = this->short_time(200ms);
  auto queue = this->factory_.open(spec);
  queue->send_one("extended");
  const auto first = this->receive_within(*queue, 5s);
  ASSERT_EQ(first.size(), 1u);
  const auto changed = this->change_one(*queue, first[0].receipt_handle, 60s);
  ASSERT_TRUE(changed[0].ok()) << changed[0].error->what();
  // Long past the original timeout, the message is still hidden.
  EXPECT_TRUE(queue->receive({1, std::nullopt, spec.visibility_timeout * 3}).empty());
  EXPECT_TRUE(this->delete_one(*queue, first[0].receipt_handle)[0].ok()) << "the handle stays valid";
}

TYPED_TEST_P(QueueConformance, ChangeVisibilityReportsEachEntry) {
  auto queue = this->factory_.open({});
  queue->send_one("one");
  const auto got = this->receive_within(*queue, 5s);
  ASSERT_EQ(got.size(), 1u);
  const std::vector<VisibilityChange> entries = {
      {"ok", got[0].receipt_handle, 60s},
      {"garbage", "nonsense", 60s},
      {"too-long", got[0].receipt_handle, queue->limits().max_visibility_timeout + 1s}};
  const auto results = queue->change_visibility(entries);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error->code(), ErrorCode::invalid_input);
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error->code(), ErrorCode::invalid_input);
  EXPECT_TRUE(this->delete_one(*queue, got[0].receipt_handle)[0].ok());
  const auto after_delete = this->change_one(*queue, got[0].receipt_handle, 60s);
  EXPECT_FALSE(after_delete[0].ok()) << "a deleted message has no visibility to change";
}

TYPED_TEST_P(QueueConformance, DelayHidesANewMessage) {
  auto queue = this->factory_.open({});
  const auto delay = this->short_time(300ms);
  const SendEntry entry{"delayed", "later", delay};
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(queue->send(std::span(&entry, 1))[0].ok());
  if (this->caps().exact_counts) {
    const auto counts = queue->counts();
    EXPECT_EQ(counts.delayed, 1);
    EXPECT_EQ(counts.visible, 0);
  }
  EXPECT_TRUE(queue->receive({1, std::nullopt, 0ms}).empty());
  const auto got = this->receive_within(*queue, delay + 10s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, delay - 20ms);
  EXPECT_EQ(got[0].receive_count, 1);
}

TYPED_TEST_P(QueueConformance, CountsVisibleInFlightAndDelayed) {
  if (!this->caps().exact_counts)
    GTEST_SKIP() << "this backend's counts are eventually consistent; exact numbers are not checked";
  auto queue = this->factory_.open({});
  EXPECT_EQ(queue->counts().total(), 0);
  queue->send(std::vector<SendEntry>{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4", 60s}});
  auto counts = queue->counts();
  EXPECT_EQ(counts.visible, 3);
  EXPECT_EQ(counts.in_flight, 0);
  EXPECT_EQ(counts.delayed, 1);
  const auto got = queue->receive({2, std::nullopt, 0ms});
  ASSERT_EQ(got.size(), 2u);
  counts = queue->counts();
  EXPECT_EQ(counts.visible, 1);
  EXPECT_EQ(counts.in_flight, 2);
  EXPECT_EQ(counts.delayed, 1);
  EXPECT_TRUE(this->delete_one(*queue, got[0].receipt_handle)[0].ok());
  EXPECT_TRUE(this->change_one(*queue, got[1].receipt_handle, 0ms)[0].ok());
  counts = queue->counts();
  EXPECT_EQ(counts.visible, 2);
  EXPECT_EQ(counts.in_flight, 0);
  EXPECT_EQ(counts.delayed, 1);
  EXPECT_EQ(counts.total(), 3);
}

TYPED_TEST_P(QueueConformance, PurgeDeletesEveryMessage) {
  auto queue = this->factory_.open({});
  queue->send(std::vector<SendEntry>{{"a", "visible"}, {"b", "in flight"}, {"c", "delayed", 60s}});
  ASSERT_FALSE(this->receive_within(*queue, 5s).empty());
  queue->purge();
  EXPECT_TRUE(queue->receive({10, std::nullopt, 0ms}).empty());
  if (this->caps().exact_counts) {
    EXPECT_EQ(queue->counts().total(), 0);
  }
  queue->send_one("after the purge");
  EXPECT_EQ(this->receive_within(*queue, 5s).at(0).body, "after the purge");
}

TYPED_TEST_P(QueueConformance, RetentionDropsOldMessages) {
  if (!this->caps().short_retention)
    GTEST_SKIP() << "this backend's shortest retention is 60 s (SQS); too slow for the suite";
  QueueSpec spec;
  spec.retention = 300ms;
  spec.visibility_timeout = 100ms;
  auto queue = this->factory_.open(spec);
  queue->send_one("expires while visible");
  queue->send_one("expires while in flight");
  ASSERT_EQ(queue->receive({1, std::nullopt, 0ms}).size(), 1u);
  // Poll with a deadline until both have expired: neither counted nor delivered.
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (queue->counts().total() > 0 && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(queue->counts().total(), 0);
  // Counted (issue 14, fault 7) where the backend tells: before a sweep removes them and after.
  if (const auto expired = queue->expired_total()) {
    EXPECT_EQ(*expired, 2);
  }
  EXPECT_TRUE(queue->receive({10, std::nullopt, 0ms}).empty());
  if (const auto expired = queue->expired_total()) {
    EXPECT_EQ(*expired, 2);
  }
  queue->send_one("fresh");
  EXPECT_EQ(this->receive_within(*queue, 5s).at(0).body, "fresh");
}

TYPED_TEST_P(QueueConformance, DeadLetterAfterMaxReceives) {
  QueueSpec spec;
  spec.visibility_timeout = this->short_time(150ms);
  spec.dead_letter_queue = "conformance-dlq";
  spec.max_receive_count = 2;
  auto queue = this->factory_.open(spec);
  QueueSpec dlq_spec;
  dlq_spec.name = spec.dead_letter_queue;
  auto dead_letters = this->factory_.open(dlq_spec);
  const MessageAttributes attributes = {{"kind", {"String", "poison"}}};
  const std::string id = queue->send_one("poison", 0ms, attributes);

  for (int receive = 1; receive <= 2; ++receive) {
    const auto got = this->receive_within(*queue, spec.visibility_timeout + 10s);
    ASSERT_EQ(got.size(), 1u) << "receive " << receive;
    EXPECT_EQ(got[0].receive_count, receive);
    if (receive == 2) this->change_one(*queue, got[0].receipt_handle, 0ms, "handler failed: bad text");
  }
  // The third receive moves it instead of returning it.
  EXPECT_TRUE(queue->receive({1, std::nullopt, 0ms}).empty());
  const auto dead = this->receive_within(*dead_letters, 10s);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].message_id, id);
  EXPECT_EQ(dead[0].body, "poison");
  EXPECT_EQ(dead[0].attributes, attributes);
  ASSERT_TRUE(dead[0].dead_letter.has_value());
  EXPECT_EQ(dead[0].dead_letter->source_queue, spec.name);
  EXPECT_EQ(dead[0].dead_letter->receive_count, 2);
  if (this->caps().keeps_last_error) {
    EXPECT_EQ(dead[0].dead_letter->last_error, "handler failed: bad text");
  }
  if (this->caps().exact_counts) {
    EXPECT_EQ(queue->counts().total(), 0);
  }
}

TYPED_TEST_P(QueueConformance, RedriveMovesDeadLettersBack) {
  QueueSpec spec;
  spec.visibility_timeout = this->short_time(100ms);
  spec.dead_letter_queue = "conformance-dlq";
  spec.max_receive_count = 1;
  auto queue = this->factory_.open(spec);
  QueueSpec dlq_spec;
  dlq_spec.name = spec.dead_letter_queue;
  auto dead_letters = this->factory_.open(dlq_spec);
  const std::string id = queue->send_one("try again");
  ASSERT_EQ(this->receive_within(*queue, 5s).size(), 1u);
  // Its second receive dead-letters it; poll until the dead-letter queue has it.
  const auto end = std::chrono::steady_clock::now() + 10s;
  while (dead_letters->counts().visible == 0 && std::chrono::steady_clock::now() < end)
    EXPECT_TRUE(queue->receive({1, std::nullopt, this->short_time(50ms)}).empty());
  ASSERT_EQ(dead_letters->counts().visible, 1);

  EXPECT_EQ(queue->redrive_dead_letters(100), 1);
  EXPECT_EQ(dead_letters->counts().total(), 0);
  const auto back = this->receive_within(*queue, 5s);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].message_id, id);
  EXPECT_EQ(back[0].body, "try again");
  EXPECT_EQ(back[0].receive_count, 1) << "a redriven message starts counting receives again";
  EXPECT_FALSE(back[0].dead_letter.has_value());
  EXPECT_EQ(queue->redrive_dead_letters(100), 0);

  auto plain = this->factory_.open({.name = "no-dlq"});
  EXPECT_THROW(plain->redrive_dead_letters(10), Error);
}

TYPED_TEST_P(QueueConformance, LongPollNoticesASendFromAnotherProcess) {
  QueueSpec spec;
  auto queue = this->factory_.open(spec);
  // The median of three rounds, so that one scheduling hiccup of a loaded machine does not fail it.
  std::vector<int64_t> latencies;
  for (int round = 0; round < 3; ++round) {
    std::vector<ReceivedMessage> got;
    Millis woke{};
    std::thread receiver([&] {
      got = queue->receive({1, std::nullopt, queue->limits().max_wait});
      woke = now_millis();
    });
    this->factory_.send_from_elsewhere(spec, "from another process " + std::to_string(round));
    receiver.join();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body, "from another process " + std::to_string(round));
    latencies.push_back((woke - got[0].sent_at).count());
    EXPECT_TRUE(this->delete_one(*queue, got[0].receipt_handle)[0].ok());
  }
  std::sort(latencies.begin(), latencies.end());
  this->RecordProperty("median_notice_ms", static_cast<int>(latencies[1]));
  EXPECT_LT(latencies[1], 100) << "median time from the other process's send to the wake-up, ms";
}

TYPED_TEST_P(QueueConformance, ConcurrentConsumersNeverShareAMessage) {
  auto queue = this->factory_.open({});  // 30 s visibility: longer than the test
  constexpr int kMessages = 200;
  std::vector<SendEntry> batch;
  for (int i = 0; i < kMessages; ++i) {
    batch.push_back({"e" + std::to_string(batch.size()), "m" + std::to_string(i)});
    if (batch.size() == std::min<size_t>(10, queue->limits().max_batch_entries)) {
      for (const auto& r : queue->send(batch)) ASSERT_TRUE(r.ok());
      batch.clear();
    }
  }
  std::vector<std::string> seen[2];
  std::vector<std::thread> consumers;
  for (int c = 0; c < 2; ++c)
    consumers.emplace_back([&, c] {
      while (true) {
        auto got = queue->receive({std::min<size_t>(7, queue->limits().max_receive_messages), std::nullopt, 0ms});
        if (got.empty()) return;
        for (auto& m : got) seen[c].push_back(m.body);
      }
    });
  for (auto& t : consumers) t.join();
  std::set<std::string> all(seen[0].begin(), seen[0].end());
  for (const auto& body : seen[1]) EXPECT_TRUE(all.insert(body).second) << body << " went to both consumers";
  EXPECT_EQ(all.size(), static_cast<size_t>(kMessages));
}

TYPED_TEST_P(QueueConformance, TwoObjectsOnOneQueueShareIt) {
  auto producer = this->factory_.open({});
  auto consumer = this->factory_.open({});
  producer->send_one("shared");
  const auto got = this->receive_within(*consumer, 5s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "shared");
  EXPECT_TRUE(this->delete_one(*producer, got[0].receipt_handle)[0].ok()) << "a handle works on any object";
}

REGISTER_TYPED_TEST_SUITE_P(QueueConformance, SendThenReceiveGivesTheMessage, ReceiveOnAnEmptyQueueReturnsAtOnce,
                            LongPollEndsEmptyWhenNothingArrives, SendBatchReportsEachEntry, BatchCallsCheckTheirEntries,
                            MessageSizeLimitCountsBodyAndAttributes, AttributesRoundTrip,
                            BadAttributesAreRefusedPerEntry, VisibilityTimeoutHidesThenReturnsTheMessage,
                            ReceiveVisibilityTimeoutOverridesTheDefault, ReceiveReturnsUpToNDistinctMessages,
                            DeletedMessagesNeverComeBack, DeleteBatchReportsEachEntry, DeletingTwiceSucceeds,
                            StaleReceiptCanNeitherDeleteNorChangeVisibility, ChangeVisibilityIsNotAReceive,
                            ChangeVisibilityExtendsTheTimeout, ChangeVisibilityReportsEachEntry, DelayHidesANewMessage,
                            CountsVisibleInFlightAndDelayed, PurgeDeletesEveryMessage, RetentionDropsOldMessages,
                            DeadLetterAfterMaxReceives, RedriveMovesDeadLettersBack,
                            LongPollNoticesASendFromAnotherProcess, ConcurrentConsumersNeverShareAMessage,
                            TwoObjectsOnOneQueueShareIt);

}  // namespace sentiflow::testing
