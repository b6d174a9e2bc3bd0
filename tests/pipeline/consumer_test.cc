// The consumer's handler on real messages of a local queue, with the folder store as sink.
#include "pipeline/consumer.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <thread>

#include "pipeline/message.h"
#include "pipeline/results.h"
#include "queue/local_queue.h"
#include "sentiment/vader.h"
#include "store/file_store.h"
#include "support/temp_dir.h"

namespace sentiflow::pipeline {
namespace {

using testing_support::TempDir;

struct Parts {
  TempDir dir{"consumer"};
  LocalQueue queue{LocalQueueOptions{.file = LocalQueue::file_in(dir.path()), .name = "q"}};
  FileStore store{dir.path() / "out"};
  Sink sink{store, "", SinkFormat::jsonl, Compression::none};
  sentiment::VaderAnalyzer vader;
  Metrics metrics;

  SqsEvent receive_all() {
    auto messages = queue.receive(ReceiveRequest{100, std::chrono::milliseconds(60'000), {}});
    return make_sqs_event(std::move(messages), "arn:aws:sqs:local:000000000000:q", "local");
  }
};

TEST(SqsEvent, HasLambdasShapeAndReadsBack) {
  Parts p;
  p.queue.send_one(encode_message("r", "k", R"({"id":"k","text":"good"})"), {},
                   {{"trace", {"String", "abc"}}, {"blob", {"Binary", std::string("\x00\xff", 2)}}});
  const SqsEvent event = p.receive_all();
  const auto json = nlohmann::json::parse(to_json(event));
  ASSERT_EQ(json["Records"].size(), 1u);
  const auto& r = json["Records"][0];
  for (const char* key : {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                          "eventSource", "eventSourceARN", "awsRegion"})
    EXPECT_TRUE(r.contains(key)) << key;
  EXPECT_EQ(r["eventSource"], "aws:sqs");
  EXPECT_EQ(r["attributes"]["ApproximateReceiveCount"], "1");
  EXPECT_EQ(r["messageAttributes"]["trace"]["stringValue"], "abc");
  EXPECT_EQ(r["messageAttributes"]["blob"]["binaryValue"], "AP8=");
  // MD5 of the body, as SQS computes it.
  EXPECT_EQ(r["md5OfBody"].get<std::string>().size(), 32u);

  const SqsEvent back = parse_sqs_event(to_json(event));
  ASSERT_EQ(back.records.size(), 1u);
  EXPECT_EQ(back.records[0].body, event.records[0].body);
  EXPECT_EQ(back.records[0].receive_count, 1);
  EXPECT_EQ(back.records[0].sent_at, event.records[0].sent_at);
  EXPECT_EQ(back.records[0].message_attributes, event.records[0].message_attributes);
  EXPECT_THROW(parse_sqs_event(R"({"records":[]})"), Error);
  EXPECT_THROW(parse_sqs_event(R"({"Records":[{"messageId":"m"}]})"), Error);
}

// A member of the wrong type anywhere in a record is Error(invalid_input) naming the record, as
// a missing one is; before, some were a JSON library's type_error (issue 14, fault 9).
TEST(SqsEvent, AMemberOfTheWrongTypeIsInvalidInputNamingTheRecord) {
  const std::string head = R"({"Records":[{"messageId":"m","receiptHandle":"r","body":"b",)";
  for (const std::string tail : {R"("md5OfBody":7}]})", R"("attributes":{"SenderId":5}}]})", R"("attributes":"x"}]})",
                                 R"("messageAttributes":{"a":"x"}}]})", R"("eventSourceARN":[]}]})",
                                 R"("messageAttributes":{"a":{"dataType":1}}}]})"}) {
    try {
      parse_sqs_event(head + tail);
      ADD_FAILURE() << "accepted: " << tail;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input) << tail;
      EXPECT_NE(std::string(e.what()).find("record 0"), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an Error for " << tail << ": " << e.what();
    }
  }
}

TEST(Consumer, StoresEveryGoodRecordAndReportsOnlyTheFailures) {
  Parts p;
  p.queue.send_one(encode_message("r1", "happy", R"({"id":"happy","text":"I love this, it is great!","n":1e400})"));
  p.queue.send_one(encode_message("r1", "sad", R"({"id":"sad","text":"This is terrible and sad."})"));
  p.queue.send_one(encode_message("r1", "no-text", R"({"id":"no-text"})"));
  p.queue.send_one("this is not a message");
  p.queue.send_one(encode_message("r2", "other-run", R"({"id":"other-run","text":"okay"})"));
  const SqsEvent event = p.receive_all();
  ASSERT_EQ(event.records.size(), 5u);

  Consumer consumer(ConsumerOptions{"text"}, p.vader, p.sink, nullptr, p.metrics);
  const BatchOutcome outcome = consumer.handle(event);

  std::set<std::string> failed(outcome.failures.begin(), outcome.failures.end());
  ASSERT_EQ(failed.size(), 2u);
  for (const auto& r : event.records) {
    const bool bad = r.body == "this is not a message" || r.body.find("no-text") != std::string::npos;
    EXPECT_EQ(failed.count(r.message_id), bad ? 1u : 0u) << r.body;
  }
  EXPECT_EQ(outcome.runs.at("r1").processed, 2);
  EXPECT_EQ(outcome.runs.at("r1").failed, 1);
  EXPECT_EQ(outcome.runs.at("r2").processed, 1);
  EXPECT_EQ(outcome.runs.at("unknown").failed, 1);
  EXPECT_EQ(outcome.runs.at("r1").labels.at("POSITIVE"), 1);
  EXPECT_EQ(outcome.runs.at("r1").labels.at("NEGATIVE"), 1);

  const auto response = nlohmann::json::parse(batch_response_json(outcome));
  ASSERT_EQ(response["batchItemFailures"].size(), 2u);
  EXPECT_TRUE(failed.count(response["batchItemFailures"][0]["itemIdentifier"].get<std::string>()));

  ResultsReader reader(p.store, "");
  std::vector<ResultRecord> stored;
  reader.for_each_result(std::string("r1"), [&](const ResultRecord& r) { stored.push_back(r); });
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].key, "happy");
  EXPECT_EQ(stored[0].engine, "vader");
  EXPECT_NE(stored[0].item.find("1e400"), std::string::npos);  // numbers exact
  EXPECT_EQ(stored[1].key, "sad");

  std::map<std::string, std::string> codes;
  for (const auto& e : reader.errors(std::nullopt)) {
    codes[e.key.empty() ? "(none)" : e.key] = e.code;
    EXPECT_EQ(e.receive_count, 1);
    EXPECT_FALSE(e.message_id.empty());
  }
  EXPECT_EQ(codes["no-text"], "missing_text");
  EXPECT_EQ(codes["(none)"], "bad_message");
}

// What AWS would bill for a batch, counted per run (docs/COST.md): the texts' Comprehend units
// (100 characters a unit, 3 at least), the messages' receive and delete requests as SQS bills
// them, one invocation and the objects written.
TEST(Consumer, CountsTheBatchsBilledWorkPerRun) {
  Parts p;
  std::vector<std::string> bodies;
  for (int i = 0; i < 12; ++i)  // 12 texts of 250 characters: 3 units each
    bodies.push_back(
        encode_message("r1", fmt::format("k{}", i),
                       nlohmann::json{{"id", fmt::format("k{}", i)}, {"text", std::string(250, 'a')}}.dump()));
  bodies.push_back(
      encode_message("r1", "long", nlohmann::json{{"id", "long"}, {"text", std::string(1001, 'b')}}.dump()));
  bodies.push_back(encode_message("r1", "no-text", R"({"id":"no-text"})"));
  bodies.push_back(encode_message("r2", "other", R"({"id":"other","text":"okay"})"));
  for (const auto& b : bodies) p.queue.send_one(b);
  const SqsEvent event = p.receive_all();
  ASSERT_EQ(event.records.size(), bodies.size());

  Consumer consumer(ConsumerOptions{"text"}, p.vader, p.sink, nullptr, p.metrics);
  const BatchOutcome outcome = consumer.handle(event);
  const BilledWork& r1 = outcome.runs.at("r1").work;
  EXPECT_EQ(r1.comprehend_units, 12 * 3 + 11);  // the text of 1,001 characters is 11 units
  // r1's 14 messages: two receives of 10 and 4 (small bodies, one chunk each); 13 succeeded:
  // two deletes.
  EXPECT_EQ(r1.sqs_requests, 2 + 2);
  EXPECT_EQ(r1.batches, 1);
  EXPECT_EQ(r1.objects, 2);  // the results and the error records
  const BilledWork& r2 = outcome.runs.at("r2").work;
  EXPECT_EQ(r2.comprehend_units, 3);
  EXPECT_EQ(r2.sqs_requests, 1 + 1);
  EXPECT_EQ(r2.objects, 1);
  EXPECT_EQ(r2.batches, 1);
  EXPECT_GE(r1.batch_ms, r2.batch_ms);  // the time in proportion to the messages
}

// An incremental scan's messages carry their fingerprint; the outcome hands back those of the
// results stored, never of a message that failed (its item is sent again by the next scan).
TEST(Consumer, HandsBackTheFingerprintsOfTheResultsItStored) {
  Parts p;
  const std::string fa(32, 'a'), fb(32, 'b'), fc(32, 'c');
  p.queue.send_one(encode_message("r1", "good", R"({"id":"good","text":"fine"})", 1, fa));
  p.queue.send_one(encode_message("r1", "no-text", R"({"id":"no-text"})", 1, fb));
  p.queue.send_one(encode_message("r1", "plain", R"({"id":"plain","text":"no fingerprint"})"));
  p.queue.send_one(encode_message("r2", "other", R"({"id":"other","text":"fine"})", 1, fc));
  Consumer consumer(ConsumerOptions{"text"}, p.vader, p.sink, nullptr, p.metrics);
  const BatchOutcome outcome = consumer.handle(p.receive_all());
  EXPECT_EQ(outcome.fingerprints, (std::map<std::string, std::string>{{"good", fa}, {"other", fc}}));
}

// A body whose run cannot name a run (`x/y` would be a folder of the sink) fails alone, as a
// bad_message error record under the unknown run; the good messages beside it are stored. Before
// the fix the whole batch's put threw on every receive: every message became a dead letter and
// the poison one got no error record (issue 14, fault 3).
TEST(Consumer, APoisonRunIdFailsItsOwnMessageOnly) {
  Parts p;
  p.queue.send_one(encode_message("r1", "happy", R"({"id":"happy","text":"I love this!"})"));
  p.queue.send_one(R"({"v":1,"run":"x/y","key":"slash","item":{"text":"fine text"}})");
  p.queue.send_one(R"({"v":1,"run":"a b","key":"space","item":{"text":"fine text"}})");
  p.queue.send_one(encode_message("r1", "sad", R"({"id":"sad","text":"This is terrible."})"));
  const SqsEvent event = p.receive_all();
  ASSERT_EQ(event.records.size(), 4u);

  Consumer consumer(ConsumerOptions{"text"}, p.vader, p.sink, nullptr, p.metrics);
  BatchOutcome outcome;
  ASSERT_NO_THROW(outcome = consumer.handle(event));
  std::set<std::string> failed(outcome.failures.begin(), outcome.failures.end());
  ASSERT_EQ(failed.size(), 2u);
  for (const auto& r : event.records)
    EXPECT_EQ(failed.count(r.message_id), r.body.find("\"v\":1,\"run\":\"r1\"") == std::string::npos ? 1u : 0u)
        << r.body;
  EXPECT_EQ(outcome.runs.at("r1").processed, 2);
  EXPECT_EQ(outcome.runs.at("unknown").failed, 2);

  ResultsReader reader(p.store, "");
  size_t stored = 0;
  reader.for_each_result(std::string("r1"), [&](const ResultRecord&) { ++stored; });
  EXPECT_EQ(stored, 2u);
  const auto errors = reader.errors(std::nullopt);
  ASSERT_EQ(errors.size(), 2u);
  for (const auto& e : errors) {
    EXPECT_EQ(e.code, "bad_message");
    EXPECT_EQ(e.run, "unknown");
    EXPECT_NE(e.reason.find("run id"), std::string::npos) << e.reason;
  }
}

TEST(Consumer, AReplayedBatchOverwritesItsOwnResultObject) {
  Parts p;
  p.queue.send_one(encode_message("r", "a", R"({"id":"a","text":"nice"})"));
  p.queue.send_one(encode_message("r", "b", R"({"id":"b","text":"bad"})"));
  const SqsEvent event = p.receive_all();
  Consumer consumer(ConsumerOptions{"text"}, p.vader, p.sink, nullptr, p.metrics);
  consumer.handle(event);
  consumer.handle(event);  // as after a crash before the delete
  const ListPage page = p.store.list(ListRequest{"run=r/"});
  EXPECT_EQ(page.objects.size(), 1u);
}

// A web server for the enrich step: /page/<name> answers {"extract": "..."}; "Missing" is a 404.
class PageServer {
 public:
  PageServer() {
    server_.Get(R"(/page/(.+))", [](const httplib::Request& req, httplib::Response& res) {
      const std::string name = req.matches[1];
      if (name == "Missing") {
        res.status = 404;
        res.set_content(R"({"title":"Not found."})", "application/json");
        return;
      }
      res.set_content(nlohmann::json{{"extract", name + " is wonderful and loved."}}.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~PageServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}/page/{{name}}", port_); }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(Consumer, FetchesTextsItemsDoNotCarryAndAFailedFetchFailsThatRecordOnly) {
  PageServer server;
  Parts p;
  p.queue.send_one(encode_message("r", "Netflix", R"({"name":"Netflix"})"));
  p.queue.send_one(encode_message("r", "Missing", R"({"name":"Missing"})"));
  p.queue.send_one(encode_message("r", "Own", R"({"name":"Own","text":"terrible, awful"})"));
  PipelineConfig::Enrich e;
  e.url = server.url();
  e.text = "/extract";
  e.timeout = std::chrono::milliseconds(5000);
  e.retries = 0;
  e.concurrency = 2;
  e.rate_limit = 1000;
  e.user_agent = "sentiflow-test";
  e.cache_entries = 10;
  e.cache_ttl = std::chrono::milliseconds(60'000);
  Enricher enricher(e, p.metrics);
  Consumer consumer(ConsumerOptions{"text"}, p.vader, p.sink, &enricher, p.metrics);
  const SqsEvent event = p.receive_all();
  const BatchOutcome outcome = consumer.handle(event);
  ASSERT_EQ(outcome.failures.size(), 1u);
  EXPECT_EQ(outcome.runs.at("r").processed, 2);
  ResultsReader reader(p.store, "");
  std::map<std::string, std::string> texts;
  reader.for_each_result(std::string("r"), [&](const ResultRecord& r) { texts[r.key] = r.text; });
  EXPECT_EQ(texts["Netflix"], "Netflix is wonderful and loved.");
  EXPECT_EQ(texts["Own"], "terrible, awful");  // the item's own text needs no fetch
  const auto errors = reader.errors(std::string("r"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "Missing");
  EXPECT_EQ(errors[0].code, "enrich_failed");
}

}  // namespace
}  // namespace sentiflow::pipeline
