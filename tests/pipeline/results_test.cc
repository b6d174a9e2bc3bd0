// ResultsReader: each (run, key) once, latest processed_at first, in run and key order, from
// every object format; error records; the summary.
#include "pipeline/results.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/error.h"
#include "pipeline/sink.h"
#include "store/file_store.h"
#include "support/temp_dir.h"

namespace sentiflow::pipeline {
namespace {

ResultRecord record(std::string run, std::string key, int64_t millis,
                    sentiment::Label label = sentiment::Label::positive, std::string text = "text") {
  ResultRecord r;
  r.run = std::move(run);
  r.key = std::move(key);
  r.text = std::move(text);
  r.sentiment.label = label;
  r.sentiment.scores = {0.5, 0.1, 0.4, 0};
  r.sentiment.vader = sentiment::VaderScores{0.1, 0.4, 0.5, 0.6};
  r.engine = "vader";
  r.item = R"({"name":")" + r.key + R"(","n":1.50})";
  r.processed_at = Millis{std::chrono::milliseconds{millis}};
  return r;
}

ErrorRecord failure(std::string run, std::string key, std::string code, int64_t at_millis) {
  ErrorRecord e;
  e.run = std::move(run);
  e.key = std::move(key);
  e.message_id = "m-" + e.key;
  e.receive_count = 1;
  e.code = std::move(code);
  e.reason = "it failed";
  e.at = Millis{std::chrono::milliseconds{at_millis}};
  return e;
}

// Lists at most two keys a page, so that every reader loop crosses pages.
class SmallPages final : public ObjectStore {
 public:
  explicit SmallPages(ObjectStore& inner) : inner_(inner) {}
  StoreLimits limits() const override { return {1024, 2}; }
  ObjectInfo put(std::string_view key, std::string_view data, std::string_view type) override {
    return inner_.put(key, data, type);
  }
  std::optional<StoredObject> get(std::string_view key) override { return inner_.get(key); }
  std::optional<ObjectInfo> head(std::string_view key) override { return inner_.head(key); }
  ListPage list(const ListRequest& request) override {
    EXPECT_LE(request.max_keys, 2u);
    ++lists;
    return inner_.list(request);
  }
  void remove(std::string_view key) override { inner_.remove(key); }
  int lists = 0;

 private:
  ObjectStore& inner_;
};

// Refuses get() of one key as a store does for an object it may not read (EACCES, S3's
// AccessDenied or a skewed clock): Error(invalid_input), the store's failure, not damage.
class DeniesOneKey final : public ObjectStore {
 public:
  DeniesOneKey(ObjectStore& inner, std::string key) : inner_(inner), key_(std::move(key)) {}
  StoreLimits limits() const override { return inner_.limits(); }
  ObjectInfo put(std::string_view key, std::string_view data, std::string_view type) override {
    return inner_.put(key, data, type);
  }
  std::optional<StoredObject> get(std::string_view key) override {
    if (key == key_) throw invalid_input("get " + key_ + ": access denied");
    return inner_.get(key);
  }
  std::optional<ObjectInfo> head(std::string_view key) override { return inner_.head(key); }
  ListPage list(const ListRequest& request) override { return inner_.list(request); }
  void remove(std::string_view key) override { inner_.remove(key); }

 private:
  ObjectStore& inner_;
  std::string key_;
};

class ResultsReaderTest : public ::testing::Test {
 protected:
  // One batch: its records in one object, named by `ids`.
  std::string put(const std::vector<ResultRecord>& records, std::vector<std::string> ids,
                  SinkFormat format = SinkFormat::jsonl, Compression compression = Compression::none,
                  const std::string& prefix = "") {
    return Sink(store_, prefix, format, compression).put_results(records.front().run, ids, records);
  }

  std::vector<ResultRecord> all(const std::optional<std::string>& run = std::nullopt, const std::string& prefix = "") {
    std::vector<ResultRecord> out;
    ResultsReader(store_, prefix).for_each_result(run, [&](const ResultRecord& r) { out.push_back(r); });
    return out;
  }

