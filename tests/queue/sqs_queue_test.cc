// SqsQueue against moto_server in auth mode (tests/support/moto.h): the Queue conformance suite
// and SQS's own behaviour. One moto serves the whole binary (starting one takes seconds); each
// conformance test's factory deletes every queue first, and the SQS tests use names of their own.
// Skipped where moto_server is not installed.
//
// moto's limits, met here and never "fixed" in SqsQueue: it accepts stale receipt handles (the
// strict-receipt capability is off); its default MaximumMessageSize is 1 MiB (every queue here
// sets its limit); it has no DeadLetterQueueSourceArn and no StartMessageMoveTask (SqsQueue falls
// back as its header says); concurrent receives can return one message twice (the conformance
// factory lets receives take turns); its SQS slows sharply with thousands of messages (depths stay small).
#include "queue/sqs_queue.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "core/digest.h"
#include "queue/queue_conformance.h"
#include "support/fault_proxy.h"
#include "support/local_server.h"
#include "support/moto.h"
#include "support/poll.h"

namespace sentiflow {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

testing_support::AuthMoto& moto() {
  static testing_support::AuthMoto instance("sentiflow-sqs");
  return instance;
}

std::shared_ptr<const aws::AwsClient> sqs_client() {
  return std::make_shared<const aws::AwsClient>(moto().client(aws::kSqs));
}

nlohmann::json sqs_call(const aws::AwsClient& client, const std::string& action, const nlohmann::json& body) {
  const auto response =
      client.call({.operation = action,
                   .headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS." + action}},
                   .body = body.dump()});
  return response.body.empty() ? nlohmann::json::object() : nlohmann::json::parse(response.body);
}

std::string attribute(const aws::AwsClient& client, const std::string& url, const std::string& name) {
  return sqs_call(client, "GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", {name}}})["Attributes"].value(
      name, "");
}

void delete_all_queues(const aws::AwsClient& client) {
  const auto listed = sqs_call(client, "ListQueues", nlohmann::json::object());
  for (const auto& url : listed.value("QueueUrls", nlohmann::json::array()))
    sqs_call(client, "DeleteQueue", {{"QueueUrl", url}});
}

// moto answers concurrent ReceiveMessage calls without a lock, so two consumers polling at once
// can both get one message (ConcurrentConsumersNeverShareAMessage saw it); SQS does not do
// that. The workaround lives here, not in SqsQueue: receives that do not wait take turns within
// this process (long polls do not, so that they never hold up a send).
class MotoReceivesTakeTurns final : public Queue {
 public:
  explicit MotoReceivesTakeTurns(std::unique_ptr<SqsQueue> queue) : queue_(std::move(queue)) {}
  const std::string& name() const override { return queue_->name(); }
  QueueLimits limits() const override { return queue_->limits(); }
  std::vector<SendResult> send(std::span<const SendEntry> entries) override { return queue_->send(entries); }
  std::vector<ReceivedMessage> receive(const ReceiveRequest& request) override {
    static std::mutex turns;
    if (request.wait > 0ms) return queue_->receive(request);
    const std::lock_guard lock(turns);
    return queue_->receive(request);
  }
  std::vector<EntryResult> delete_messages(std::span<const DeleteEntry> entries) override {
    return queue_->delete_messages(entries);
  }
  std::vector<EntryResult> change_visibility(std::span<const VisibilityChange> entries) override {
    return queue_->change_visibility(entries);
  }
  QueueCounts counts() override { return queue_->counts(); }
  void purge() override { queue_->purge(); }
  int64_t redrive_dead_letters(int64_t max_messages) override { return queue_->redrive_dead_letters(max_messages); }

 private:
  std::unique_ptr<SqsQueue> queue_;
};

// The conformance suite's factory: every spec becomes SqsQueueAttributes.
class SqsQueueFactory {
 public:
  SqsQueueFactory() {
    if (!moto().skip_reason().empty()) {
      skip();
      return;
    }
    client_ = sqs_client();
    delete_all_queues(*client_);
  }

  static testing::QueueCapabilities capabilities() {
    // exact_counts: moto's counts are exact at once (SQS's are not; on AWS this would be off).
    return {.sub_second_timing = false,
            .strict_stale_receipts = false,
            .short_retention = false,
            .keeps_last_error = false,
            .exact_counts = true};
  }

