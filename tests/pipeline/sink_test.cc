// Sink: object names and layout, idempotent puts, and gzip.
#include "pipeline/sink.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <regex>

#include "core/error.h"
#include "store/file_store.h"
#include "support/temp_dir.h"

namespace sentiflow::pipeline {
namespace {

ResultRecord result(std::string run, std::string key, int64_t millis, std::string text = "text") {
  ResultRecord r;
  r.run = std::move(run);
  r.key = std::move(key);
  r.text = std::move(text);
  r.sentiment.label = sentiment::Label::positive;
  r.sentiment.scores = {0.5, 0.1, 0.4, 0};
  r.sentiment.vader = sentiment::VaderScores{0.1, 0.4, 0.5, 0.6};
  r.engine = "vader";
  r.item = R"({"name":")" + r.key + R"(","n":12345678901234567890123456789012345678})";
  r.processed_at = Millis{std::chrono::milliseconds{millis}};
  return r;
}

ErrorRecord failure(std::string run, std::string key, std::string message_id, int64_t receive_count,
                    std::string reason = "HTTP 503") {
  ErrorRecord e;
  e.run = std::move(run);
  e.key = std::move(key);
  e.message_id = std::move(message_id);
  e.receive_count = receive_count;
  e.code = std::string(error_codes::kEnrichFailed);
  e.reason = std::move(reason);
  e.at = Millis{std::chrono::milliseconds{1'790'000'000'000}};
  return e;
}

std::vector<std::string> all_keys(ObjectStore& store) {
  std::vector<std::string> keys;
  for (const auto& o : store.list({}).objects) keys.push_back(o.key);
  return keys;
}

class SinkTest : public ::testing::Test {
 protected:
  testing_support::TempDir dir_{"sink"};
  FileStore store_{dir_.path() / "out"};
  const std::string run_ = "2026-11-26T06:00:00Z";  // a scheduled run's id, ':' included
};

TEST_F(SinkTest, BatchObjectNameIsTheSha256OfTheSortedIdsJoinedByNewlines) {
  // printf 'a\nb\nc' | sha256sum
  const std::vector<std::string> ids = {"c", "a", "b"};
  EXPECT_EQ(batch_object_name(ids), "ea7fb08b7a2dc4619ffb7c7bb38d95a2");
}

TEST_F(SinkTest, ResultsGoUnderTheRunFolderByFormatAndCompression) {
  const std::vector<std::string> ids = {"m1", "m2"};
  const std::vector<ResultRecord> records = {result(run_, "Netflix", 1000), result(run_, "Apple", 1000)};
  const std::string name = batch_object_name(ids);

  Sink jsonl(store_, "", SinkFormat::jsonl, Compression::none);
  EXPECT_EQ(jsonl.put_results(run_, ids, records), "run=" + run_ + "/" + name + ".jsonl");
  Sink csv(store_, "", SinkFormat::csv, Compression::gzip);
  EXPECT_EQ(csv.put_results(run_, ids, records), "run=" + run_ + "/" + name + ".csv.gz");
  Sink prefixed(store_, "results/", SinkFormat::csv, Compression::none);
  EXPECT_EQ(prefixed.put_results(run_, ids, records), "results/run=" + run_ + "/" + name + ".csv");
  EXPECT_EQ(prefixed.results_prefix(run_), "results/run=" + run_ + "/");
  EXPECT_EQ(prefixed.errors_prefix(run_), "results/_errors/run=" + run_ + "/");

  EXPECT_EQ(store_.head("run=" + run_ + "/" + name + ".jsonl")->content_type, "application/x-ndjson");
  EXPECT_EQ(store_.head("run=" + run_ + "/" + name + ".csv.gz")->content_type, "application/gzip");
  EXPECT_EQ(store_.head("results/run=" + run_ + "/" + name + ".csv")->content_type, "text/csv");
}

TEST_F(SinkTest, ObjectsHoldTheRecordsInTheirTextForms) {
  const std::vector<std::string> ids = {"m1"};
  const std::vector<ResultRecord> records = {result(run_, "Netflix", 1000), result(run_, "Apple", 2000)};
  std::string jsonl_text;
  for (const auto& r : records) append_jsonl(jsonl_text, r);
  std::string csv_text;
  append_csv_header(csv_text);
  for (const auto& r : records) append_csv(csv_text, r);

  const std::string jsonl_key = Sink(store_, "", SinkFormat::jsonl, Compression::none).put_results(run_, ids, records);
  EXPECT_EQ(store_.get(jsonl_key)->data, jsonl_text);
  const std::string csv_key = Sink(store_, "", SinkFormat::csv, Compression::none).put_results(run_, ids, records);
  EXPECT_EQ(store_.get(csv_key)->data, csv_text);
  const std::string gz_key = Sink(store_, "", SinkFormat::jsonl, Compression::gzip).put_results(run_, ids, records);
  const std::string gz = store_.get(gz_key)->data;
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);
  EXPECT_EQ(gunzip(gz), jsonl_text);
}

TEST_F(SinkTest, AReplayedBatchOverwritesItsObjectWhateverTheOrderOfItsIds) {
  Sink sink(store_, "", SinkFormat::jsonl, Compression::none);
  const std::vector<std::string> first_ids = {"m1", "m2", "m3"};
  const std::vector<std::string> replay_ids = {"m3", "m1", "m2"};
  const std::string first = sink.put_results(run_, first_ids, std::vector{result(run_, "a", 1000)});
  const std::string again = sink.put_results(run_, replay_ids, std::vector{result(run_, "a", 5000)});
  EXPECT_EQ(first, again);
  EXPECT_EQ(all_keys(store_).size(), 1u);
  EXPECT_NE(store_.get(first)->data.find("1970-01-01T00:00:05.000Z"), std::string::npos);

  // Another set of messages is another object.
  const std::vector<std::string> other_ids = {"m1", "m2"};
  EXPECT_NE(sink.put_results(run_, other_ids, std::vector{result(run_, "a", 1000)}), first);
  EXPECT_EQ(all_keys(store_).size(), 2u);
}

TEST_F(SinkTest, NoRecordsWriteNothing) {
  Sink sink(store_, "", SinkFormat::jsonl, Compression::none);
  const std::vector<std::string> ids = {"m1"};
  EXPECT_EQ(sink.put_results(run_, ids, {}), "");
  EXPECT_EQ(sink.put_errors(run_, {}), "");
  EXPECT_TRUE(all_keys(store_).empty());
}

TEST_F(SinkTest, ErrorRecordsAreJsonLinesNamedByMessageAndReceive) {
  Sink sink(store_, "", SinkFormat::csv, Compression::none);  // errors stay JSON Lines
  const std::vector<ErrorRecord> first = {failure(run_, "a", "m1", 1), failure(run_, "b", "m2", 1)};
  const std::string key = sink.put_errors(run_, first);
  EXPECT_TRUE(std::regex_match(key, std::regex("_errors/run=2026-11-26T06:00:00Z/[0-9a-f]{32}\\.jsonl"))) << key;
  std::string text;
  for (const auto& e : first) append_jsonl(text, e);
  EXPECT_EQ(store_.get(key)->data, text);

  // The same failures again (in another order, at another time): the same object.
  std::vector<ErrorRecord> same = {first[1], first[0]};
  same[0].at += std::chrono::seconds(7);
  EXPECT_EQ(sink.put_errors(run_, same), key);
  // The next receive of a message fails again: a new object, the first one kept.
  const std::vector<ErrorRecord> later = {failure(run_, "a", "m1", 2)};
  EXPECT_NE(sink.put_errors(run_, later), key);
  EXPECT_EQ(all_keys(store_).size(), 2u);

  Sink gz(store_, "p/", SinkFormat::jsonl, Compression::gzip);
  const std::string gz_key = gz.put_errors(run_, first);
  EXPECT_TRUE(gz_key.starts_with("p/_errors/run=" + run_ + "/") && gz_key.ends_with(".jsonl.gz")) << gz_key;
  EXPECT_EQ(gunzip(store_.get(gz_key)->data), text);
}

TEST_F(SinkTest, ProducerErrorRecordsAreNamedByKeyCodeAndReason) {
  Sink sink(store_, "", SinkFormat::jsonl, Compression::none);
  ErrorRecord no_key = failure(run_, "", "", 0, "item 3 of page 1 has no string attribute 'name'");
  no_key.code = std::string(error_codes::kMissingKey);
  ErrorRecord other = no_key;
  other.reason = "item 4 of page 1 has no string attribute 'name'";
  const std::string a = sink.put_errors(run_, std::vector{no_key});
  EXPECT_EQ(sink.put_errors(run_, std::vector{no_key}), a);  // a resumed page: the same object
  EXPECT_NE(sink.put_errors(run_, std::vector{other}), a);
  // Keys with line breaks cannot make two sets of records look alike.
  ErrorRecord ab = failure(run_, "a\nitem b", "", 0), a_only = failure(run_, "a", "", 0),
              b_only = failure(run_, "b", "", 0);
  EXPECT_NE(sink.put_errors(run_, std::vector{ab}), sink.put_errors(run_, std::vector{a_only, b_only}));
}

TEST_F(SinkTest, RefusesRecordsOfAnotherRunAndRunIdsThatAreNotOneSegment) {
  Sink sink(store_, "", SinkFormat::jsonl, Compression::none);
  const std::vector<std::string> ids = {"m1"};
  EXPECT_THROW(sink.put_results(run_, ids, std::vector{result("other", "a", 1)}), Error);
  EXPECT_THROW(sink.put_errors(run_, std::vector{failure("other", "a", "m1", 1)}), Error);
  EXPECT_THROW(sink.put_results("a/b", ids, std::vector{result("a/b", "a", 1)}), Error);
  EXPECT_THROW(sink.put_results("", ids, std::vector{result("", "a", 1)}), Error);
  EXPECT_TRUE(all_keys(store_).empty());
  EXPECT_THROW(Sink(store_, "no-slash", SinkFormat::jsonl, Compression::none), Error);
}

TEST(GzipTest, RoundTripsEmptySmallAndLargeData) {
  std::mt19937 random(7);
  std::string noise(3 << 20, '\0');
  for (auto& c : noise) c = static_cast<char>(random());
  std::string text;
  while (text.size() < (5 << 20)) text += "{\"run\":\"r\",\"key\":\"Netflix\",\"sentiment\":\"POSITIVE\"}\n";
  for (const std::string& data : {std::string(), std::string("x"), noise, text}) {
    const std::string packed = gzip(data);
    ASSERT_GE(packed.size(), 18u);  // a gzip header and trailer at least
    EXPECT_EQ(static_cast<unsigned char>(packed[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(packed[1]), 0x8b);
    EXPECT_EQ(gunzip(packed), data);
  }
  EXPECT_LT(gzip(text).size(), text.size() / 20);
}

TEST(GzipTest, ReadsConcatenatedMembers) {
  EXPECT_EQ(gunzip(gzip("first\n") + gzip("") + gzip("second\n")), "first\nsecond\n");
}

// The output of a shell command.
std::string command_output(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  ::pclose(pipe);
  return out;
}

TEST(GzipTest, InteroperatesWithTheGzipTool) {
  if (std::system("command -v gzip >/dev/null 2>&1") != 0) GTEST_SKIP() << "no gzip on this machine";
  testing_support::TempDir dir("gzip");
  const std::string ours = (dir.path() / "ours.gz").string();
  std::ofstream(ours, std::ios::binary) << gzip("line one\nline two\n");
  EXPECT_EQ(command_output("gzip -dc '" + ours + "'"), "line one\nline two\n");
  // Two members, as `gzip -c a; gzip -c b` make them.
  EXPECT_EQ(gunzip(command_output("printf 'a\\n' | gzip -c; printf 'b\\n' | gzip -9c")), "a\nb\n");
}

void expect_refused(std::string_view data, std::string_view fragment, size_t max_output = kMaxGunzipBytes) {
  try {
    gunzip(data, max_output);
    ADD_FAILURE() << "accepted; expected '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(GzipTest, RefusesWhatIsNotWholeGzip) {
  const std::string packed = gzip("some text that is long enough to be cut short somewhere in its middle");
  expect_refused("", "magic");
  expect_refused("plain text\n", "magic");
  expect_refused(packed.substr(0, packed.size() - 4), "cut short");
  expect_refused(packed.substr(0, 12), "cut short");
  expect_refused(packed + "trailing", "8 bytes that are not gzip");
  std::string corrupt = packed;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x55);
  corrupt[20] = static_cast<char>(corrupt[20] ^ 0x55);
  expect_refused(corrupt, "not a whole gzip object");
  std::string bad_crc = packed;
  bad_crc[bad_crc.size() - 6] = static_cast<char>(bad_crc[bad_crc.size() - 6] ^ 1);
  expect_refused(bad_crc, "not a whole gzip object");
}

TEST(GzipTest, StopsAtTheOutputCap) {
  const std::string zeros(10 << 20, '\0');
  const std::string bomb = gzip(zeros);  // about 10 KB
  expect_refused(bomb, "more than 1048576 bytes", size_t{1} << 20);
  EXPECT_EQ(gunzip(bomb, zeros.size()).size(), zeros.size());  // exactly at the cap is fine
}

}  // namespace
}  // namespace sentiflow::pipeline