  static std::vector<std::string> run_keys(const std::vector<ResultRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.run + "|" + r.key);
    return out;
  }

  void expect_refused(const std::function<void()>& call, const std::vector<std::string>& fragments) {
    try {
      call();
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
      for (const auto& fragment : fragments)
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what() << " lacks " << fragment;
    }
  }

  testing_support::TempDir dir_{"results"};
  FileStore store_{dir_.path() / "out"};
};

TEST_F(ResultsReaderTest, AnEmptyStoreHasNothing) {
  ResultsReader reader(store_, "");
  EXPECT_TRUE(all().empty());
  EXPECT_TRUE(reader.runs().empty());
  EXPECT_TRUE(reader.errors(std::nullopt).empty());
  const ResultsSummary s = reader.summary(std::nullopt);
  EXPECT_EQ(s.records, 0);
  EXPECT_EQ(s.errors, 0);
}

TEST_F(ResultsReaderTest, TheLatestProcessedAtWinsWhicheverObjectHoldsIt) {
  // The newer record sits in the object with the smaller key, and the other way round.
  const std::string r = "2026-11-26T06:00:00Z";
  const std::string k1 = put({record(r, "a", 5000, sentiment::Label::negative), record(r, "b", 1000)}, {"m1"});
  const std::string k2 = put({record(r, "a", 1000), record(r, "b", 5000, sentiment::Label::mixed)}, {"m2"});
  ASSERT_NE(k1, k2);
  const auto records = all();
  ASSERT_EQ(run_keys(records), (std::vector<std::string>{r + "|a", r + "|b"}));
  EXPECT_EQ(records[0].sentiment.label, sentiment::Label::negative);
  EXPECT_EQ(records[0].processed_at.time_since_epoch().count(), 5000);
  EXPECT_EQ(records[1].sentiment.label, sentiment::Label::mixed);
}

// Issue 14, fault 7: a re-run (attempt 2) on a host whose clock is an hour behind still wins
// over attempt 1's record; before, the later processed_at won whatever the attempt.
TEST_F(ResultsReaderTest, TheHigherAttemptWinsWhateverTheClocksSaid) {
  const std::string r = "r";
  auto first = record(r, "a", 3'600'000 + 5000, sentiment::Label::negative);
  auto rerun = record(r, "a", 5000, sentiment::Label::positive);
  rerun.attempt = 2;
  put({first}, {"m1"});
  put({rerun}, {"m2"});
  const auto records = all();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].attempt, 2);
  EXPECT_EQ(records[0].sentiment.label, sentiment::Label::positive);
}

TEST_F(ResultsReaderTest, TiesGoToTheLargerObjectKeyThenTheLaterLine) {
  const std::string r = "r";
  const std::string k1 = put({record(r, "a", 1000, sentiment::Label::negative)}, {"m1"});
  const std::string k2 = put({record(r, "a", 1000, sentiment::Label::neutral)}, {"m2"});
  const auto larger = std::max(k1, k2) == k1 ? sentiment::Label::negative : sentiment::Label::neutral;
  ASSERT_EQ(all().size(), 1u);
  EXPECT_EQ(all()[0].sentiment.label, larger);

  put({record("s", "x", 1000, sentiment::Label::negative), record("s", "x", 1000, sentiment::Label::mixed)}, {"m3"});
  const auto s = all(std::string("s"));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].sentiment.label, sentiment::Label::mixed);
}