  std::unique_ptr<Queue> open(const testing::QueueSpec& spec) {
    if (!client_) throw std::runtime_error("moto is not available: " + moto().skip_reason());
    return std::make_unique<MotoReceivesTakeTurns>(std::make_unique<SqsQueue>(
        client_, SqsQueueOptions{.queue = spec.name,
                                 .create = SqsQueueAttributes{.visibility_timeout = spec.visibility_timeout,
                                                              .retention = spec.retention,
                                                              .message_size_limit = spec.message_size_limit,
                                                              .dead_letter_queue = spec.dead_letter_queue,
                                                              .max_receive_count = spec.max_receive_count}}));
  }

  // Another client (its own connections and signer) and another SqsQueue, opened by name.
  void send_from_elsewhere(const testing::QueueSpec& spec, const std::string& body) {
    SqsQueue(sqs_client(), {.queue = spec.name}).send_one(body);
  }

 private:
  static void skip() { GTEST_SKIP() << moto().skip_reason(); }

  std::shared_ptr<const aws::AwsClient> client_;
};

}  // namespace

namespace testing {
INSTANTIATE_TYPED_TEST_SUITE_P(SqsOnMoto, QueueConformance, ::testing::Types<SqsQueueFactory>);
}  // namespace testing

namespace {

class SqsQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!moto().skip_reason().empty()) GTEST_SKIP() << moto().skip_reason();
    client_ = sqs_client();
  }

  // A queue of this test's own (names are unique per test, so no cleanup is needed).
  SqsQueue create(const std::string& suffix, SqsQueueAttributes attributes = {}) {
    return SqsQueue(client_, {.queue = queue_name(suffix), .create = attributes});
  }
  static std::string queue_name(const std::string& suffix) {
    return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" + suffix;
  }

  static std::vector<ReceivedMessage> receive_within(Queue& queue, milliseconds deadline, size_t max = 10) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      auto got = queue.receive({max, std::nullopt, 1s});
      if (!got.empty()) return got;
    }
    return {};
  }

  std::shared_ptr<const aws::AwsClient> client_;
};

TEST(SqsQueuePlan, SendRequestsHoldTenMessagesAndAtMost256KiB) {
  const std::vector<uint64_t> small(12, 10);
  const auto by_count = plan_send_requests(small);
  ASSERT_EQ(by_count.size(), 2u);
  EXPECT_EQ(by_count[0].size(), 10u);
  EXPECT_EQ(by_count[1], (std::vector<size_t>{10, 11}));

  const std::vector<uint64_t> sizes = {100 * 1024, 100 * 1024, 100 * 1024, 600 * 1024, 1024};
  EXPECT_EQ(plan_send_requests(sizes), (std::vector<std::vector<size_t>>{{0, 1}, {2}, {3}, {4}}))
      << "a message over the request limit goes alone";
  EXPECT_EQ(plan_send_requests(std::vector<uint64_t>{kSqsBatchRequestBytes / 2, kSqsBatchRequestBytes / 2}).size(), 1u);
  EXPECT_TRUE(plan_send_requests(std::vector<uint64_t>{}).empty());
}

TEST(SqsQueuePlan, QueueNameIsTheLastSegmentOfAUrlOrArn) {
  EXPECT_EQ(sqs_queue_name("https://sqs.us-east-1.amazonaws.com/123456789012/jobs"), "jobs");
  EXPECT_EQ(sqs_queue_name("http://127.0.0.1:5000/123456789012/jobs-dlq/"), "jobs-dlq");
  EXPECT_EQ(sqs_queue_name("arn:aws:sqs:us-east-1:123456789012:jobs_dlq"), "jobs_dlq");
}

TEST_F(SqsQueueTest, ByNameAndByUrlAreTheSameQueue) {
  auto created = create("q");
  EXPECT_EQ(created.name(), queue_name("q"));
  EXPECT_TRUE(created.url().ends_with("/" + queue_name("q"))) << created.url();
  SqsQueue by_url(client_, {.queue = created.url()});
  SqsQueue by_name(client_, {.queue = queue_name("q")});
  EXPECT_EQ(by_url.name(), created.name());
  EXPECT_EQ(by_name.url(), created.url());
  EXPECT_EQ(by_name.limits().max_message_bytes, 256u * 1024) << "read from MaximumMessageSize";
  const std::string id = by_url.send_one("through the url");
  const auto got = receive_within(by_name, 10s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id, id);

  try {
    SqsQueue missing(client_, {.queue = queue_name("missing")});
    FAIL() << "opened a queue that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::not_found) << e.what();
  }
}

