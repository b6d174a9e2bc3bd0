// ComprehendAnalyzer against moto (DetectSentiment, signed, auth mode) and against a strict fake
// of BatchDetectSentiment on 127.0.0.1 (moto 5.2.1 does not implement it): the fake refuses what
// Comprehend would refuse (target, content type, SigV4 for "comprehend", 1-25 documents of
// fewer than 5,000 bytes, a LanguageCode) with Comprehend-style errors, so a pass means well-formed calls.
#include "sentiment/comprehend.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "aws/sigv4.h"
#include "core/error.h"
#include "core/strings.h"
#include "core/time.h"
#include "core/utf8.h"
#include "support/local_server.h"
#include "support/moto.h"
#include "support/sigv4_check.h"

namespace sentiflow::sentiment {
namespace {

const aws::Credentials kCredentials{.access_key_id = "AKIDCOMPREHENDTEST", .secret_access_key = "comprehend-secret"};

// A strict Comprehend. Texts starting "ERR" get an ErrorList entry; a request holding a text
// "FAILCALL" is refused as a whole (400); `fail_next` requests answer 500 first. "good" texts are
// POSITIVE, others NEUTRAL, with unrounded scores.
class FakeComprehend {
 public:
  explicit FakeComprehend(std::chrono::milliseconds latency = std::chrono::milliseconds(0))
      : latency_(latency), server_([this](httplib::Server& server) {
          server.Post("/", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
        }) {}
  std::string endpoint() const { return server_.url(); }

  std::shared_ptr<const aws::AwsClient> client(int max_attempts = 3) const {
    return std::make_shared<const aws::AwsClient>(
        aws::kComprehend, aws::AwsClientOptions{.region = "us-east-1",
                                                .endpoint = endpoint(),
                                                .credentials = aws::static_credentials(kCredentials),
                                                .retry = {.max_attempts = max_attempts},
                                                .sleep = [](std::chrono::milliseconds) {},
                                                .backoff_seed = 1});
  }

  std::vector<size_t> batch_sizes() {
    std::lock_guard lock(mutex_);
    return batch_sizes_;
  }
  std::vector<std::string> texts() {
    std::lock_guard lock(mutex_);
    return texts_;
  }

  std::atomic<int> requests{0};
  std::atomic<int> refused{0};  // requests refused as malformed: none in a passing test
  std::atomic<int> fail_next{0};
  std::atomic<bool> fail_all{false};
  std::atomic<int> max_in_flight{0};

 private:
  static void refuse(httplib::Response& res, int status, std::string_view type, std::string_view message) {
    res.status = status;
    res.set_content(nlohmann::json{{"__type", type}, {"message", message}}.dump(), "application/x-amz-json-1.1");
  }

  static nlohmann::json sentiment_of(const std::string& text) {
    const bool good = text.find("good") != std::string::npos;
    return {{"Sentiment", good ? "POSITIVE" : "NEUTRAL"},
            {"SentimentScore",
             {{"Positive", good ? 0.987654321 : 0.01},
              {"Negative", 0.00123456},
              {"Neutral", good ? 0.0111 : 0.98876544},
              {"Mixed", 0.00000001}}}};
  }

  void handle(const httplib::Request& req, httplib::Response& res) {
    ++requests;
    const int now = ++in_flight_;
    for (int seen = max_in_flight.load(); now > seen && !max_in_flight.compare_exchange_weak(seen, now);) {}
    if (latency_.count() > 0) std::this_thread::sleep_for(latency_);  // a service's latency, to let calls overlap
    answer(req, res);
    --in_flight_;
  }

  void answer(const httplib::Request& req, httplib::Response& res) {
    const auto target = req.get_header_value("X-Amz-Target");
    const bool batch = target == "Comprehend_20171127.BatchDetectSentiment";
    if (!batch && target != "Comprehend_20171127.DetectSentiment") {
      ++refused;
      return refuse(res, 400, "UnknownOperationException", "bad X-Amz-Target: " + target);
    }
    if (req.get_header_value("Content-Type") != "application/x-amz-json-1.1") {
      ++refused;
      return refuse(res, 400, "SerializationException", "bad Content-Type");
    }
    const auto authorization = req.get_header_value("Authorization");
    if (authorization.find("/us-east-1/comprehend/aws4_request") == std::string::npos ||
        !testing_support::signature_holds(req, endpoint(), "comprehend", kCredentials)) {
      ++refused;
      return refuse(res, 403, "InvalidSignatureException", "signature mismatch");
    }
    nlohmann::json body;
    try {
      body = nlohmann::json::parse(req.body);
    } catch (const nlohmann::json::exception&) {
      ++refused;
      return refuse(res, 400, "SerializationException", "body is not JSON");
    }
    if (!body.contains("LanguageCode") || !body["LanguageCode"].is_string() || body["LanguageCode"] != "en") {
      ++refused;
      return refuse(res, 400, "ValidationException", "LanguageCode missing or unsupported");
    }
    std::vector<std::string> list;
    if (batch) {
      if (!body.contains("TextList") || !body["TextList"].is_array()) {
        ++refused;
        return refuse(res, 400, "ValidationException", "TextList missing");
      }
      for (const auto& t : body["TextList"]) list.push_back(t.get<std::string>());
      if (list.empty() || list.size() > 25) {
        ++refused;
        return refuse(res, 400, "BatchSizeLimitExceededException", "1 to 25 documents");
      }
    } else {
      if (!body.contains("Text") || !body["Text"].is_string()) {
        ++refused;
        return refuse(res, 400, "ValidationException", "Text missing");
      }
      list.push_back(body["Text"].get<std::string>());
    }
    for (const auto& t : list)
      if (t.empty() || t.size() >= 5000 || !is_valid_utf8(t)) {  // "fewer than 5,000 bytes"
        ++refused;
        return refuse(res, 400, "TextSizeLimitExceededException",
                      "a document is empty, 5000 bytes or more, or not UTF-8");
      }
    if (fail_all || fail_next.fetch_sub(1) > 0) return refuse(res, 500, "InternalServerException", "try again");
    if (std::find(list.begin(), list.end(), "FAILCALL") != list.end())
      return refuse(res, 400, "ValidationException", "this call is refused");
    {
      std::lock_guard lock(mutex_);
      batch_sizes_.push_back(list.size());
      texts_.insert(texts_.end(), list.begin(), list.end());
    }
    if (!batch) {
      res.set_content(sentiment_of(list[0]).dump(), "application/x-amz-json-1.1");
      return;
    }
    nlohmann::json results = nlohmann::json::array(), errors = nlohmann::json::array();
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].starts_with("ERR")) {
        errors.push_back({{"Index", i}, {"ErrorCode", "INVALID_REQUEST"}, {"ErrorMessage", "cannot analyse"}});
      } else {
        auto r = sentiment_of(list[i]);
        r["Index"] = i;
        results.push_back(r);
      }
    }
    res.set_content(nlohmann::json{{"ResultList", results}, {"ErrorList", errors}}.dump(),
                    "application/x-amz-json-1.1");
  }