TEST_F(ResultsReaderTest, SortsByRunThenKeyInByteOrder) {
  // "run=r-2/" lists before "run=r/" ('-' < '/'), but run r comes first.
  put({record("r-2", "b", 1), record("r-2", "a", 1)}, {"m1"});
  put({record("r", "\xC3\xA9", 1), record("r", "Z", 1), record("r", "a", 1)}, {"m2"});
  put({record("r", "B", 1)}, {"m3"});
  EXPECT_EQ(run_keys(all()), (std::vector<std::string>{"r|B", "r|Z", "r|a", "r|\xC3\xA9", "r-2|a", "r-2|b"}));
  EXPECT_EQ(run_keys(all(std::string("r-2"))), (std::vector<std::string>{"r-2|a", "r-2|b"}));
  EXPECT_TRUE(all(std::string("nope")).empty());
  EXPECT_EQ(ResultsReader(store_, "").runs(), (std::vector<std::string>{"r", "r-2"}));
}

TEST_F(ResultsReaderTest, ReadsJsonLinesCsvAndTheirGzipFormsTogether) {
  const std::string r = "2026-11-26T06:00:00Z";
  ResultRecord quoted = record(r, "c", 4000, sentiment::Label::neutral, "a \"quoted\",\r\nmulti-line text");
  put({record(r, "a", 1000)}, {"m1"}, SinkFormat::jsonl, Compression::none);
  put({record(r, "b", 2000)}, {"m2"}, SinkFormat::jsonl, Compression::gzip);
  put({quoted}, {"m3"}, SinkFormat::csv, Compression::none);
  put({record(r, "d", 4000), record(r, "a", 9000, sentiment::Label::negative)}, {"m4"}, SinkFormat::csv,
      Compression::gzip);
  const auto records = all();
  ASSERT_EQ(run_keys(records), (std::vector<std::string>{r + "|a", r + "|b", r + "|c", r + "|d"}));
  EXPECT_EQ(records[0].sentiment.label, sentiment::Label::negative);  // from the .csv.gz
  EXPECT_EQ(records[2].text, quoted.text);
  EXPECT_EQ(records[2].item, quoted.item);
  EXPECT_EQ(ResultsReader(store_, "").summary(std::nullopt).duplicates, 1);
}

TEST_F(ResultsReaderTest, KeepsToItsPrefix) {
  put({record("r", "a", 1)}, {"m1"}, SinkFormat::jsonl, Compression::none, "one/");
  put({record("r", "b", 1)}, {"m1"}, SinkFormat::jsonl, Compression::none, "two/");
  EXPECT_EQ(run_keys(all(std::nullopt, "one/")), (std::vector<std::string>{"r|a"}));
  EXPECT_EQ(run_keys(all(std::nullopt, "two/")), (std::vector<std::string>{"r|b"}));
  EXPECT_TRUE(all().empty());  // the root has no run= folders of its own
}

TEST_F(ResultsReaderTest, ReadsAcrossListPages) {
  SmallPages small(store_);
  for (int i = 0; i < 5; ++i) {
    const std::string run = "r" + std::to_string(i % 2);
    put({record(run, "k" + std::to_string(i), 1), record(run, "shared", i)}, {"m" + std::to_string(i)});
  }
  Sink(store_, "", SinkFormat::jsonl, Compression::none)
      .put_errors("r9", std::vector{failure("r9", "x", "bad_message", 1), failure("r9", "y", "bad_message", 2)});
  Sink(store_, "", SinkFormat::jsonl, Compression::none)
      .put_errors("r9", std::vector{failure("r9", "z", "bad_message", 3)});
  Sink(store_, "", SinkFormat::jsonl, Compression::none)
      .put_errors("r8", std::vector{failure("r8", "z", "bad_message", 3)});
  ResultsReader reader(small, "");
  std::vector<ResultRecord> records;
  reader.for_each_result(std::nullopt, [&](const ResultRecord& r) { records.push_back(r); });
  EXPECT_EQ(run_keys(records),
            (std::vector<std::string>{"r0|k0", "r0|k2", "r0|k4", "r0|shared", "r1|k1", "r1|k3", "r1|shared"}));
  EXPECT_EQ(records[3].processed_at.time_since_epoch().count(), 4);
  EXPECT_EQ(reader.runs(), (std::vector<std::string>{"r0", "r1", "r8", "r9"}));
  EXPECT_EQ(reader.errors(std::nullopt).size(), 4u);
  EXPECT_GT(small.lists, 6);
}