TEST_F(SqsQueueTest, CreateSetsAttributesInWholeSecondsAndAgainUpdatesThem) {
  auto queue = create("q", {.visibility_timeout = 1500ms, .retention = 120'001ms, .message_size_limit = 2048});
  EXPECT_EQ(attribute(*client_, queue.url(), "VisibilityTimeout"), "2");
  EXPECT_EQ(attribute(*client_, queue.url(), "MessageRetentionPeriod"), "121");
  EXPECT_EQ(attribute(*client_, queue.url(), "MaximumMessageSize"), "2048");
  EXPECT_EQ(queue.limits().max_message_bytes, 2048u);
  EXPECT_EQ(queue.limits().time_granularity, 1s);
  auto again = create("q", {.visibility_timeout = 60s, .message_size_limit = 2048});
  EXPECT_EQ(again.url(), queue.url());
  EXPECT_EQ(attribute(*client_, queue.url(), "VisibilityTimeout"), "60") << "the last one configured wins";
  EXPECT_THROW(create("bad", {.message_size_limit = 100}), Error);
}

TEST_F(SqsQueueTest, SubSecondDurationsRoundUpNotDown) {
  auto queue = create("q");
  queue.send_one("hidden for a whole second");
  // 1 ms rounds up to 1 s: rounded down to 0, the message would be visible again at once.
  const auto got = queue.receive({1, 1ms, 1s});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(queue.receive({1, std::nullopt, 0ms}).empty());
  const VisibilityChange change{"c", got[0].receipt_handle, 1ms};
  ASSERT_TRUE(queue.change_visibility(std::span(&change, 1))[0].ok());
  EXPECT_TRUE(queue.receive({1, std::nullopt, 0ms}).empty());
  EXPECT_EQ(receive_within(queue, 10s).size(), 1u) << "and it comes back after that second";
}

TEST_F(SqsQueueTest, LargeBatchesAreSplitIntoRequestsBySize) {
  // Two 600 KiB messages: 1.2 MiB in one request would pass no SQS (moto: BatchRequestTooLong).
  auto queue = create("q", {.message_size_limit = 1024 * 1024});
  const std::vector<SendEntry> entries = {
      {"a", std::string(600 * 1024, 'a')}, {"b", std::string(600 * 1024, 'b')}, {"c", "small"}};
  const auto results = queue.send(entries);
  ASSERT_EQ(results.size(), 3u);
  std::set<std::string> ids;
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.id << ": " << r.error->what();
    ids.insert(r.message_id);
  }
  EXPECT_EQ(ids.size(), 3u);
  std::map<char, size_t> sizes;
  for (int round = 0; round < 10 && sizes.size() < 3; ++round)
    for (const auto& m : receive_within(queue, 5s)) sizes[m.body[0]] = m.body.size();
  EXPECT_EQ(sizes, (std::map<char, size_t>{{'a', 600 * 1024}, {'b', 600 * 1024}, {'s', 5}}));
}

TEST_F(SqsQueueTest, BatchFailuresComeBackPerEntryWithSqsCodes) {
  auto queue = create("q");
  queue.send(std::vector<SendEntry>{{"a", "one"}, {"b", "two"}});
  auto got = receive_within(queue, 10s, 2);
  if (got.size() == 1) {
    auto more = receive_within(queue, 10s, 1);
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_EQ(got.size(), 2u);

  const std::vector<VisibilityChange> changes = {
      {"bad", "garbage", 10s}, {"good", got[0].receipt_handle, 10s}, {"empty", "", 10s}};
  const auto changed = queue.change_visibility(changes);
  ASSERT_EQ(changed.size(), 3u);
  EXPECT_EQ(changed[0].id, "bad");
  ASSERT_FALSE(changed[0].ok());
  EXPECT_EQ(changed[0].error->code(), ErrorCode::invalid_input);
  EXPECT_EQ(changed[0].service_code, "ReceiptHandleIsInvalid");
  EXPECT_NE(std::string(changed[0].error->what()).find("ChangeMessageVisibilityBatch"), std::string::npos);
  EXPECT_TRUE(changed[1].ok());
  EXPECT_FALSE(changed[2].ok());

  const std::vector<DeleteEntry> deletes = {
      {"first", got[0].receipt_handle}, {"bad", "garbage"}, {"second", got[1].receipt_handle}};
  const auto deleted = queue.delete_messages(deletes);
  ASSERT_EQ(deleted.size(), 3u);
  EXPECT_TRUE(deleted[0].ok());
  ASSERT_FALSE(deleted[1].ok());
  EXPECT_EQ(deleted[1].service_code, "ReceiptHandleIsInvalid");
  EXPECT_EQ(deleted[1].error->code(), ErrorCode::invalid_input);
  EXPECT_TRUE(deleted[2].ok());

  // A deleted message has no visibility left to change.
  const VisibilityChange gone{"gone", got[0].receipt_handle, 10s};
  EXPECT_FALSE(queue.change_visibility(std::span(&gone, 1))[0].ok());
}

TEST_F(SqsQueueTest, RedrivePolicyDeadLettersAndRedriveKeepsTheId) {
  // The dead-letter queue does not exist yet: creating the source creates it.
  auto queue = create("q", {.visibility_timeout = 1s, .dead_letter_queue = queue_name("dlq"), .max_receive_count = 1});
  SqsQueue dead_letters(client_, {.queue = queue_name("dlq")});
  const auto policy = nlohmann::json::parse(attribute(*client_, queue.url(), "RedrivePolicy"));
  EXPECT_EQ(policy["deadLetterTargetArn"], attribute(*client_, dead_letters.url(), "QueueArn"));
  const std::string max_receives = policy["maxReceiveCount"].dump();  // SQS: a string or a number
  EXPECT_TRUE(max_receives == "1" || max_receives == "\"1\"") << policy.dump();
  EXPECT_EQ(attribute(*client_, dead_letters.url(), "MessageRetentionPeriod"), "1209600");

  const MessageAttributes attributes = {{"kind", {"String", "poison"}}};
  const std::string id = queue.send_one("poison", 0ms, attributes);
  ASSERT_EQ(receive_within(queue, 10s).size(), 1u);
  // The next receive (after the 1 s timeout) moves it to the dead-letter queue.
  std::vector<ReceivedMessage> dead;
  const auto end = std::chrono::steady_clock::now() + 15s;
  while (dead.empty() && std::chrono::steady_clock::now() < end) {
    EXPECT_TRUE(queue.receive({1, std::nullopt, 1s}).empty());
    dead = dead_letters.receive({1, 1s, 0ms});
  }
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].message_id, id);
  EXPECT_EQ(dead[0].attributes, attributes);
  ASSERT_TRUE(dead[0].dead_letter.has_value());
  EXPECT_EQ(dead[0].dead_letter->source_queue, queue.name());
  EXPECT_EQ(dead[0].dead_letter->receive_count, 1);

  // Redrive (receive, send, delete): the id survives, twice over, and the attribute carrying it stays hidden.
  for (int round = 0; round < 2; ++round) {
    int64_t moved = 0;
    const auto until = std::chrono::steady_clock::now() + 15s;
    while (moved == 0 && std::chrono::steady_clock::now() < until) moved = queue.redrive_dead_letters(10);
    ASSERT_EQ(moved, 1) << "round " << round;
    const auto back = receive_within(queue, 10s);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].message_id, id);
    EXPECT_EQ(back[0].attributes, attributes);
    EXPECT_EQ(back[0].receive_count, 1);
    EXPECT_FALSE(back[0].dead_letter.has_value());
    // Back to the dead-letter queue for the next round.
    if (round == 0) {
      const auto until_dead = std::chrono::steady_clock::now() + 15s;
      while (dead_letters.counts().total() == 0 && std::chrono::steady_clock::now() < until_dead)
        EXPECT_TRUE(queue.receive({1, std::nullopt, 1s}).empty());
    }
  }
  EXPECT_THROW(dead_letters.redrive_dead_letters(1), Error) << "a queue without RedrivePolicy";
}