  std::chrono::milliseconds latency_;
  std::mutex mutex_;
  std::vector<size_t> batch_sizes_;
  std::vector<std::string> texts_;
  std::atomic<int> in_flight_{0};
  // Last: destroyed, and its handlers stopped, before what they use.
  testing_support::LocalHttpServer server_;
};

std::vector<std::string> numbered(size_t n, std::string_view stem = "good doc ") {
  std::vector<std::string> docs;
  for (size_t i = 0; i < n; ++i) docs.push_back(std::string(stem) + std::to_string(i));
  return docs;
}

std::vector<std::string_view> views(const std::vector<std::string>& docs) { return {docs.begin(), docs.end()}; }

TEST(CutUtf8, NeverSplitsACodePoint) {
  EXPECT_EQ(cut_utf8("abc", 5), "abc");
  EXPECT_EQ(cut_utf8("abcdef", 3), "abc");
  const std::string euro = "ab\xE2\x82\xAC";  // "ab€": the euro sign is 3 bytes
  EXPECT_EQ(cut_utf8(euro, 4), "ab");
  EXPECT_EQ(cut_utf8(euro, 3), "ab");
  EXPECT_EQ(cut_utf8(euro, 5), euro);
  EXPECT_EQ(cut_utf8("\xF0\x9F\x98\x80", 3), "");  // one 4-byte emoji
}

