// The producer against the real local parts: a SQLite table, a SQLite queue, a folder store.
#include "pipeline/producer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <climits>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>

#include "core/json_text.h"
#include "pipeline/message.h"
#include "pipeline/results.h"
#include "queue/local_queue.h"
#include "state/sqlite_run_state.h"
#include "store/file_store.h"
#include "support/temp_dir.h"
#include "table/local_table.h"

namespace sentiflow::pipeline {
namespace {

using testing_support::TempDir;

struct Parts {
  TempDir dir{"producer"};
  LocalTableOptions table_options{LocalTable::file_in(dir.path(), "items"), "items", KeySchema{"id"}};
  LocalTable table{table_options};
  LocalQueue queue{LocalQueueOptions{.file = LocalQueue::file_in(dir.path()), .name = "q"}};
  FileStore store{dir.path() / "out"};
  Sink sink{store, "", SinkFormat::jsonl, Compression::none};
  Metrics metrics;

  Producer producer(int segments = 1, int page_size = 1000, uint64_t limit = 256 * 1024) {
    ProducerOptions o;
    o.key_attribute = "id";
    o.text_attribute = "text";
    o.segments = segments;
    o.page_size = page_size;
    o.message_size_limit = limit;
    return Producer(
        o, [this] { return std::make_unique<LocalTable>(table_options); }, queue, sink, metrics);
  }

  std::vector<Message> drain() {
    std::vector<Message> out;
    while (true) {
      auto got = queue.receive(ReceiveRequest{10'000, std::chrono::milliseconds(60'000), {}});
      if (got.empty()) return out;
      for (auto& m : got) out.push_back(decode_message(m.body));
    }
  }
};

void fill(LocalTable& table, int n) {
  for (int i = 0; i < n; ++i)
    table.put(fmt::format(R"({{"id":"item-{}","text":"text {}","n":12345678901234567890123456789012345678}})", i, i));
}

TEST(Producer, SendsOneMessagePerItemWithExactNumbers) {
  Parts p;
  fill(p.table, 25);
  std::atomic<bool> stop{false};
  std::vector<ScanCheckpoint> pages;
  std::mutex m;
  const ProduceReport report = p.producer(1, 10).run(
      "2026-11-26T06:00:00Z", {},
      [&](const ScanCheckpoint& c, const ProduceReport&) {
        std::lock_guard lock(m);
        pages.push_back(c);
      },
      stop);
  EXPECT_TRUE(report.complete);
  EXPECT_EQ(report.scanned, 25);
  EXPECT_EQ(report.sent, 25);
  EXPECT_EQ(report.errors, 0);
  ASSERT_EQ(pages.size(), 3u);  // pages of 10, 10, 5
  EXPECT_TRUE(pages.back().done);
  EXPECT_EQ(pages.back().sent, 25);
  const auto messages = p.drain();
  ASSERT_EQ(messages.size(), 25u);
  std::set<std::string> keys;
  for (const auto& msg : messages) {
    EXPECT_EQ(msg.run, "2026-11-26T06:00:00Z");
    keys.insert(msg.key);
    EXPECT_NE(msg.item.find("12345678901234567890123456789012345678"), std::string::npos);
  }
  EXPECT_EQ(keys.size(), 25u);
}

// What AWS would bill for the scan and the sends (docs/COST.md): a page's read units from its
// items' size rounded up to 4 KB, the sends in batches of 10 as SQS bills them, whatever the
// local queue's own batches.
TEST(Producer, CountsTheScansAndTheSendsBilledWork) {
  Parts p;
  // 25 items of about 3 KB: pages of 10 are about 30 KB, 8 units each; the last of 5, 4 units.
  for (int i = 0; i < 25; ++i)
    p.table.put(fmt::format(R"({{"id":"item-{:02}","text":"{}"}})", i, std::string(3000, 'a')));
  std::atomic<bool> stop{false};
  BilledWork per_pages;
  const ProduceReport report = p.producer(1, 10).run(
      "r", {}, [&](const ScanCheckpoint&, const ProduceReport& page) { per_pages += page.work; }, stop);
  EXPECT_EQ(report.work.pages, 3);
  const int64_t item_bytes = static_cast<int64_t>(p.table.get({"item-00"})->size());
  const auto units = [](int64_t bytes) { return (bytes + 4095) / 4096; };
  EXPECT_EQ(report.work.scan_read_units, 2 * units(10 * item_bytes) + units(5 * item_bytes));
  // Each page's messages in one send of 10 (30 KB: one chunk) or of 5.
  EXPECT_EQ(report.work.sqs_requests, 3);
  EXPECT_EQ(report.work.objects, 0);  // no error records
  EXPECT_EQ(per_pages, report.work);  // the pages' reports add up to the run's
}

// Incremental scans (docs/RUNNING.md): only new items and those whose text changed are sent; the
// rest are counted unchanged. The consumer's part — recording each stored result's fingerprint —
// is played here by recording the fingerprints of the messages received.
struct IncrementalParts : Parts {
  SqliteRunState state{dir.path() / "state"};