// send() splits by size; when a later request fails, the earlier ones' messages are in the queue
// and keep their ids: only the failed request's entries and the unsent ones are failures, so a
// caller that resends failures sends nothing twice. A failed first request throws (nothing sent).
TEST_F(SqsQueueTest, AFailedLaterSendRequestKeepsTheEarlierRequestsResults) {
  using testing_support::FaultProxy;
  auto on_moto = create("q", {.message_size_limit = 1024 * 1024});
  FaultProxy proxy(moto().endpoint());
  SqsQueue queue(std::make_shared<const aws::AwsClient>(
                     testing_support::moto_client(aws::kSqs, proxy.endpoint(), moto().credentials())),
                 {.queue = on_moto.url()});
  // 200 KiB each: one request per message (two would pass SQS's 256 KiB per request).
  const std::vector<SendEntry> entries = {
      {"a", std::string(200 * 1024, 'a')}, {"b", std::string(200 * 1024, 'b')}, {"c", std::string(200 * 1024, 'c')}};
  const std::string target = "AmazonSQS.SendMessageBatch";

  proxy.add({.match = target, .fault = FaultProxy::Fault::throttle, .times = 1});
  try {
    queue.send(entries);
    ADD_FAILURE() << "a throttled first request was not an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::throttled) << e.what();
  }
  EXPECT_EQ(on_moto.counts().total(), 0);

  proxy.add({.match = target, .fault = FaultProxy::Fault::delay, .times = 1});  // the first passes
  proxy.add({.match = target, .fault = FaultProxy::Fault::throttle, .times = 1});
  const auto results = queue.send(entries);
  ASSERT_EQ(results.size(), 3u);
  ASSERT_TRUE(results[0].ok()) << results[0].error->what();
  EXPECT_FALSE(results[0].message_id.empty());
  for (const size_t i : {1u, 2u}) {
    EXPECT_EQ(results[i].id, entries[i].id);
    ASSERT_FALSE(results[i].ok());
    EXPECT_EQ(results[i].error->code(), ErrorCode::throttled) << results[i].error->what();
  }
  EXPECT_NE(std::string(results[1].error->what()).find("ThrottlingException"), std::string::npos);
  EXPECT_NE(std::string(results[2].error->what()).find("not sent"), std::string::npos) << results[2].error->what();
  EXPECT_EQ(proxy.seen(target), 1 + 2) << "the request after the throttled one was never made";

  // Only the first message is in the queue, under the id send() returned.
  EXPECT_EQ(on_moto.counts().total(), 1);
  const auto got = receive_within(on_moto, 10s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id, results[0].message_id);
  EXPECT_EQ(got[0].body, entries[0].body);
}