TEST(ComprehendAnalyzer, RefusesBadOptions) {
  FakeComprehend fake;
  EXPECT_THROW(ComprehendAnalyzer(nullptr, {}), Error);
  EXPECT_THROW(ComprehendAnalyzer(fake.client(), {.language = "", .concurrency = 1}), Error);
  EXPECT_THROW(ComprehendAnalyzer(fake.client(), {.language = "en", .concurrency = 0}), Error);
  EXPECT_EQ(ComprehendAnalyzer(fake.client(), {}).engine(), "comprehend");
}

TEST(ComprehendAnalyzer, SixtyDocumentsMakeThreeCallsOf25_25_10) {
  FakeComprehend fake;
  const ComprehendAnalyzer analyzer(fake.client(), {.language = "en", .concurrency = 1});
  const auto docs = numbered(60);
  const auto results = analyzer.analyze(views(docs));
  ASSERT_EQ(results.size(), 60u);
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.error->what();
    EXPECT_EQ(r.sentiment.label, Label::positive);
    EXPECT_DOUBLE_EQ(r.sentiment.scores.positive, 0.9877);  // rounded to 4 decimals
    EXPECT_DOUBLE_EQ(r.sentiment.scores.negative, 0.0012);
    EXPECT_DOUBLE_EQ(r.sentiment.scores.mixed, 0.0);
    EXPECT_FALSE(r.sentiment.vader.has_value());
  }
  EXPECT_EQ(fake.batch_sizes(), (std::vector<size_t>{25, 25, 10}));
  EXPECT_EQ(fake.texts(), docs);  // in order, each once
  EXPECT_EQ(fake.refused.load(), 0);
}

TEST(ComprehendAnalyzer, LongDocumentIsCutOnACharacterBoundary) {
  FakeComprehend fake;
  const ComprehendAnalyzer analyzer(fake.client(), {});
  // 4,998 ASCII bytes, then 3-byte characters: the 4,999-byte cut falls inside one.
  std::string long_doc(4998, 'a');
  while (long_doc.size() < 12000) long_doc += "\xE2\x82\xAC";  // €
  ASSERT_TRUE(is_valid_utf8(long_doc));
  const std::vector<std::string> docs = {"good short", long_doc};
  const auto results = analyzer.analyze(views(docs));
  ASSERT_TRUE(results[0].ok());
  ASSERT_TRUE(results[1].ok()) << results[1].error->what();
  const auto sent = fake.texts();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].size(), 4998u);  // the euro sign across the mark is left out whole
  EXPECT_EQ(sent[1], long_doc.substr(0, 4998));
  EXPECT_EQ(fake.refused.load(), 0);

  // Alone, it goes by DetectSentiment, cut the same way.
  ASSERT_TRUE(analyzer.analyze(long_doc).ok());
  EXPECT_EQ(fake.texts().back().size(), 4998u);
  EXPECT_EQ(fake.refused.load(), 0);
}

TEST(ComprehendAnalyzer, ErrorListEntriesAndBadTextBecomePerDocumentErrors) {
  FakeComprehend fake;
  const ComprehendAnalyzer analyzer(fake.client(), {});
  const std::vector<std::string> docs = {"good one", "ERR refused", "", "bad \xFF utf8", "plain", "ERR again"};
  const auto results = analyzer.analyze(views(docs));
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[0].sentiment.label, Label::positive);
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error->code(), ErrorCode::invalid_input);
  EXPECT_NE(std::string(results[1].error->what()).find("INVALID_REQUEST"), std::string::npos);
  ASSERT_FALSE(results[2].ok());
  EXPECT_EQ(results[2].error->code(), ErrorCode::invalid_input);
  EXPECT_NE(std::string(results[2].error->what()).find("empty"), std::string::npos);
  ASSERT_FALSE(results[3].ok());
  EXPECT_EQ(results[3].error->code(), ErrorCode::invalid_input);
  EXPECT_TRUE(results[4].ok());
  EXPECT_EQ(results[4].sentiment.label, Label::neutral);
  EXPECT_FALSE(results[5].ok());
  // Neither the empty nor the invalid document was sent.
  EXPECT_EQ(fake.texts(), (std::vector<std::string>{"good one", "ERR refused", "plain", "ERR again"}));
  EXPECT_EQ(fake.refused.load(), 0);
}