// An object a power cut or a hand edit left damaged is named (object and line), its records
// before the damage are read, and so is everything else: one damaged object no longer hides the
// whole run (issue 14, fault 8).
TEST_F(ResultsReaderTest, ADamagedObjectIsNamedAndTheRestIsRead) {
  put({record("r", "z", 1)}, {"m-z"});  // a good object beside the damaged one
  std::string good;
  append_jsonl(good, record("r", "a", 1));
  std::string other;
  append_jsonl(other, record("other", "b", 1));
  const struct {
    std::string key, data;
    std::vector<std::string> keys;       // the run's records read
    std::vector<std::string> fragments;  // in what damaged() says
  } cases[] = {
      {"run=r/bad.jsonl", good + "{\"schema\":1,\"run\":\"r\"\n", {"r|a", "r|z"}, {"run=r/bad.jsonl", "line 2"}},
      {"run=r/bad.jsonl.gz", gzip(good).substr(0, 20), {"r|z"}, {"run=r/bad.jsonl.gz", "cut short"}},
      {"run=r/bad.csv", "run,key\r\nr,a\r\n", {"r|z"}, {"run=r/bad.csv"}},
      {"run=r/empty.jsonl", "", {"r|z"}, {"run=r/empty.jsonl", "empty"}},
      {"run=r/moved.jsonl", good + other, {"r|a", "r|z"}, {"run=r/moved.jsonl", "line 2", "run 'other'"}},
  };
  for (const auto& c : cases) {
    store_.put(c.key, c.data);
    ResultsReader reader(store_, "");
    std::vector<ResultRecord> read;
    ASSERT_NO_THROW(reader.for_each_result(std::nullopt, [&](const ResultRecord& r) { read.push_back(r); })) << c.key;
    EXPECT_EQ(run_keys(read), c.keys) << c.key;
    ASSERT_EQ(reader.damaged().size(), 1u) << c.key;
    EXPECT_EQ(reader.damaged().begin()->first, c.key);
    for (const auto& fragment : c.fragments)
      EXPECT_NE(reader.damaged().begin()->second.find(fragment), std::string::npos)
          << reader.damaged().begin()->second << " lacks " << fragment;
    EXPECT_EQ(ResultsReader(store_, "").summary(std::nullopt).records, static_cast<int64_t>(c.keys.size()));
    store_.remove(c.key);
  }
  // A damaged error object likewise.
  store_.put("_errors/run=r/bad.jsonl", "not json\n");
  ResultsReader reader(store_, "");
  EXPECT_TRUE(reader.errors(std::nullopt).empty());
  ASSERT_EQ(reader.damaged().count("_errors/run=r/bad.jsonl"), 1u);
}

// An object the store refuses to give is the store's failure: thrown as it is, never called
// damaged (which would tell the user to remove a good object).
TEST_F(ResultsReaderTest, AnObjectTheStoreRefusesIsAFailureNotDamage) {
  const std::string key = put({record("r", "a", 1)}, {"m-a"});
  DeniesOneKey denying(store_, key);
  ResultsReader reader(denying, "");
  EXPECT_THROW(reader.for_each_result(std::nullopt, [](const ResultRecord&) {}), Error);
  EXPECT_TRUE(reader.damaged().empty());
}

TEST_F(ResultsReaderTest, SkipsObjectsTheSinkDoesNotWrite) {
  put({record("r", "a", 1)}, {"m1"});
  store_.put("run=r/README.txt", "notes");
  store_.put("run=r/_SUCCESS", "");
  store_.put("notes.txt", "x");
  EXPECT_EQ(run_keys(all()), (std::vector<std::string>{"r|a"}));
  EXPECT_EQ(ResultsReader(store_, "").runs(), (std::vector<std::string>{"r"}));
}