// A strict stand-in for SQS's JSON protocol at one queue URL, for answers no real peer gives:
// batch answers that leave an entry out (SQS answers every entry), and a dead-letter queue
// whose messages lack DeadLetterQueueSourceArn. It checks the target, the content type, a
// SigV4 Authorization header and the QueueUrl, and refuses anything else with SQS's errors.
class FakeSqs {
 public:
  FakeSqs()
      : server_([this](httplib::Server& server) {
          server.Post("/", [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); });
        }) {}
  std::string endpoint() const { return server_.url(); }
  std::string queue_url() const { return endpoint() + "/123456789012/fake-dlq"; }
  int calls(const std::string& action) {
    std::lock_guard lock(mutex_);
    return static_cast<int>(std::count(actions_.begin(), actions_.end(), action));
  }
  // What ReceiveMessage answers from now on (a malformed answer, a damaged body).
  void answer_receive_with(nlohmann::json answer) {
    std::lock_guard lock(mutex_);
    receive_answer_ = std::move(answer);
  }
  // SendMessageBatch answers an MD5OfMessageBody of another body from now on.
  void damage_sent_bodies() { damage_sent_ = true; }

 private:
  static void refuse(httplib::Response& res, const std::string& code, const std::string& message) {
    res.status = 400;
    res.set_content(nlohmann::json{{"__type", "com.amazonaws.sqs#" + code}, {"message", message}}.dump(),
                    "application/x-amz-json-1.0");
  }

  void serve(const httplib::Request& req, httplib::Response& res) {
    const std::string target = req.get_header_value("X-Amz-Target");
    if (req.get_header_value("Content-Type") != "application/x-amz-json-1.0")
      return refuse(res, "InvalidParameterValue", "content type");
    if (!req.get_header_value("Authorization").starts_with("AWS4-HMAC-SHA256 Credential="))
      return refuse(res, "MissingAuthenticationToken", "unsigned");
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || body.value("QueueUrl", "") != queue_url())
      return refuse(res, "QueueDoesNotExist", "no such queue");
    const std::string action = target.starts_with("AmazonSQS.") ? target.substr(10) : "";
    {
      std::lock_guard lock(mutex_);
      actions_.push_back(action);
    }
    nlohmann::json answer;
    if (action == "GetQueueAttributes") {
      answer = {{"Attributes", {{"MaximumMessageSize", "262144"}}}};
    } else if (action == "SendMessageBatch" || action == "DeleteMessageBatch" ||
               action == "ChangeMessageVisibilityBatch") {
      const auto& entries = body.at("Entries");
      if (!entries.is_array() || entries.empty() || entries.size() > 10)
        return refuse(res, "EmptyBatchRequest", "1 to 10 entries");
      // Answers the first entry only: the others are in neither Successful nor Failed.
      nlohmann::json first = {{"Id", entries[0].at("Id")}};
      if (action == "SendMessageBatch") {
        first["MessageId"] = "00000000-0000-0000-0000-000000000001";
        first["MD5OfMessageBody"] =
            md5_hex(entries[0].at("MessageBody").get<std::string>() + (damage_sent_ ? "!" : ""));
      }
      answer = {{"Successful", {first}}, {"Failed", nlohmann::json::array()}};
    } else if (action == "ReceiveMessage" && !receive_answer().is_null()) {
      answer = receive_answer();
    } else if (action == "ReceiveMessage") {
      answer = {{"Messages",
                 {{{"MessageId", "m-1"},
                   {"ReceiptHandle", "rh-1"},
                   {"Body", "dead"},
                   {"MD5OfBody", md5_hex("dead")},
                   {"Attributes", {{"ApproximateReceiveCount", "3"}, {"SentTimestamp", "1700000000000"}}}}}}};
    } else if (action == "ListDeadLetterSourceQueues") {
      answer = {{"queueUrls", {endpoint() + "/123456789012/the-source"}}};
    } else {
      return refuse(res, "InvalidAction", "not in this fake: " + target);
    }
    res.set_content(answer.dump(), "application/x-amz-json-1.0");
  }

  nlohmann::json receive_answer() {
    std::lock_guard lock(mutex_);
    return receive_answer_;
  }

  std::mutex mutex_;
  std::vector<std::string> actions_;
  nlohmann::json receive_answer_;  // null: the default answer
  std::atomic<bool> damage_sent_{false};
  // Last: destroyed, and its handlers stopped, before what they use.
  testing_support::LocalHttpServer server_;
};