TEST(ComprehendAnalyzer, AFailedCallFailsOnlyItsDocuments) {
  FakeComprehend fake;
  const ComprehendAnalyzer analyzer(fake.client(), {.language = "en", .concurrency = 2});
  auto docs = numbered(60);
  docs[30] = "FAILCALL";  // the second call (documents 25..49) is refused as a whole
  const auto results = analyzer.analyze(views(docs));
  for (size_t i = 0; i < docs.size(); ++i) {
    const bool in_failed_call = i >= 25 && i < 50;
    EXPECT_EQ(results[i].ok(), !in_failed_call) << i;
    if (in_failed_call) {
      EXPECT_EQ(results[i].error->code(), ErrorCode::invalid_input);
    }
  }
}

TEST(ComprehendAnalyzer, ThrowsWhenEveryCallFails) {
  FakeComprehend fake;
  fake.fail_all = true;
  const ComprehendAnalyzer analyzer(fake.client(2), {});
  const auto docs = numbered(30);
  try {
    analyzer.analyze(views(docs));
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::transient);
  }
  EXPECT_EQ(fake.requests.load(), 4);  // 2 calls, 2 attempts each
}

TEST(ComprehendAnalyzer, A500IsRetriedByTheClient) {
  FakeComprehend fake;
  fake.fail_next = 1;
  const ComprehendAnalyzer analyzer(fake.client(3), {});
  const auto docs = numbered(10);
  for (const auto& r : analyzer.analyze(views(docs))) EXPECT_TRUE(r.ok()) << r.error->what();
  EXPECT_EQ(fake.requests.load(), 2);
  EXPECT_EQ(fake.batch_sizes(), (std::vector<size_t>{10}));
}

TEST(ComprehendAnalyzer, CallsInFlightStayWithinTheLimitAcrossThreads) {
  FakeComprehend fake(std::chrono::milliseconds(30));
  const ComprehendAnalyzer analyzer(fake.client(), {.language = "en", .concurrency = 3});
  const auto docs = numbered(250);  // 10 calls each
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      for (const auto& r : analyzer.analyze(views(docs))) failed += !r.ok();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(fake.requests.load(), 30);
  EXPECT_LE(fake.max_in_flight.load(), 3);
  EXPECT_GE(fake.max_in_flight.load(), 2);  // calls did run concurrently
}

TEST(ComprehendAnalyzer, SizeMismatchIsInternal) {
  FakeComprehend fake;
  const ComprehendAnalyzer analyzer(fake.client(), {});
  const std::vector<std::string_view> docs = {"a", "b"};
  std::vector<Result> results(1);
  try {
    analyzer.analyze(docs, results);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::internal);
  }
}

// moto implements DetectSentiment (fixed answers): the shape must parse, signed in auth mode.
TEST(ComprehendMoto, DetectSentimentForOneDocument) {
  testing_support::AuthMoto moto;
  if (!moto.skip_reason().empty()) GTEST_SKIP() << moto.skip_reason();
  const ComprehendAnalyzer analyzer(std::make_shared<const aws::AwsClient>(moto.client(aws::kComprehend)), {});
  const Result r = analyzer.analyze("I love this, it is wonderful");
  ASSERT_TRUE(r.ok()) << r.error->what();
  const auto& s = r.sentiment.scores;
  for (const double x : {s.positive, s.negative, s.neutral, s.mixed}) {
    EXPECT_GE(x, 0.0);
    EXPECT_LE(x, 1.0);
  }
  EXPECT_NEAR(s.positive + s.negative + s.neutral + s.mixed, 1.0, 0.01);
  EXPECT_FALSE(r.sentiment.vader.has_value());
}

// Comprehend wants fewer than 5,000 bytes: a document of exactly 5,000 (which the fake refuses
// with TextSizeLimitExceededException) goes as its first 4,999, in a batch and alone.
TEST(ComprehendAnalyzer, ADocumentOfExactly5000BytesIsCutTo4999) {
  FakeComprehend fake;
  const ComprehendAnalyzer analyzer(fake.client(), {});
  const std::string doc(5000, 'a');
  const std::vector<std::string> docs = {"short", doc};
  const auto results = analyzer.analyze(views(docs));
  ASSERT_TRUE(results[1].ok()) << results[1].error->what();
  ASSERT_TRUE(analyzer.analyze(doc).ok());
  const auto sent = fake.texts();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[1], doc.substr(0, 4999));
  EXPECT_EQ(sent[2], doc.substr(0, 4999));
  EXPECT_EQ(fake.refused.load(), 0);
}

}  // namespace
}  // namespace sentiflow::sentiment