  Producer incremental(bool skip_unchanged = true, std::optional<std::string> enrich_url = std::nullopt) {
    ProducerOptions o;
    o.key_attribute = "id";
    o.text_attribute = "text";
    o.text_required = !enrich_url;
    o.page_size = 4;
    o.fingerprints = &state;
    o.skip_unchanged = skip_unchanged;
    o.enrich_url = std::move(enrich_url);
    o.enrich_text = "/extract";
    return Producer(
        o, [this] { return std::make_unique<LocalTable>(table_options); }, queue, sink, metrics);
  }

  // Runs the producer; returns its report and the keys it sent, recording the fingerprints of
  // the first `record` of them (all by default) as the consumer would once their results are stored.
  std::pair<ProduceReport, std::set<std::string>> run(Producer producer, size_t record = SIZE_MAX) {
    std::atomic<bool> stop{false};
    const ProduceReport report = producer.run("r", {}, nullptr, stop);
    std::set<std::string> keys;
    std::map<std::string, std::string> stored;
    for (const auto& m : drain()) {
      keys.insert(m.key);
      EXPECT_EQ(m.fingerprint.size(), 32u) << m.key;
      if (stored.size() < record) stored[m.key] = m.fingerprint;
    }
    state.record_fingerprints(stored);
    return {report, keys};
  }
};

void put_text(LocalTable& table, const std::string& id, const std::string& text, const std::string& other = "x") {
  table.put(nlohmann::json{{"id", id}, {"text", text}, {"other", other}}.dump());
}

TEST(Producer, AnIncrementalScanSendsOnlyNewAndChangedItems) {
  IncrementalParts p;
  for (int i = 0; i < 10; ++i) put_text(p.table, fmt::format("k{}", i), fmt::format("text {}", i));
  auto [first, sent] = p.run(p.incremental());
  EXPECT_EQ(first.sent, 10);
  EXPECT_EQ(first.unchanged, 0);

  put_text(p.table, "k1", "a new text");               // changed
  put_text(p.table, "k2", "text 2", "another value");  // only an attribute that is not the text
  put_text(p.table, "new", "new item");                // new
  ASSERT_TRUE(p.table.remove({"k3"}));                 // removed: not scanned, nothing sent
  auto [second, keys] = p.run(p.incremental());
  EXPECT_EQ(keys, (std::set<std::string>{"k1", "new"}));
  EXPECT_EQ(second.scanned, 10);
  EXPECT_EQ(second.sent, 2);
  EXPECT_EQ(second.unchanged, 8);

  auto [third, none] = p.run(p.incremental());  // nothing changed since
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(third.unchanged, 10);

  auto [full, all] = p.run(p.incremental(/*skip_unchanged=*/false));  // `run --run ID --full`
  EXPECT_EQ(full.sent, 10);
  EXPECT_EQ(full.unchanged, 0);
}

// A run that stopped between storing results and recording their fingerprints (a crash of the
// consumer) loses nothing: the items without a recorded fingerprint are sent again.
TEST(Producer, ItemsWhoseFingerprintsWereNotRecordedAreSentAgain) {
  IncrementalParts p;
  for (int i = 0; i < 10; ++i) put_text(p.table, fmt::format("k{}", i), fmt::format("text {}", i));
  auto [first, sent] = p.run(p.incremental(), /*record=*/6);
  EXPECT_EQ(first.sent, 10);
  auto [second, again] = p.run(p.incremental());
  EXPECT_EQ(second.sent, 4);
  EXPECT_EQ(second.unchanged, 6);
  for (const auto& key : again) EXPECT_EQ(sent.count(key), 1u);
  EXPECT_EQ(p.run(p.incremental()).first.sent, 0);
}

// With enrich, what the result is made of is the URL made from the item: an item is sent again
// when an attribute of the URL changed, not when another one did.
TEST(Producer, AnIncrementalScanWithEnrichComparesTheUrlMadeFromTheItem) {
  IncrementalParts p;
  const std::string url = "https://en.wikipedia.org/api/rest_v1/page/summary/{other}";
  for (int i = 0; i < 4; ++i) p.table.put(fmt::format(R"({{"id":"k{}","other":"Page_{}","n":1}})", i, i));
  EXPECT_EQ(p.run(p.incremental(true, url)).first.sent, 4);
  p.table.put(R"({"id":"k0","other":"Page_0","n":2})");        // not in the URL
  p.table.put(R"({"id":"k1","other":"Another_page","n":1})");  // in the URL
  auto [report, keys] = p.run(p.incremental(true, url));
  EXPECT_EQ(keys, (std::set<std::string>{"k1"}));
  EXPECT_EQ(report.unchanged, 3);
  // An item that carries its own text is analysed from it, enrich step or not: its text is
  // what counts (a review finding: the URL alone hid an edited text).
  p.table.put(R"({"id":"k2","other":"Page_2","n":1,"text":"its own text"})");
  EXPECT_EQ(p.run(p.incremental(true, url)).second, (std::set<std::string>{"k2"}));
  p.table.put(R"({"id":"k2","other":"Page_2","n":1,"text":"its own text, edited"})");
  EXPECT_EQ(p.run(p.incremental(true, url)).second, (std::set<std::string>{"k2"}));
}

TEST(Producer, ParallelSegmentsCoverTheTableOnce) {
  Parts p;
  fill(p.table, 500);
  std::atomic<bool> stop{false};
  const ProduceReport report = p.producer(4, 50).run("r", {}, nullptr, stop);
  EXPECT_EQ(report.sent, 500);
  std::set<std::string> keys;
  for (const auto& msg : p.drain()) EXPECT_TRUE(keys.insert(msg.key).second) << msg.key;
  EXPECT_EQ(keys.size(), 500u);
}

TEST(Producer, ResumesFromCheckpointsWithoutResendingFinishedPages) {
  Parts p;
  fill(p.table, 30);
  std::atomic<bool> stop{false};
  std::vector<ScanCheckpoint> saved;
  // Stop after the first page: the callback sets the flag, the producer stops at the boundary.
  p.producer(1, 10).run(
      "r", {},
      [&](const ScanCheckpoint& c, const ProduceReport&) {
        saved = {c};
        stop = true;
      },
      stop);
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_FALSE(saved[0].done);
  EXPECT_EQ(p.queue.counts().visible, 10);
  stop = false;
  const ProduceReport rest = p.producer(1, 10).run("r", saved, nullptr, stop);
  EXPECT_TRUE(rest.complete);
  EXPECT_EQ(rest.sent, 20);
  std::set<std::string> keys;
  for (const auto& msg : p.drain()) EXPECT_TRUE(keys.insert(msg.key).second) << msg.key;
  EXPECT_EQ(keys.size(), 30u);
  // A finished segment's checkpoint produces nothing more.
  const ProduceReport again = p.producer(1, 10).run("r", {ScanCheckpoint{0, 1, "", true, 30, 30}}, nullptr, stop);
  EXPECT_TRUE(again.complete);
  EXPECT_EQ(again.sent, 0);
}

TEST(Producer, BadItemsBecomeErrorRecordsAndTheRestIsSent) {
  Parts p;
  p.table.put(R"({"id":"good","text":"fine"})");
  p.table.put(R"({"id":"no-text"})");
  p.table.put(R"({"id":"number-text","text":42})");
  p.table.put(fmt::format(R"({{"id":"huge","text":"{}"}})", std::string(3000, 'x')));
  std::atomic<bool> stop{false};
  const ProduceReport report = p.producer(1, 1000, 2048).run("r1", {}, nullptr, stop);
  EXPECT_EQ(report.scanned, 4);
  EXPECT_EQ(report.sent, 1);
  EXPECT_EQ(report.errors, 3);
  ResultsReader reader(p.store, "");
  std::map<std::string, std::string> codes;
  for (const auto& e : reader.errors(std::string("r1"))) {
    codes[e.key] = e.code;
    EXPECT_TRUE(e.message_id.empty());
    EXPECT_FALSE(e.reason.empty());
  }
  EXPECT_EQ(codes["no-text"], "missing_text");
  EXPECT_EQ(codes["number-text"], "missing_text");
  EXPECT_EQ(codes["huge"], "too_large");
  EXPECT_EQ(p.metrics.counter("sentiflow_producer_errors_total", "", {{"code", "missing_text"}}).value(), 2);
}

TEST(Producer, ItemsWithoutTextAreSentWhenTheConsumerEnriches) {
  Parts p;
  p.table.put(R"({"id":"Netflix"})");
  ProducerOptions o;
  o.key_attribute = "id";
  o.text_required = false;
  Producer producer(
      o, [&] { return std::make_unique<LocalTable>(p.table_options); }, p.queue, p.sink, p.metrics);
  std::atomic<bool> stop{false};
  EXPECT_EQ(producer.run("r", {}, nullptr, stop).sent, 1);
}

TEST(Producer, AKeyAttributeOtherThanTheTablesMustBeAString) {
  Parts p;
  p.table.put(R"({"id":"a","name":7,"text":"t"})");
  p.table.put(R"({"id":"b","name":"bee","text":"t"})");
  ProducerOptions o;
  o.key_attribute = "name";
  o.text_attribute = "text";
  Producer producer(
      o, [&] { return std::make_unique<LocalTable>(p.table_options); }, p.queue, p.sink, p.metrics);
  std::atomic<bool> stop{false};
  const ProduceReport report = producer.run("r", {}, nullptr, stop);
  EXPECT_EQ(report.sent, 1);
  EXPECT_EQ(report.errors, 1);
  const auto messages = p.drain();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].key, "bee");
}

}  // namespace
}  // namespace sentiflow::pipeline