std::shared_ptr<const aws::AwsClient> fake_client(const FakeSqs& fake) {
  return std::make_shared<const aws::AwsClient>(testing_support::moto_client(
      aws::kSqs, fake.endpoint(), {.access_key_id = "AKIDFAKE", .secret_access_key = "s"}));
}

// An entry a batch answer does not mention may or may not have been done: a failure (internal)
// for send, delete and change_visibility alike.
TEST(SqsQueueAnswers, AnEntryInNeitherSuccessfulNorFailedIsInternalForEveryBatchCall) {
  FakeSqs fake;
  SqsQueue queue(fake_client(fake), {.queue = fake.queue_url()});
  const auto check = [](const auto& results, const std::string& action) {
    ASSERT_EQ(results.size(), 2u) << action;
    EXPECT_TRUE(results[0].ok()) << action;
    EXPECT_EQ(results[1].id, "second");
    ASSERT_FALSE(results[1].ok()) << action << ": an unanswered entry was reported done";
    EXPECT_EQ(results[1].error->code(), ErrorCode::internal);
    EXPECT_NE(std::string(results[1].error->what()).find(action + ": no result for entry second"), std::string::npos)
        << results[1].error->what();
  };
  check(queue.send(std::vector<SendEntry>{{"first", "one"}, {"second", "two"}}), "SendMessageBatch");
  check(queue.delete_messages(std::vector<DeleteEntry>{{"first", "rh-1"}, {"second", "rh-2"}}), "DeleteMessageBatch");
  check(queue.change_visibility(std::vector<VisibilityChange>{{"first", "rh-1", 10s}, {"second", "rh-2", 10s}}),
        "ChangeMessageVisibilityBatch");
}