TEST_F(ResultsReaderTest, RefusesARunIdThatIsNotOneSegment) {
  ResultsReader reader(store_, "");
  expect_refused([&] { reader.for_each_result(std::string("a/b"), [](const ResultRecord&) {}); }, {"a/b"});
  expect_refused([&] { reader.errors(std::string("")); }, {"not a run id"});
}

TEST_F(ResultsReaderTest, ListsErrorRecordsByRunTimeAndKey) {
  Sink plain(store_, "", SinkFormat::csv, Compression::none);
  Sink gz(store_, "", SinkFormat::csv, Compression::gzip);
  plain.put_errors("r2", std::vector{failure("r2", "b", "enrich_failed", 10), failure("r2", "a", "enrich_failed", 10)});
  gz.put_errors("r1", std::vector{failure("r1", "z", "bad_message", 30)});
  plain.put_errors("r1", std::vector{failure("r1", "y", "missing_text", 20)});
  ResultsReader reader(store_, "");
  std::vector<std::string> seen;
  for (const auto& e : reader.errors(std::nullopt)) seen.push_back(e.run + "|" + e.key + "|" + e.code);
  EXPECT_EQ(seen, (std::vector<std::string>{"r1|y|missing_text", "r1|z|bad_message", "r2|a|enrich_failed",
                                            "r2|b|enrich_failed"}));
  ASSERT_EQ(reader.errors(std::string("r2")).size(), 2u);
  EXPECT_TRUE(reader.errors(std::string("r3")).empty());
  EXPECT_EQ(reader.runs(), (std::vector<std::string>{"r1", "r2"}));  // runs with errors only count

  // A damaged error object is named and skipped; the others are still read.
  store_.put("_errors/run=r2/broken.jsonl", "not json\n");
  EXPECT_EQ(reader.errors(std::nullopt).size(), 4u);
  ASSERT_EQ(reader.damaged().count("_errors/run=r2/broken.jsonl"), 1u);
  EXPECT_NE(reader.damaged().at("_errors/run=r2/broken.jsonl").find("line 1"), std::string::npos);
}

TEST_F(ResultsReaderTest, SummarisesDistinctRecordsDuplicatesAndErrors) {
  put({record("r1", "a", 1, sentiment::Label::positive), record("r1", "b", 1, sentiment::Label::negative)}, {"m1"});
  put({record("r1", "a", 2, sentiment::Label::neutral), record("r1", "c", 1, sentiment::Label::neutral)}, {"m2"});
  put({record("r2", "a", 1, sentiment::Label::mixed)}, {"m3"});
  put({record("r2", "a", 1, sentiment::Label::mixed)}, {"m4"});
  Sink(store_, "", SinkFormat::jsonl, Compression::none)
      .put_errors("r2", std::vector{failure("r2", "x", "enrich_failed", 1), failure("r2", "y", "enrich_failed", 1),
                                    failure("r2", "z", "bad_message", 1)});
  ResultsReader reader(store_, "");
  const ResultsSummary s = reader.summary(std::nullopt);
  EXPECT_EQ(s.records, 4);
  EXPECT_EQ(s.duplicates, 2);
  EXPECT_EQ(s.labels, (std::map<std::string, int64_t>{{"NEGATIVE", 1}, {"NEUTRAL", 2}, {"MIXED", 1}}));
  EXPECT_EQ(s.by_run, (std::map<std::string, int64_t>{{"r1", 3}, {"r2", 1}}));
  EXPECT_EQ(s.errors, 3);
  EXPECT_EQ(s.errors_by_code, (std::map<std::string, int64_t>{{"bad_message", 1}, {"enrich_failed", 2}}));

  const ResultsSummary one = reader.summary(std::string("r1"));
  EXPECT_EQ(one.records, 3);
  EXPECT_EQ(one.duplicates, 1);
  EXPECT_EQ(one.errors, 0);
  EXPECT_EQ(one.by_run, (std::map<std::string, int64_t>{{"r1", 3}}));
}

}  // namespace
}  // namespace sentiflow::pipeline
