// AWS's JSON answers (the JSON protocol of SQS, DynamoDB and Comprehend, and its error bodies),
// as our backends read them from the wire. The first byte picks the call and the status, the rest
// is the answer's body: each call answers or throws Error — a malformed, truncated or hostile
// answer is never another exception, a crash or an unbounded allocation.
#include <array>
#include <functional>

#include "aws/settings.h"
#include "fuzz/answer_server.h"
#include "fuzz/fuzz_target.h"
#include "queue/sqs_queue.h"
#include "sentiment/comprehend.h"
#include "table/dynamodb_table.h"

using namespace sentiflow;

namespace {

class Backends {
 public:
  Backends() {
    server.answer(200, R"({"QueueUrl":")" + server.url("/000000000000/fuzz") +
                           R"(","Attributes":{"MaximumMessageSize":"262144"}})");
    queue = std::make_unique<SqsQueue>(server.client(aws::kSqs),
                                       SqsQueueOptions{.queue = server.url("/000000000000/fuzz")});
    server.answer(200, R"({"Table":{"TableName":"fuzz","TableStatus":"ACTIVE",)"
                       R"("AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],)"
                       R"("KeySchema":[{"AttributeName":"id","KeyType":"HASH"}]}})");
    table = std::make_unique<DynamoDbTable>(
        server.client(aws::kDynamoDb),
        DynamoDbTableOptions{.name = "fuzz", .key_schema = KeySchema{"id", std::nullopt}});
    comprehend = std::make_unique<sentiment::ComprehendAnalyzer>(server.client(aws::kComprehend),
                                                                 sentiment::ComprehendAnalyzer::Options{});
  }

  fuzz::AnswerServer server;
  std::unique_ptr<SqsQueue> queue;
  std::unique_ptr<DynamoDbTable> table;
  std::unique_ptr<sentiment::ComprehendAnalyzer> comprehend;
};

const std::array<std::string_view, 3> kDocuments{"a good day", "a bad day", "a day"};

// The calls, each reading one answer.
const std::array<std::function<void(Backends&)>, 13> kCalls{{
    [](Backends& b) { (void)b.queue->receive({.max_messages = 10}); },
    [](Backends& b) {
      const std::array<SendEntry, 2> entries{SendEntry{.id = "m1", .body = "one"},
                                             SendEntry{.id = "m2", .body = "two"}};
      (void)b.queue->send(entries);
    },
    [](Backends& b) { (void)b.queue->counts(); },
    [](Backends& b) {
      const std::array<DeleteEntry, 2> entries{DeleteEntry{.id = "d1", .receipt_handle = "r1"},
                                               DeleteEntry{.id = "d2", .receipt_handle = "r2"}};
      (void)b.queue->delete_messages(entries);
    },
    [](Backends& b) {
      const std::array<VisibilityChange, 2> entries{VisibilityChange{.id = "v1", .receipt_handle = "r1"},
                                                    VisibilityChange{.id = "v2", .receipt_handle = "r2"}};
      (void)b.queue->change_visibility(entries);
    },
    [](Backends& b) { (void)b.queue->redrive_dead_letters(10); },
    [](Backends& b) { (void)b.table->scan({.limit = 100, .start_token = ""}); },
    [](Backends& b) {
      (void)b.table->get(ItemKey{"k1", std::nullopt});
    },
    [](Backends& b) {
      const std::array<std::string, 2> items{R"({"id":"k1","text":"one"})", R"({"id":"k2","text":"two"})"};
      (void)b.table->put_batch(items);
    },
    [](Backends& b) { (void)b.table->count(); },
    [](Backends& b) {
      std::array<sentiment::Result, kDocuments.size()> results;
      b.comprehend->analyze(kDocuments, results);
    },
    [](Backends& b) {  // a fresh table reads DescribeTable's answer
      // No wait for a table that is not ACTIVE yet: that answer is an Error at once.
      DynamoDbTable fresh(b.server.client(aws::kDynamoDb),
                          DynamoDbTableOptions{.name = "fuzz", .create_timeout = std::chrono::seconds(0)});
    },
    [](Backends& b) {  // the container credentials endpoint (ECS, Lambda SnapStart, EKS Pod Identity)
      const auto env = aws::fixed_environment({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", b.server.url("/credentials")}});
      (void)aws::container_credentials(env, std::chrono::milliseconds(5'000));
    },
}};
constexpr std::array<int, 4> kStatuses{200, 200, 400, 500};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Backends& backends = fuzz::fixture<Backends>();
  if (size == 0) return 0;
  const auto& call = kCalls[data[0] % kCalls.size()];
  backends.server.answer(kStatuses[(data[0] / kCalls.size()) % kStatuses.size()], fuzz::as_text(data + 1, size - 1));
  fuzz::answered([&] { call(backends); });
  return 0;
}