// An answer of another shape is Error(internal), never a JSON library's exception (which ended
// the process from a worker thread) nor a message without a handle; a body that does not match
// its MD5, received or sent, is Error(transient), as the SDKs refuse it (issue 14, faults 8, 9).
TEST(SqsQueueAnswers, MalformedAnswersAndDamagedBodiesAreErrors) {
  FakeSqs fake;
  SqsQueue queue(fake_client(fake), {.queue = fake.queue_url()});
  const auto receive_error = [&](const nlohmann::json& answer) {
    fake.answer_receive_with(answer);
    try {
      queue.receive({1, std::nullopt, 0ms});
    } catch (const Error& e) {
      return std::pair{e.code(), std::string(e.what())};
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not an Error: " << e.what();
      return std::pair{ErrorCode::internal, std::string()};
    }
    ADD_FAILURE() << "no error for " << answer.dump();
    return std::pair{ErrorCode::internal, std::string()};
  };
  for (const auto& answer :
       {nlohmann::json::parse(R"({"Messages":["x"]})"), nlohmann::json::parse(R"({"Messages":[7]})"),
        nlohmann::json::parse(R"({"Messages":[{"Body":"no handle"}]})")}) {
    const auto [code, message] = receive_error(answer);
    EXPECT_EQ(code, ErrorCode::internal) << answer.dump();
    EXPECT_NE(message.find("SQS ReceiveMessage"), std::string::npos) << message;
  }
  const auto [code, message] = receive_error(nlohmann::json::parse(
      R"({"Messages":[{"MessageId":"m-1","ReceiptHandle":"rh-1","Body":"dead","MD5OfBody":"00000000000000000000000000000000"}]})"));
  EXPECT_EQ(code, ErrorCode::transient);
  EXPECT_NE(message.find("MD5OfBody"), std::string::npos) << message;
  // A body without an MD5 (a proxy that drops it) is taken as it is.
  fake.answer_receive_with(
      nlohmann::json::parse(R"({"Messages":[{"MessageId":"m-1","ReceiptHandle":"rh-1","Body":"ok"}]})"));
  ASSERT_EQ(queue.receive({1, std::nullopt, 0ms}).size(), 1u);

  fake.damage_sent_bodies();
  const auto sent = queue.send(std::vector<SendEntry>{{"first", "one"}});
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_FALSE(sent[0].ok());
  EXPECT_EQ(sent[0].error->code(), ErrorCode::transient);
  EXPECT_NE(std::string(sent[0].error->what()).find("MD5OfMessageBody"), std::string::npos);
}

// On a custom endpoint (moto, LocalStack), a message without DeadLetterQueueSourceArn takes its
// source from ListDeadLetterSourceQueues, looked up once; on AWS's own endpoints SQS always sends
// the attribute, and no lookup is made.
TEST(SqsQueueAnswers, TheDeadLetterSourceLookupIsForCustomEndpointsOnly) {
  FakeSqs fake;
  SqsQueue queue(fake_client(fake), {.queue = fake.queue_url()});
  for (int i = 0; i < 2; ++i) {
    const auto got = queue.receive({1, std::nullopt, 0ms});
    ASSERT_EQ(got.size(), 1u);
    ASSERT_TRUE(got[0].dead_letter.has_value());
    EXPECT_EQ(got[0].dead_letter->source_queue, "the-source");
    EXPECT_EQ(got[0].dead_letter->receive_count, 2);
  }
  EXPECT_EQ(fake.calls("ListDeadLetterSourceQueues"), 1) << "looked up at most once a minute";

  EXPECT_TRUE(is_aws_endpoint("https://sqs.us-east-1.amazonaws.com"));
  EXPECT_TRUE(is_aws_endpoint("https://sqs-fips.us-gov-west-1.amazonaws.com/"));
  EXPECT_TRUE(is_aws_endpoint("https://vpce-0a1b-c2d3.sqs.eu-west-3.vpce.amazonaws.com"));
  EXPECT_TRUE(is_aws_endpoint("https://sqs.cn-north-1.amazonaws.com.cn:443"));
  EXPECT_TRUE(is_aws_endpoint("HTTPS://SQS.US-EAST-1.AMAZONAWS.COM"));
  EXPECT_FALSE(is_aws_endpoint("http://127.0.0.1:5000"));
  EXPECT_FALSE(is_aws_endpoint("http://localhost:4566"));
  EXPECT_FALSE(is_aws_endpoint("http://sqs.us-east-1.localhost.localstack.cloud:4566"));
  EXPECT_FALSE(is_aws_endpoint("https://amazonaws.com.example.org"));
  EXPECT_FALSE(is_aws_endpoint("http://example.org/sqs.amazonaws.com"));
}

}  // namespace
}  // namespace sentiflow
