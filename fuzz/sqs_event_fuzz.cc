// Lambda's SQS event (pipeline/consumer.h, parse_sqs_event), as the Lambda consumer reads it,
// through the consumer. The event is read or refused with Error alone; an event that reads is
// handled without throwing (the sink works), its failures are its own records' ids, each at most
// once, the answer is the JSON of ReportBatchItemFailures, and the event's JSON form reads back
// to the same records.
#include <nlohmann/json.hpp>
#include <set>

#include "fuzz/consumer_fixture.h"
#include "fuzz/fuzz_target.h"

using namespace sentiflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ConsumerFixture& fixture = fuzz::fixture<fuzz::ConsumerFixture>();
  pipeline::SqsEvent event;
  if (!fuzz::answered([&] { event = pipeline::parse_sqs_event(fuzz::as_text(data, size)); })) return 0;

  std::set<std::string> ids;
  for (const auto& record : event.records) ids.insert(record.message_id);
  const pipeline::BatchOutcome outcome = fixture.consumer().handle(event);
  std::set<std::string> failed;
  for (const auto& id : outcome.failures) {
    fuzz::require(ids.contains(id), "a failure names a record of the event");
    fuzz::require(failed.insert(id).second || ids.size() < event.records.size(), "a record fails at most once");
  }
  const auto answer = nlohmann::json::parse(pipeline::batch_response_json(outcome), nullptr, false);
  fuzz::require(answer.is_object() && answer.contains("batchItemFailures"), "the answer is ReportBatchItemFailures");

  const pipeline::SqsEvent again = pipeline::parse_sqs_event(pipeline::to_json(event));
  fuzz::require(again.records.size() == event.records.size(), "the event's JSON reads back to as many records");
  for (size_t i = 0; i < event.records.size(); ++i)
    fuzz::require(
        again.records[i].body == event.records[i].body && again.records[i].message_id == event.records[i].message_id,
        "the event's JSON reads back to the same bodies and ids");
  fixture.clear();
  return 0;
}
